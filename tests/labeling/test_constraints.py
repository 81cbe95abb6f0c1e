"""The database itself refuses task and annotation rows the services never write: a second current annotation,
a half lease, a lease outside the pool, a labeled task without a time. Deleting an account ends its leases."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from labeling import services
from labeling.models import Annotation, Task
from tests.factories import class_ids

pytestmark = pytest.mark.django_db


def refused(**changes) -> bool:
    task = Task.objects.filter(state=Task.State.UNLABELED, leased_to=None).first()
    try:
        with transaction.atomic():
            Task.objects.filter(pk=task.pk).update(**changes)
    except IntegrityError:
        return True
    return False


def test_a_task_has_at_most_one_current_annotation(project, labeler):
    task = Task.objects.filter(project=project).first()
    Annotation.objects.create(task=task, created_by=labeler)
    with pytest.raises(IntegrityError), transaction.atomic():
        Annotation.objects.create(task=task, created_by=labeler)
    Annotation.objects.create(task=task, created_by=labeler, is_current=False)  # history is unlimited
    assert Annotation.objects.filter(task=task).count() == 2


def test_a_lease_has_holder_and_expiry_or_neither(project, labeler):
    assert refused(leased_to=labeler)
    assert refused(lease_expires=timezone.now())
    assert not refused(leased_to=labeler, lease_expires=timezone.now())


def test_only_a_task_in_the_pool_is_leased(project, labeler):
    now = timezone.now()
    assert refused(state=Task.State.LABELED, labeled_by=labeler, labeled_at=now, leased_to=labeler, lease_expires=now)
    assert refused(state=Task.State.SKIPPED, leased_to=labeler, lease_expires=now)


def test_a_labeled_or_approved_task_and_a_labeler_come_with_a_time(project, labeler):
    now = timezone.now()
    assert refused(state=Task.State.LABELED, labeled_by=labeler)
    assert refused(state=Task.State.APPROVED)
    assert refused(labeled_by=labeler)
    assert not refused(state=Task.State.APPROVED, labeled_by=labeler, labeled_at=now)
    assert not refused(state=Task.State.SKIPPED)  # items gone from storage are skipped by nobody


def test_deleting_an_account_ends_its_leases_and_keeps_its_labels(project, labeler, manager):
    page = services.tasks_claim(project=project, user=labeler, size=4)
    services.page_submit(project=project, user=labeler, labels={page[0].id: [class_ids(project)[0]]})
    services.draft_set(project=project, user=labeler, task_ids=[page[1].id], label_ids=[class_ids(project)[1]])
    labeler.delete()
    freed = Task.objects.filter(pk__in=[t.pk for t in page[1:]])
    assert [(t.leased_to_id, t.lease_expires, t.draft) for t in freed] == [(None, None, [])] * 3
    labeled = Task.objects.get(pk=page[0].pk)
    assert labeled.state == Task.State.LABELED and labeled.labeled_by is None and labeled.labeled_at is not None
    assert {t.id for t in page[1:]} <= {t.id for t in services.tasks_claim(project=project, user=manager, size=12)}
