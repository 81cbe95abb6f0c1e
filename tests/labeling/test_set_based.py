"""Removing a class with requeue and withdrawing missing items are set-based: the statements sent to the
database are the same for 10 tasks as for 500 (no list of ids that grows with the project)."""

import functools
import re
from collections import Counter

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling import services, stats
from labeling.models import Annotation, ClassCount, PreLabel, Task
from projects.models import DataItem, LabelClass
from tests.factories import ProjectFactory, tasks_label, tasks_review

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("counters_checked")]


def statements(run) -> tuple[object, list[str]]:
    """The SQL `run` sends, numbers blanked: equal lists mean equal statements whatever the ids."""
    with CaptureQueriesContext(connection) as queries:
        result = run()
    return result, [re.sub(r"\d+", "N", q["sql"]) for q in queries.captured_queries]


def tagged_project(workspace, labeler, n, name):
    """`n` tasks tagged cat (+ dog on every other one) by `labeler`, awaiting review; counters exact."""
    project = ProjectFactory.create(workspace=workspace, name=name, task_type="multilabel", dataset__items=n + 2)
    cat, dog = LabelClass.objects.filter(project=project, name__in=["cat", "dog"]).order_by("position")
    tasks = list(Task.objects.filter(project=project).order_by("pk"))[:n]
    tasks_label(
        project, tasks, user=labeler, labels={t: [cat, dog] if i % 2 == 0 else [cat] for i, t in enumerate(tasks)}
    )
    return project, cat, dog


def counters(project):
    return stats.state_counts(project), dict(
        ClassCount.objects.filter(project=project).values_list("label_class_id", "count")
    )


@pytest.mark.parametrize("n", [10, 500])
def test_requeue_on_class_removal_moves_every_tagged_task_and_its_counts(workspace, labeler, manager, n):
    project, cat, dog = tagged_project(workspace, labeler, n, name=f"Big {n}")
    requeued = services.label_class_remove(project=project, label_class=cat, requeue=True, actor=manager)
    assert requeued == n
    assert Counter(Task.objects.filter(project=project).values_list("state", flat=True)) == {"unlabeled": n + 2}
    assert not Annotation.objects.filter(task__project=project, is_current=True).exists()
    assert Annotation.objects.filter(task__project=project, is_current=False).count() == n  # history kept
    assert Task.objects.filter(project=project, version=2, labeled_by=None, labeled_at=None).count() == n
    assert counters(project) == (
        {"unlabeled": n + 2, "labeled": 0, "approved": 0, "skipped": 0},
        {cat.pk: 0, dog.pk: 0},
    )


def test_requeue_on_class_removal_sends_the_same_statements_for_10_and_500_tasks(workspace, labeler, manager):
    shapes = []
    for n in (10, 500):
        project, cat, _ = tagged_project(workspace, labeler, n, name=f"Popular {n}")
        actor = type(manager).objects.get(pk=manager.pk)  # a fresh permission cache each time
        requeued, sent = statements(
            functools.partial(services.label_class_remove, project=project, label_class=cat, requeue=True, actor=actor)
        )
        assert requeued == n
        shapes.append(sent)
    assert shapes[0] == shapes[1]


def missing_project(workspace, labeler, n, name):
    """`n` unlabeled tasks whose files are gone: every other one with history (labeled, then rejected),
    the others with imported pre-labels; plus one labeled missing task and one task still present."""
    project = ProjectFactory.create(workspace=workspace, name=name, dataset__items=n + 2)
    cat = LabelClass.objects.get(project=project, name="cat")
    tasks = list(Task.objects.filter(project=project).order_by("pk"))
    gone, labeled = tasks[:n], tasks[n]
    history = tasks_review(project, tasks_label(project, gone[::2], user=labeler), decision="reject")
    prelabels = PreLabel.objects.bulk_create([PreLabel(task=t) for t in gone[1::2]])
    PreLabel.labels.through.objects.bulk_create(
        [PreLabel.labels.through(prelabel=p, labelclass=cat) for p in prelabels]
    )
    tasks_label(project, [labeled], user=labeler)
    Task.objects.filter(pk__in=[t.pk for t in gone[:4]]).update(leased_to=labeler, lease_expires=timezone.now())
    DataItem.objects.filter(pk__in=[t.item_id for t in tasks[: n + 1]]).update(state=DataItem.State.MISSING)
    return project, len(history)


@pytest.mark.parametrize("n", [10, 500])
def test_withdrawing_missing_items_skips_those_with_history_and_deletes_the_rest(workspace, labeler, n):
    project, with_history = missing_project(workspace, labeler, n, name=f"Gone {n}")
    assert services.project_missing_items_withdraw(project=project) == n
    states = Counter(Task.objects.filter(project=project).values_list("state", flat=True))
    assert states == {"skipped": with_history, "labeled": 1, "unlabeled": 1}
    assert stats.state_counts(project) == {"skipped": with_history, "labeled": 1, "unlabeled": 1, "approved": 0}
    assert not Task.objects.filter(project=project, leased_to__isnull=False).exists()
    assert not PreLabel.objects.exists() and not PreLabel.labels.through.objects.exists()  # went with their tasks
    assert Annotation.objects.filter(task__project=project).count() == with_history + 1
    assert services.project_missing_items_withdraw(project=project) == 0  # a second run changes nothing


def test_items_refused_for_their_key_leave_the_queue_like_missing_ones(workspace, labeler):
    """Items registered before keys were vetted, then refused by the migration, must not stay on labelers' pages."""
    project, with_history = missing_project(workspace, labeler, 10, name="Refused")
    DataItem.objects.filter(state=DataItem.State.MISSING).update(state=DataItem.State.REFUSED)
    assert services.project_missing_items_withdraw(project=project) == 10
    states = Counter(Task.objects.filter(project=project).values_list("state", flat=True))
    assert states == {"skipped": with_history, "labeled": 1, "unlabeled": 1}
    assert stats.state_counts(project) == {"skipped": with_history, "labeled": 1, "unlabeled": 1, "approved": 0}


def test_withdrawing_missing_items_sends_the_same_statements_for_10_and_500_tasks(workspace, labeler):
    shapes = []
    for n in (10, 500):
        project, _ = missing_project(workspace, labeler, n, name=f"Vanished {n}")
        withdrawn, sent = statements(functools.partial(services.project_missing_items_withdraw, project=project))
        assert withdrawn == n
        shapes.append(sent)
    assert shapes[0] == shapes[1]
