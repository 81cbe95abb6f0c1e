"""Claiming pages of tasks under a lease: exclusive, stable, expiring, and flat in cost."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from labeling import services
from labeling.models import Task
from tests.factories import ProjectFactory, class_ids, project_items_add

pytestmark = pytest.mark.django_db


def test_claim_leases_a_page_to_the_labeler(project, labeler):
    page = services.tasks_claim(project=project, user=labeler, size=9)
    assert len(page) == 9
    rows = Task.objects.filter(id__in=[t.id for t in page])
    assert all(t.leased_to_id == labeler.id and t.lease_expires > timezone.now() for t in rows)
    assert [t.order_key for t in page] == sorted(t.order_key for t in page)


def test_claim_again_returns_the_same_page(project, labeler):
    first = services.tasks_claim(project=project, user=labeler, size=9)
    again = services.tasks_claim(project=project, user=labeler, size=9)
    assert [t.id for t in again] == [t.id for t in first]


def test_two_labelers_never_hold_the_same_task(project, labeler, manager):
    mine = {t.id for t in services.tasks_claim(project=project, user=labeler, size=9)}
    theirs = {t.id for t in services.tasks_claim(project=project, user=manager, size=9)}
    assert len(theirs) == 3  # only 12 tasks exist
    assert not mine & theirs


def test_claim_tops_up_a_partly_done_page(project, labeler, manager):
    page = services.tasks_claim(project=project, user=labeler, size=4)
    services.task_skip(project=project, user=labeler, task=page[0])
    topped = services.tasks_claim(project=project, user=labeler, size=4)
    assert len(topped) == 4
    assert {t.id for t in page[1:]} < {t.id for t in topped}


@override_settings(LABELSITE_LEASE_MINUTES=30)
def test_expired_lease_returns_the_task_to_the_pool(project, labeler, manager):
    page = services.tasks_claim(project=project, user=labeler, size=12)
    Task.objects.filter(id=page[0].id).update(lease_expires=timezone.now() - timedelta(seconds=1))
    theirs = services.tasks_claim(project=project, user=manager, size=9)
    assert [t.id for t in theirs] == [page[0].id]
    assert services.tasks_claim(project=project, user=labeler, size=12) == page[1:]


def test_lease_length_comes_from_the_setting(project, labeler):
    with override_settings(LABELSITE_LEASE_MINUTES=5):
        page = services.tasks_claim(project=project, user=labeler, size=1)
    expires = Task.objects.get(id=page[0].id).lease_expires
    assert timedelta(minutes=4) < expires - timezone.now() <= timedelta(minutes=5)


def test_oldest_first_order(workspace, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=10, task_order="oldest")
    page = services.tasks_claim(project=project, user=labeler, size=4)
    assert [t.id for t in page] == sorted(Task.objects.filter(project=project).values_list("id", flat=True))[:4]


def test_random_order_is_stable_and_not_insertion_order(workspace, labeler, manager):
    project = ProjectFactory.create(workspace=workspace, dataset__items=40)
    page = services.tasks_claim(project=project, user=labeler, size=20)
    expected = list(Task.objects.filter(project=project).order_by("order_key", "id").values_list("id", flat=True))[:20]
    assert [t.id for t in page] == expected
    assert [t.id for t in page] != sorted(t.id for t in page)


@pytest.mark.parametrize(
    "state, says", [("paused", "is paused"), ("archived", "is archived"), ("initializing", "being prepared")]
)
def test_closed_project_refuses_to_hand_out_tasks(workspace, labeler, state, says):
    project = ProjectFactory.create(workspace=workspace, dataset__items=3, state=state)
    with pytest.raises(services.ProjectNotOpen, match=says):
        services.tasks_claim(project=project, user=labeler, size=9)
    assert not Task.objects.filter(project=project, leased_to__isnull=False).exists()


def test_layout_change_remembers_size_and_releases_the_page(project, labeler):
    services.tasks_claim(project=project, user=labeler, size=9)
    services.grid_layout_set(project=project, user=labeler, page_size=4)
    assert not Task.objects.filter(leased_to=labeler).exists()
    from labeling.selectors import page_size_get

    assert page_size_get(labeler) == 4


@pytest.mark.parametrize("size", [1, 9, 20])
def test_claim_costs_the_same_number_of_queries_whatever_the_page_or_project_size(
    workspace, labeler, size, django_assert_max_num_queries
):
    project = ProjectFactory.create(workspace=workspace, dataset__items=30)
    with django_assert_max_num_queries(7):  # 4 + pre-label lookup + savepoint pair inside the test transaction
        assert len(services.tasks_claim(project=project, user=labeler, size=size)) == size
    project_items_add(project, 300)
    services.tasks_release(project=project, user=labeler)
    with django_assert_max_num_queries(7):  # 4 + pre-label lookup + savepoint pair inside the test transaction
        assert len(services.tasks_claim(project=project, user=labeler, size=size)) == size


def test_expired_holds_are_released_and_reported(project, labeler, manager):
    page = services.tasks_claim(project=project, user=labeler, size=3)
    Task.objects.filter(id__in=[t.id for t in page]).update(lease_expires=timezone.now() - timedelta(seconds=1))
    services.tasks_claim(project=project, user=manager, size=1)  # someone takes one of them meanwhile
    again = services.tasks_claim(project=project, user=labeler, size=3)
    assert again.expired == 2  # the one the manager took is no longer ours to report
    assert len(again) == 3
    assert services.tasks_claim(project=project, user=labeler, size=3).expired == 0
    assert not {t.id for t in again} & set(Task.objects.filter(leased_to=manager).values_list("id", flat=True))


def test_imported_prelabels_arrive_as_suggestions_not_tags_and_go_away_on_submit(workspace, labeler):
    from labeling.models import PreLabel

    project = ProjectFactory.create(workspace=workspace, dataset__items=2)
    cat, dog, _ = class_ids(project)
    first, second = Task.objects.filter(project=project).order_by("order_key")
    PreLabel.objects.create(task=first).labels.set([dog])
    page = services.tasks_claim(project=project, user=labeler, size=2)
    held = {t.id: (t.draft, t.suggested) for t in Task.objects.filter(pk__in=[t.id for t in page])}
    assert held == {first.id: ([], [dog]), second.id: ([], [])}
    services.page_submit(project=project, user=labeler, labels={first.id: [dog], second.id: [cat]})
    assert not PreLabel.objects.filter(task=first).exists()
    assert not PreLabel.labels.through.objects.exists()  # its tags went with it
    assert Task.objects.get(pk=first.id).state == Task.State.LABELED
