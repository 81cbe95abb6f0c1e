"""Leases expire by the database's clock: web machines whose clocks disagree cannot take each other's leases early."""

from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.utils import timezone

from labeling import services
from labeling.models import Task
from review.models import ReviewLease
from review.services import review_queue_claim
from tests.factories import ProjectFactory, TaskFactory, class_ids

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)


@pytest.fixture
def web_clock(monkeypatch):
    """Set this web machine's clock off by `offset` from the real (database) time."""
    real = timezone.now

    def skew(offset):
        monkeypatch.setattr(timezone, "now", lambda: real() + offset)

    return skew


def test_a_machine_running_ahead_cannot_take_a_live_lease(project, labeler, manager, web_clock):
    mine = {t.id for t in services.tasks_claim(project=project, user=labeler, size=12)}  # leases last 30 minutes
    web_clock(HOUR)  # this machine thinks every lease ran out half an hour ago
    assert services.tasks_claim(project=project, user=manager, size=9) == []
    assert set(Task.objects.filter(leased_to=labeler).values_list("id", flat=True)) == mine


def test_a_machine_running_ahead_still_sees_the_labelers_own_page(project, labeler, web_clock):
    page = services.tasks_claim(project=project, user=labeler, size=4)
    web_clock(HOUR)
    again = services.tasks_claim(project=project, user=labeler, size=4)
    assert [t.id for t in again] == [t.id for t in page] and again.expired == 0
    assert {t.id for t in services.tasks_held(project=project, user=labeler)} == {t.id for t in page}


def test_a_machine_running_ahead_accepts_tags_and_submit_of_a_live_lease(project, labeler, web_clock):
    page = services.tasks_claim(project=project, user=labeler, size=2)
    cat = class_ids(project)[0]
    web_clock(HOUR)
    services.draft_set(project=project, user=labeler, task_ids=[page[0].id, page[1].id], label_ids=[cat])
    services.task_skip(project=project, user=labeler, task=page[1])
    assert services.page_submit(project=project, user=labeler, labels={page[0].id: [cat]}) == 1
    assert Task.objects.get(id=page[0].id).state == Task.State.LABELED
    assert Task.objects.get(id=page[1].id).state == Task.State.SKIPPED


def test_a_lease_expired_by_the_database_clock_is_taken_even_by_a_machine_running_behind(
    project, labeler, manager, web_clock
):
    page = services.tasks_claim(project=project, user=labeler, size=3)
    Task.objects.filter(id=page[0].id).update(lease_expires=Now() - timedelta(seconds=1))
    web_clock(-HOUR)  # this machine thinks the lease has an hour left
    theirs = services.tasks_claim(project=project, user=manager, size=9)
    assert page[0].id in {t.id for t in theirs}
    with pytest.raises(services.LeaseLost):
        services.page_submit(project=project, user=labeler, labels={page[0].id: [class_ids(project)[0]]})


def test_new_leases_run_from_the_database_clock(project, labeler, web_clock):
    web_clock(-HOUR)
    page = services.tasks_claim(project=project, user=labeler, size=1)
    web_clock(timedelta(0))
    left = Task.objects.get(id=page[0].id).lease_expires - timezone.now()
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)


def test_review_leases_follow_the_database_clock(workspace, labeler, reviewer, manager, web_clock):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    tasks = TaskFactory.create_batch(3, project=project, state=Task.State.LABELED, labeler=labeler)
    held = review_queue_claim(project=project, reviewer=reviewer, size=3)
    assert sorted(held) == sorted(t.id for t in tasks)
    web_clock(HOUR)  # review leases last 15 minutes: this machine thinks they ran out
    assert review_queue_claim(project=project, reviewer=manager, size=3) == []
    assert review_queue_claim(project=project, reviewer=reviewer, size=3) == held
    web_clock(-HOUR)
    ReviewLease.objects.filter(task_id=held[0]).update(expires=Now() - timedelta(seconds=1))
    assert review_queue_claim(project=project, reviewer=manager, size=3) == [held[0]]
    left = ReviewLease.objects.get(task_id=held[0]).expires - (timezone.now() + HOUR)
    assert timedelta(minutes=14) < left <= timedelta(minutes=15)
