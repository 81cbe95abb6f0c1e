"""Draft tags, submit (idempotent, lease-checked), skip, and the counters they keep."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from labeling import services
from labeling.models import Annotation, ClassCount, LabelerCount, Task, TaskStateCount
from tests.factories import ProjectFactory, class_ids, project_items_add, tasks_review

# Every test here moves tasks through the services: the counters must still equal a recount afterwards.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("counters_checked")]


def _drafts(tasks):
    return {t.id: t.draft for t in Task.objects.filter(id__in=[t.id for t in tasks])}


def test_multiclass_new_tag_replaces_the_previous(project, labeler):
    cat, dog, _ = class_ids(project)
    page = services.tasks_claim(project=project, user=labeler, size=3)
    services.draft_set(project=project, user=labeler, task_ids=[t.id for t in page], label_ids=[cat])
    services.draft_set(project=project, user=labeler, task_ids=[page[0].id], label_ids=[dog])
    drafts = _drafts(page)
    assert drafts[page[0].id] == [dog]
    assert drafts[page[1].id] == drafts[page[2].id] == [cat]
    assert not Annotation.objects.exists()  # nothing is a label before Submit


def test_multilabel_tags_add_up_and_a_tag_all_have_is_removed(ml_project, labeler):
    sky, tree, _ = class_ids(ml_project)
    page = services.tasks_claim(project=ml_project, user=labeler, size=2)
    a, b = page[0].id, page[1].id
    services.draft_set(project=ml_project, user=labeler, task_ids=[a], label_ids=[sky])
    services.draft_set(project=ml_project, user=labeler, task_ids=[a, b], label_ids=[tree])
    assert _drafts(page) == {a: [sky, tree], b: [tree]}
    # Not all selected have sky yet: applying adds it to the one missing it.
    services.draft_set(project=ml_project, user=labeler, task_ids=[a, b], label_ids=[sky])
    assert _drafts(page) == {a: [sky, tree], b: [tree, sky]}
    # Now all selected have it: applying again removes it.
    services.draft_set(project=ml_project, user=labeler, task_ids=[a, b], label_ids=[sky])
    assert _drafts(page) == {a: [tree], b: [tree]}


def test_remove_a_chip(ml_project, labeler):
    sky, tree, _ = class_ids(ml_project)
    (task,) = services.tasks_claim(project=ml_project, user=labeler, size=1)
    services.draft_set(project=ml_project, user=labeler, task_ids=[task.id], label_ids=[sky])
    services.draft_set(project=ml_project, user=labeler, task_ids=[task.id], label_ids=[tree])
    services.draft_set(project=ml_project, user=labeler, task_ids=[task.id], label_ids=[sky], mode="remove")
    assert _drafts([task]) == {task.id: [tree]}


def test_tag_of_another_project_is_refused(project, ml_project, labeler):
    page = services.tasks_claim(project=project, user=labeler, size=1)
    with pytest.raises(ValidationError):
        services.draft_set(project=project, user=labeler, task_ids=[page[0].id], label_ids=[class_ids(ml_project)[0]])


def test_submit_saves_labels_moves_tasks_and_counts(project, labeler):
    cat, dog, _ = class_ids(project)
    page = services.tasks_claim(project=project, user=labeler, size=3)
    labels = {page[0].id: [cat], page[1].id: [dog], page[2].id: [cat]}
    assert services.page_submit(project=project, user=labeler, labels=labels) == 3
    for task in Task.objects.filter(id__in=labels):
        assert task.state == Task.State.LABELED and task.labeled_by == labeler and task.version == 1
        assert task.leased_to is None and task.draft == []
        (annotation,) = task.annotations.all()
        assert [c.id for c in annotation.labels.all()] == labels[task.id] and annotation.is_current
    counts = dict(TaskStateCount.objects.filter(project=project).values_list("state", "count"))
    assert counts == {"unlabeled": 9, "labeled": 3}
    assert dict(ClassCount.objects.filter(project=project).values_list("label_class_id", "count")) == {cat: 2, dog: 1}
    assert LabelerCount.objects.get(project=project, user=labeler).labeled == 3


def test_repeated_submit_changes_nothing_and_gives_the_same_next_page(project, labeler):
    cat = class_ids(project)[0]
    page = services.tasks_claim(project=project, user=labeler, size=3)
    labels = {t.id: [cat] for t in page}
    services.page_submit(project=project, user=labeler, labels=labels)
    next_page = services.tasks_claim(project=project, user=labeler, size=3)
    assert services.page_submit(project=project, user=labeler, labels=labels) == 0
    assert Annotation.objects.count() == 3
    assert ClassCount.objects.get(label_class_id=cat).count == 3
    assert services.tasks_claim(project=project, user=labeler, size=3) == next_page


def test_submit_refuses_a_page_whose_lease_ran_out_and_saves_nothing(project, labeler, manager):
    cat = class_ids(project)[0]
    page = services.tasks_claim(project=project, user=labeler, size=3)
    services.draft_set(project=project, user=labeler, task_ids=[page[1].id], label_ids=[cat])
    Task.objects.filter(id=page[0].id).update(lease_expires=timezone.now() - timedelta(minutes=1))
    with pytest.raises(services.LeaseLost) as refused:
        services.page_submit(project=project, user=labeler, labels={t.id: [cat] for t in page})
    assert refused.value.task_ids == [page[0].id]
    assert "ran out" in str(refused.value)
    assert not Annotation.objects.exists()
    assert Task.objects.filter(state=Task.State.LABELED).count() == 0
    assert _drafts(page[1:2]) == {page[1].id: [cat]}  # the tags on still-held images are kept


def test_submit_refuses_tasks_someone_else_now_holds(project, labeler, manager):
    cat = class_ids(project)[0]
    page = services.tasks_claim(project=project, user=labeler, size=12)
    Task.objects.filter(id=page[0].id).update(lease_expires=timezone.now() - timedelta(minutes=1))
    services.tasks_claim(project=project, user=manager, size=1)
    with pytest.raises(services.LeaseLost):
        services.page_submit(project=project, user=labeler, labels={page[0].id: [cat]})
    with pytest.raises(services.LeaseLost):
        services.draft_set(project=project, user=labeler, task_ids=[page[0].id], label_ids=[cat])


def test_submit_needs_a_tag_on_every_image(project, labeler):
    cat, dog, _ = class_ids(project)
    page = services.tasks_claim(project=project, user=labeler, size=2)
    with pytest.raises(ValidationError, match="needs a tag"):
        services.page_submit(project=project, user=labeler, labels={page[0].id: [cat], page[1].id: []})
    with pytest.raises(ValidationError, match="exactly one"):
        services.page_submit(project=project, user=labeler, labels={page[0].id: [cat, dog], page[1].id: [cat]})
    assert not Annotation.objects.exists()


def test_multilabel_submit_stores_every_tag(ml_project, labeler):
    sky, _tree, car = class_ids(ml_project)
    (task,) = services.tasks_claim(project=ml_project, user=labeler, size=1)
    services.page_submit(project=ml_project, user=labeler, labels={task.id: [sky, car]})
    assert sorted(Annotation.objects.get().labels.values_list("id", flat=True)) == [sky, car]


def test_relabel_after_reject_retires_old_tags(project, labeler):
    cat, dog, _ = class_ids(project)
    (task,) = services.tasks_claim(project=project, user=labeler, size=1)
    services.page_submit(project=project, user=labeler, labels={task.id: [cat]})
    tasks_review(project, [task], decision="reject")
    (again,) = services.tasks_claim(project=project, user=labeler, size=1)
    services.page_submit(project=project, user=labeler, labels={again.id: [dog]})
    assert Annotation.objects.filter(task=task, is_current=True).get().labels.get().id == dog
    assert dict(ClassCount.objects.values_list("label_class_id", "count")) == {cat: 0, dog: 1}


def test_skip_sets_the_task_aside_and_counts_it(project, labeler):
    page = services.tasks_claim(project=project, user=labeler, size=2)
    services.task_skip(project=project, user=labeler, task=page[0])
    skipped = Task.objects.get(id=page[0].id)
    assert skipped.state == Task.State.SKIPPED and skipped.leased_to is None
    assert TaskStateCount.objects.get(project=project, state="skipped").count == 1
    assert LabelerCount.objects.get(project=project, user=labeler).skipped == 1
    assert page[0].id not in {t.id for t in services.tasks_claim(project=project, user=labeler, size=12)}


def test_paused_project_refuses_tags_and_submit(project, labeler):
    cat = class_ids(project)[0]
    page = services.tasks_claim(project=project, user=labeler, size=1)
    project.state = "paused"
    project.save()
    with pytest.raises(services.ProjectNotOpen):
        services.draft_set(project=project, user=labeler, task_ids=[page[0].id], label_ids=[cat])
    with pytest.raises(services.ProjectNotOpen):
        services.page_submit(project=project, user=labeler, labels={page[0].id: [cat]})
    with pytest.raises(services.ProjectNotOpen):
        services.task_skip(project=project, user=labeler, task=page[0])


@pytest.mark.parametrize("size", [1, 9, 20])
def test_submit_and_draft_cost_a_constant_number_of_queries(workspace, labeler, size, django_assert_max_num_queries):
    project = ProjectFactory.create(workspace=workspace, dataset__items=20)
    project_items_add(project, 200)
    cat, dog, _ = class_ids(project)
    # Warm up: the first submit creates the counter rows; later ones only update them.
    warm = services.tasks_claim(project=project, user=labeler, size=2)
    services.page_submit(project=project, user=labeler, labels={warm[0].id: [cat], warm[1].id: [dog]})
    page = services.tasks_claim(project=project, user=labeler, size=size)
    with django_assert_max_num_queries(6):
        services.draft_set(project=project, user=labeler, task_ids=[t.id for t in page], label_ids=[dog])
    with django_assert_max_num_queries(16):
        services.page_submit(project=project, user=labeler, labels={t.id: [cat if t.id % 2 else dog] for t in page})
