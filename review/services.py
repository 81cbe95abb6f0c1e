"""Review writes: approve / reject / correct decisions, the review queue's leases, and skipped-item housekeeping.

Every decision names the task version it was made on; a task that changed meanwhile is refused
as a conflict (`VersionConflict`: 409 in the API, a message on the page) and nothing is written. A request is atomic as a whole, and replaying
it (same reviewer, same decision, same version) succeeds without changing anything again.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q
from django.db.models.functions import Now
from django.utils import timezone

from core.errors import Conflict, NotFound, Refused
from labeling import stats
from labeling.models import Annotation, Task
from projects.models import LabelClass
from review.models import Review, ReviewLease

LABELED, UNLABELED = Task.State.LABELED, Task.State.UNLABELED
APPROVED, SKIPPED = Task.State.APPROVED, Task.State.SKIPPED

_DECISIONS = {
    "approve": Review.Decision.APPROVED,
    "approved": Review.Decision.APPROVED,
    "reject": Review.Decision.REJECTED,
    "rejected": Review.Decision.REJECTED,
    "correct": Review.Decision.CORRECTED,
    "corrected": Review.Decision.CORRECTED,
}


# Review leases expire by the database's clock, like labelers' leases (see labeling.services.LIVE).
LIVE = Q(expires__gt=Now())


def _expiry():
    lease = timedelta(seconds=settings.LABELSITE_REVIEW_LEASE_SECONDS)
    return ExpressionWrapper(Now() + lease, output_field=DateTimeField())


class VersionConflict(Conflict):
    """Some task changed since the caller saw it (relabelled, reviewed by someone else, leased)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(
            f"Nothing was changed: {shown}. Reload the page and decide again.", data={"problems": problems}
        )


class SelfReviewRefused(Refused):
    """Reviewers do not decide on their own labels unless the project allows it."""


@dataclass
class DecisionResult:
    decision: str
    decided: list = field(default_factory=list)  # tasks changed by this request (new state/version set)
    unchanged: list = field(default_factory=list)  # tasks this reviewer had already decided the same way


def _item_key(key):
    """A decision names a task by its item's UUID (public) or by task id (internal callers)."""
    if isinstance(key, int):
        return key
    try:
        return uuid.UUID(str(key))
    except ValueError:
        raise NotFound("No such item in this project.") from None


