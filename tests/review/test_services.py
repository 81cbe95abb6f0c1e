"""Review decisions: approve, reject, correct; conflicts, retries, self-review, the queue and skipped items."""

import pytest
from django.core.exceptions import ValidationError

from labeling.models import Annotation, ClassCount, LabelerCount, Task
from labeling.stats import state_counts
from review.models import Review, ReviewLease
from review.services import (
    SelfReviewRefused,
    VersionConflict,
    review_decide,
    review_queue_claim,
    skipped_remove,
    skipped_requeue,
)
from tests.factories import TaskFactory, tasks_label, tasks_review

# Decisions keep the dashboard counters equal to a recount (checked after each test marked so).
counted = pytest.mark.usefixtures("counters_checked")


def pairs(tasks):
    return [(t.item.uuid, t.version) for t in tasks]


@counted
def test_approve_single_makes_label_final(project, labeled, reviewer, labeler):
    task = labeled[0]
    result = review_decide(project=project, reviewer=reviewer, decisions=pairs([task]), decision="approve")
    task.refresh_from_db()
    assert task.state == Task.State.APPROVED and task.version == 2
    assert [t.pk for t in result.decided] == [task.pk]
    review = Review.objects.get(task=task)
    assert review.decision == "approved" and review.task_version == 1 and review.reviewer == reviewer
    assert review.annotation == Annotation.objects.get(task=task, is_current=True)
    assert state_counts(project)["approved"] == 1 and state_counts(project)["labeled"] == 4
    assert LabelerCount.objects.get(project=project, user=labeler).approved == 1


@counted
def test_bulk_reject_returns_items_to_the_labeling_queue_and_keeps_history(
    project, labeled, reviewer, labeler, classes
):
    review_decide(project=project, reviewer=reviewer, decisions=pairs(labeled[:3]), decision="reject", reason="blurry")
    for task in Task.objects.filter(pk__in=[t.pk for t in labeled[:3]]):
        assert task.state == Task.State.UNLABELED and task.leased_to is None and task.labeled_by is None
        assert task.version == 2
        # The old tags are history, not deleted.
        old = Annotation.objects.get(task=task)
        assert old.is_current is False and list(old.labels.all()) == [classes[0]]
    assert Review.objects.filter(decision="rejected", reason="blurry").count() == 3
    assert state_counts(project) == {"unlabeled": 3, "labeled": 2, "approved": 0, "skipped": 0}
    assert ClassCount.objects.get(project=project, label_class=classes[0]).count == 2
    assert LabelerCount.objects.get(project=project, user=labeler).rejected == 3
    # A labeler's next claim finds them: unlabeled and unleased.
    claimable = Task.objects.filter(project=project, state=Task.State.UNLABELED, leased_to=None)
    assert {t.pk for t in claimable} == {t.pk for t in labeled[:3]}


@counted
def test_rejected_item_relabelled_comes_back_for_review_with_full_history(project, labeled, reviewer, labeler, classes):
    task = labeled[0]
    review_decide(project=project, reviewer=reviewer, decisions=pairs([task]), decision="reject", reason="it's a dog")
    task.refresh_from_db()
    (task,) = tasks_label(project, [task], user=labeler, labels=classes[1])
    assert task.state == Task.State.LABELED and task.version == 3
    review_decide(project=project, reviewer=reviewer, decisions=[(task.item.uuid, 3)], decision="approve")
    assert Annotation.objects.filter(task=task).count() == 2
    assert list(Review.objects.filter(task=task).order_by("pk").values_list("decision", flat=True)) == [
        "rejected",
        "approved",
    ]


@counted
def test_rejected_before_flag_is_set_by_a_reject_only_and_outlives_relabel_and_approval(
    project, labeled, reviewer, labeler, classes
):
    rejected, approved, corrected = labeled[0], labeled[1], labeled[2]
    review_decide(project=project, reviewer=reviewer, decisions=pairs([approved]), decision="approve")
    review_decide(
        project=project,
        reviewer=reviewer,
        decisions=pairs([corrected]),
        decision="correct",
        corrected_labels=[classes[1].pk],
    )
    review_decide(project=project, reviewer=reviewer, decisions=pairs([rejected]), decision="reject")
    flags = dict(Task.objects.filter(project=project).values_list("pk", "rejected_before"))
    assert {pk for pk, flag in flags.items() if flag} == {rejected.pk}
    (task,) = tasks_label(project, [rejected], user=labeler, labels=classes[1])
    review_decide(project=project, reviewer=reviewer, decisions=pairs([task]), decision="approve")
    task.refresh_from_db()
    assert task.state == Task.State.APPROVED and task.rejected_before  # the history stays visible
    # Exactly the tasks with a rejection among their reviews, as the filter promises.
    assert set(Task.objects.filter(rejected_before=True).values_list("pk", flat=True)) == set(
        Review.objects.filter(decision="rejected").values_list("task_id", flat=True)
    )


@counted
def test_correct_and_approve_records_reviewer_annotation(project, labeled, reviewer, classes):
    task = labeled[0]
    review_decide(
        project=project, reviewer=reviewer, decisions=pairs([task]), decision="correct", corrected_labels=[classes[2]]
    )
    task.refresh_from_db()
    assert task.state == Task.State.APPROVED
    current = Annotation.objects.get(task=task, is_current=True)
    assert (
        current.source == "reviewer" and current.created_by == reviewer and list(current.labels.all()) == [classes[2]]
    )
    assert Annotation.objects.filter(task=task, is_current=False).count() == 1
    assert Review.objects.get(task=task).decision == "corrected"
    assert ClassCount.objects.get(project=project, label_class=classes[2]).count == 1