def _lock_tasks(project, decisions) -> list[tuple[Task | None, int, object]]:
    """[(task or None, expected version, key)] with the task rows locked until the transaction ends."""
    expected = {_item_key(key): int(version) for key, version in decisions}
    uuids = [k for k in expected if isinstance(k, uuid.UUID)]
    ids = [k for k in expected if isinstance(k, int)]
    tasks = (
        Task.objects.filter(project=project)
        .filter(Q(item__uuid__in=uuids) | Q(pk__in=ids))
        .select_related("item", "labeled_by")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    by_key: dict[object, Task] = {}
    for task in tasks:
        by_key[task.item.uuid] = by_key[task.pk] = task
    return [(by_key.get(key), version, key) for key, version in expected.items()]


def _labels_of(annotation_ids) -> dict[int, list[int]]:
    through = Annotation.labels.through.objects.filter(annotation_id__in=list(annotation_ids))
    labels = defaultdict(list)
    for annotation_id, class_id in through.values_list("annotation_id", "labelclass_id"):
        labels[annotation_id].append(class_id)
    return labels


def _corrected_classes(project, corrected_labels) -> list[LabelClass]:
    """The classes of a correction (LabelClasses from the resolver, or ids): the project's active ones only, since a
    correction sets new tags."""
    wanted = {getattr(label, "pk", label) for label in corrected_labels or []}
    classes = [c for c in LabelClass.objects.filter(project=project).active() if c.pk in wanted]
    if not classes or len(classes) != len(wanted):
        raise ValidationError({"labels": "Choose at least one of this project's classes."})
    if project.task_type == project.TaskType.MULTI_CLASS and len(classes) != 1:
        raise ValidationError({"labels": "This project takes exactly one class per image."})
    return classes


@transaction.atomic
def review_decide(
    *, project, reviewer, decisions, decision: str, reason: str = "", corrected_labels=None
) -> DecisionResult:
    """Approve, reject or correct-and-approve the tasks in `decisions` [(item uuid or task id, version)]."""
    chosen = _DECISIONS.get(str(decision).lower())
    if chosen is None:
        raise ValidationError({"decision": "Choose approve, reject or correct."})
    decision = chosen
    reason = (reason or "").strip()
    if decision == Review.Decision.REJECTED and project.require_reject_reason and not reason:
        raise ValidationError({"reason": "This project asks for a reason when you reject."})
    classes = _corrected_classes(project, corrected_labels) if decision == Review.Decision.CORRECTED else []
    if not decisions:
        raise ValidationError({"items": "Select at least one image."})

    locked = _lock_tasks(project, decisions)
    rows = [(task, version, key) for task, version, key in locked if task is not None]
    if len(rows) != len(locked):
        raise NotFound("Some of these items are not in this project.")
    tasks = [task for task, _, _ in rows]
    leased = dict(
        ReviewLease.objects.filter(LIVE, task__in=tasks)
        .exclude(reviewer=reviewer)
        .values_list("task_id", "reviewer__username")
    )
    done_before = set(
        Review.objects.filter(task__in=tasks, reviewer=reviewer, decision=decision).values_list(
            "task_id", "task_version"
        )
    )
    result, problems, todo = DecisionResult(decision=decision), [], []
    for task, version, _ in rows:
        if (task.pk, version) in done_before:
            result.unchanged.append(task)
        elif task.labeled_by_id == reviewer.pk and not project.allow_self_review:
            raise SelfReviewRefused(f"You labeled {task.item.key} yourself; someone else must review it.")
        elif task.version != version:
            problems.append(f"{task.item.key} changed meanwhile (it is now version {task.version}, you saw {version})")
        elif task.state != LABELED:
            problems.append(f"{task.item.key} is no longer awaiting review (it is {task.get_state_display().lower()})")
        elif task.pk in leased:
            problems.append(f"{task.item.key} is being reviewed by {leased[task.pk]}")
        else:
            todo.append((task, version))
    if problems:
        raise VersionConflict(problems)
    if todo:
        _apply(project=project, reviewer=reviewer, todo=todo, decision=decision, reason=reason, classes=classes)
        result.decided = [task for task, _ in todo]
    return result


def _apply(*, project, reviewer, todo, decision, reason, classes) -> None:
    task_ids = [task.pk for task, _ in todo]
    current = {a.task_id: a for a in Annotation.objects.filter(task_id__in=task_ids, is_current=True).order_by("pk")}
    old_labels = _labels_of(a.pk for a in current.values())
    class_delta: Counter = Counter()
    for annotation in current.values():
        for class_id in old_labels[annotation.pk]:
            class_delta[class_id] -= 1
    target = UNLABELED if decision == Review.Decision.REJECTED else APPROVED

    if decision == Review.Decision.APPROVED:
        class_delta.clear()  # tags stay as they are
    else:
        # Earlier annotations become history: rejecting or correcting never deletes them.
        Annotation.objects.filter(task_id__in=task_ids, is_current=True).update(is_current=False)
    if decision == Review.Decision.CORRECTED:
        new = Annotation.objects.bulk_create(
            [
                Annotation(task_id=pk, source=Annotation.Source.REVIEWER, is_current=True, created_by=reviewer)
                for pk in task_ids
            ]
        )
        Annotation.labels.through.objects.bulk_create(
            [Annotation.labels.through(annotation_id=a.pk, labelclass_id=c.pk) for a in new for c in classes]
        )
        for c in classes:
            class_delta[c.pk] += len(new)

    changes = {"state": target, "version": F("version") + 1}
    if target == UNLABELED:
        changes.update(leased_to=None, lease_expires=None, labeled_by=None, labeled_at=None, rejected_before=True)
    Task.objects.filter(pk__in=task_ids).update(**changes)
    Review.objects.bulk_create(
        [
            Review(
                task=task,
                annotation=current.get(task.pk),
                decision=decision,
                reason=reason,
                task_version=version,
                reviewer=reviewer,
            )
            for task, version in todo
        ]
    )
    ReviewLease.objects.filter(task_id__in=task_ids).delete()

    tally = stats.Tally(project.pk).tasks_moved(Counter({(LABELED, target): len(todo)})).labels_changed(class_delta)
    per_labeler: Counter = Counter(task.labeled_by_id for task, _ in todo)
    for user_id, n in per_labeler.items():
        # A correction means the labeler's tags were not accepted: it counts as a rejection.
        if decision == Review.Decision.APPROVED:
            tally.labeler_counted(user_id, approved=n)
        else:
            tally.labeler_counted(user_id, rejected=n)
    tally.save()
    for task, _ in todo:
        task.version += 1
        task.state = target
        if target == UNLABELED:
            task.labeled_by = task.labeled_at = None
            task.rejected_before = True


# --- The review queue -------------------------------------------------------------------------


def _claimable(project, reviewer):
    free = Q(review_lease__isnull=True) | Q(review_lease__expires__lte=Now())
    tasks = Task.objects.filter(project=project, state=LABELED).filter(free)
    if not project.allow_self_review:
        tasks = tasks.exclude(labeled_by=reviewer)
    return tasks


def review_queue_claim(*, project, reviewer, size: int) -> list[int]:
    """Lease up to `size` labeled, unreviewed tasks (not the reviewer's own) to `reviewer`; ids of the page.

    One short transaction: tasks already leased to this reviewer are kept and their lease renewed;
    the rest is topped up from the pool, skipping rows another claimer has locked (PostgreSQL) —
    SQLite's IMMEDIATE transactions serialize claimers instead.
    """
    with transaction.atomic():
        mine = ReviewLease.objects.filter(LIVE, reviewer=reviewer, task__project=project, task__state=LABELED)
        held = list(mine.values_list("task_id", flat=True)[:size])
        want, ids = size - len(held), []
        if want > 0:
            candidates = (
                _claimable(project, reviewer)
                .order_by("order_key", "pk")
                .select_for_update(skip_locked=True, of=("self",))
            )
            ids = list(candidates.values_list("pk", flat=True)[:want])
            # Conditional writes: only an expired lease row is taken over; a new one is inserted.
            ReviewLease.objects.filter(task_id__in=ids, expires__lte=Now()).update(reviewer=reviewer, expires=_expiry())
            existing = set(ReviewLease.objects.filter(task_id__in=ids).values_list("task_id", flat=True))
            # Inserted with this machine's time, set to the database's by the renewal just below.
            provisional = timezone.now() + timedelta(seconds=settings.LABELSITE_REVIEW_LEASE_SECONDS)
            ReviewLease.objects.bulk_create(
                [ReviewLease(task_id=pk, reviewer=reviewer, expires=provisional) for pk in ids if pk not in existing],
                ignore_conflicts=True,
            )
        ReviewLease.objects.filter(reviewer=reviewer, task_id__in=held + ids).update(expires=_expiry())
        return list(
            ReviewLease.objects.filter(LIVE, reviewer=reviewer, task__project=project, task__state=LABELED)
            .order_by("task__order_key", "task_id")
            .values_list("task_id", flat=True)[:size]
        )


def review_queue_release(*, project, reviewer) -> int:
    """Give back every task of the project this reviewer holds in the review queue."""
    deleted, _ = ReviewLease.objects.filter(reviewer=reviewer, task__project=project).delete()
    return deleted


# --- Skipped items (managers) -------------------------------------------------------------------


def _skipped_rows(project, items, *, retry_ok):
    rows = _lock_tasks(project, items)
    todo, problems = [], []
    for task, version, _ in rows:
        if task is None or retry_ok(task, version):
            continue  # already handled by an earlier try of the same request
        if task.version != version or task.state != SKIPPED:
            problems.append(f"{task.item.key} changed meanwhile (it is {task.get_state_display().lower()})")
        else:
            todo.append(task)
    if problems:
        raise VersionConflict(problems)
    return todo


def _skips_withdrawn(project, todo, target) -> None:
    """Count the skipped tasks leaving state Skipped (for `target`, None: deleted). A labeler's `skipped` counts the
    tasks they set aside that are still skipped, so each one taken back also leaves its labeler's count."""
    tally = stats.Tally(project.pk).tasks_moved(Counter({(SKIPPED, target): len(todo)}))
    for user_id, n in Counter(t.labeled_by_id for t in todo).items():
        tally.labeler_counted(user_id, skipped=-n)
    tally.save()


@transaction.atomic
def skipped_requeue(*, project, actor, items) -> int:
    """Put skipped tasks [(item uuid, version)] back in the labeling queue."""
    todo = _skipped_rows(project, items, retry_ok=lambda t, v: t.state == UNLABELED and t.version == v + 1)
    Task.objects.filter(pk__in=[t.pk for t in todo]).update(
        state=UNLABELED,
        version=F("version") + 1,
        leased_to=None,
        lease_expires=None,
        labeled_by=None,
        labeled_at=None,
    )
    if todo:
        _skips_withdrawn(project, todo, UNLABELED)
    return len(todo)


@transaction.atomic
def skipped_remove(*, project, actor, items) -> int:
    """Remove skipped tasks [(item uuid, version)] from the project (the dataset's items stay)."""
    todo = _skipped_rows(project, items, retry_ok=lambda t, v: False)
    Task.objects.filter(pk__in=[t.pk for t in todo]).delete()
    if todo:
        _skips_withdrawn(project, todo, None)
    return len(todo)