@counted
def test_version_conflict_refuses_whole_request(project, labeled, reviewer, labeler, classes):
    stale = pairs(labeled[:2])
    tasks_review(project, labeled[1:2], decision="reject")  # another reviewer sends it back…
    tasks_label(project, labeled[1:2], user=labeler, labels=classes[1])  # …and it is labeled again
    reviews = Review.objects.count()
    with pytest.raises(VersionConflict) as error:
        review_decide(project=project, reviewer=reviewer, decisions=stale, decision="approve")
    # A domain conflict (the API answers it with 409): its code, a message naming the item, the problems as data.
    assert error.value.code == "conflict" and "changed meanwhile" in error.value.message
    assert len(error.value.data["problems"]) == 1 and labeled[1].item.key in error.value.data["problems"][0]
    assert Review.objects.count() == reviews
    assert Task.objects.get(pk=labeled[0].pk).state == Task.State.LABELED


def test_decided_by_someone_else_is_a_conflict(project, labeled, reviewer, reviewer2):
    review_decide(project=project, reviewer=reviewer2, decisions=pairs(labeled[:1]), decision="reject")
    with pytest.raises(VersionConflict):
        review_decide(project=project, reviewer=reviewer, decisions=pairs(labeled[:1]), decision="approve")


@counted
def test_retry_is_idempotent(project, labeled, reviewer, labeler):
    request = pairs(labeled[:3])
    first = review_decide(project=project, reviewer=reviewer, decisions=request, decision="reject")
    again = review_decide(project=project, reviewer=reviewer, decisions=request, decision="reject")
    assert len(first.decided) == 3 and again.decided == [] and len(again.unchanged) == 3
    assert Review.objects.count() == 3
    assert state_counts(project)["unlabeled"] == 3
    assert LabelerCount.objects.get(project=project, user=labeler).rejected == 3


def test_self_review_refused_unless_project_allows(project, manager, reviewer):
    mine = TaskFactory.create_batch(1, project=project, state=Task.State.LABELED, labeler=manager)
    with pytest.raises(SelfReviewRefused):
        review_decide(project=project, reviewer=manager, decisions=pairs(mine), decision="approve")
    project.allow_self_review = True
    review_decide(project=project, reviewer=manager, decisions=pairs(mine), decision="approve")
    assert Task.objects.get(pk=mine[0].pk).state == Task.State.APPROVED


def test_reason_required_when_project_says_so(project, labeled, reviewer):
    project.require_reject_reason = True
    with pytest.raises(ValidationError):
        review_decide(project=project, reviewer=reviewer, decisions=pairs(labeled[:1]), decision="reject", reason="  ")
    review_decide(project=project, reviewer=reviewer, decisions=pairs(labeled[:1]), decision="reject", reason="wrong")


def test_queue_never_gives_the_same_task_to_two_reviewers(project, labeled, reviewer, reviewer2):
    first = review_queue_claim(project=project, reviewer=reviewer, size=3)
    second = review_queue_claim(project=project, reviewer=reviewer2, size=3)
    assert len(first) == 3 and len(second) == 2 and not set(first) & set(second)
    # Claiming again keeps the same page (a reload does not grab more).
    assert review_queue_claim(project=project, reviewer=reviewer, size=3) == first
    # Another reviewer cannot decide a task leased to someone else.
    leased = Task.objects.get(pk=first[0])
    with pytest.raises(VersionConflict):
        review_decide(project=project, reviewer=reviewer2, decisions=pairs([leased]), decision="approve")


def test_queue_skips_own_labels_and_expired_leases_return(project, labeled, reviewer, manager):
    TaskFactory.create_batch(2, project=project, state=Task.State.LABELED, labeler=manager)
    got = review_queue_claim(project=project, reviewer=manager, size=20)
    assert set(got) == {t.pk for t in labeled}
    ReviewLease.objects.update(expires="2000-01-01T00:00:00Z")
    assert len(review_queue_claim(project=project, reviewer=reviewer, size=20)) == 7


@counted
def test_skipped_items_requeue_and_remove(project, labeler, manager):
    skipped = TaskFactory.create_batch(3, project=project, state=Task.State.SKIPPED, labeler=labeler)

    def skipped_by_labeler():
        return LabelerCount.objects.get(project=project, user=labeler).skipped

    assert skipped_by_labeler() == 3
    assert skipped_requeue(project=project, actor=manager, items=pairs(skipped[:1])) == 1
    assert skipped_by_labeler() == 2  # a task put back in the queue is no longer set aside by anyone
    assert skipped_requeue(project=project, actor=manager, items=pairs(skipped[:1])) == 0  # retry
    assert Task.objects.get(pk=skipped[0].pk).state == Task.State.UNLABELED
    assert skipped_remove(project=project, actor=manager, items=pairs(skipped[1:])) == 2
    assert skipped_remove(project=project, actor=manager, items=pairs(skipped[1:])) == 0
    assert not Task.objects.filter(pk__in=[t.pk for t in skipped[1:]]).exists()
    assert state_counts(project) == {"unlabeled": 1, "labeled": 0, "approved": 0, "skipped": 0}
    assert skipped_by_labeler() == 0
