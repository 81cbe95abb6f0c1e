"""Review reads: the labeled-data browser's filtered pages, an item's full history, the reviewer's queue page.

Each page costs a fixed number of queries whatever the project size: one for the tasks (with item
and labeler joined), one for their current tags, one for earlier rejections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labeling.models import Annotation, LabelerCount, Task
from review.models import Review, ReviewLease

LAYOUTS = (1, 4, 6, 9, 12, 20)
DEFAULT_LAYOUT = 12

# Review state filter: key -> (label, task states, only tasks rejected at least once)
STATE_FILTERS = {
    "": ("All labeled", (Task.State.LABELED, Task.State.APPROVED), False),
    "awaiting": ("Awaiting review", (Task.State.LABELED,), False),
    "approved": ("Approved", (Task.State.APPROVED,), False),
    "rejected": ("Rejected before", None, True),
    "skipped": ("Skipped", (Task.State.SKIPPED,), False),
}


@dataclass
class LabeledFilters:
    label_class: object = None  # LabelClass or None
    labeler: object = None      # User or None
    state: str = ""
    date_from: date | None = None
    date_to: date | None = None
    newest_first: bool = True


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def labeled_tasks(*, project, filters: LabeledFilters):
    """The project's tasks matching the browser's filters, in labeling-time order."""
    _, states, rejected_only = STATE_FILTERS.get(filters.state, STATE_FILTERS[""])
    tasks = Task.objects.filter(project=project)
    if states:
        tasks = tasks.filter(state__in=states) if len(states) > 1 else tasks.filter(state=states[0])
    if rejected_only:
        tasks = tasks.filter(Exists(Review.objects.filter(task=OuterRef("pk"), decision=Review.Decision.REJECTED)))
    if filters.label_class is not None:
        tagged = Annotation.labels.through.objects.filter(
            annotation__task=OuterRef("pk"), annotation__is_current=True, labelclass=filters.label_class
        )
        tasks = tasks.filter(Exists(tagged))
    if filters.labeler is not None:
        tasks = tasks.filter(labeled_by=filters.labeler)
    if filters.date_from:
        tasks = tasks.filter(labeled_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        tasks = tasks.filter(labeled_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    if not rejected_only and Task.State.SKIPPED not in states:
        # Labeled and approved tasks always carry labeled_at; saying so lets PostgreSQL walk the time
        # index without first stepping over every unlabeled task (NULLs sort at the index's end).
        tasks = tasks.filter(labeled_at__isnull=False)
    order = ("-labeled_at", "-pk") if filters.newest_first else ("labeled_at", "pk")
    return tasks.select_related("item", "labeled_by").order_by(*order)


def tasks_decorate(tasks: list, classes: list) -> list:
    """Attach `.tags` (current LabelClasses) and `.rejected_before` to each task: two queries for the page."""
    by_id = {c.pk: c for c in classes}
    ids = [t.pk for t in tasks]
    tags: dict[int, list] = {pk: [] for pk in ids}
    through = Annotation.labels.through.objects.filter(annotation__task_id__in=ids, annotation__is_current=True)
    for task_id, class_id in through.values_list("annotation__task_id", "labelclass_id"):
        if class_id in by_id:
            tags[task_id].append(by_id[class_id])
    rejected = set(
        Review.objects.filter(task_id__in=ids, decision=Review.Decision.REJECTED).values_list("task_id", flat=True)
    ) if ids else set()
    for task in tasks:
        task.tags = sorted(tags[task.pk], key=lambda c: (c.position, c.pk))
        task.rejected_before = task.pk in rejected
    return tasks


def labeled_page(*, project, filters: LabeledFilters, classes: list, page: int, size: int):
    """(tasks on the page, whether a next page exists); no COUNT over the project."""
    start = (page - 1) * size
    tasks = labeled_tasks(project=project, filters=filters)
    # Step over the OFFSET on task ids alone, then join items and labelers for this page only:
    # with the joins in the same query PostgreSQL joins and sorts every row before the offset.
    ids = list(tasks.values_list("pk", flat=True)[start:start + size + 1])
    rows = list(tasks.filter(pk__in=ids)) if ids else []
    return tasks_decorate(rows[:size], classes), len(rows) > size


def project_labelers(project) -> list:
    """Everyone who labeled in this project (from the maintained per-labeler counters)."""
    ids = LabelerCount.objects.filter(project=project).values("user_id")
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


def labeler_rates(project) -> list[dict]:
    """Per labeler: labeled, approved, rejected and the approval rate among reviewed labels."""
    rows = []
    for row in LabelerCount.objects.filter(project=project).select_related("user").order_by("user__username"):
        reviewed = row.approved + row.rejected
        rows.append({
            "user": row.user, "labeled": row.labeled, "approved": row.approved, "rejected": row.rejected,
            "approval_rate": (row.approved / reviewed) if reviewed else None,
            "rejection_rate": (row.rejected / reviewed) if reviewed else None,
        })
    return rows


def queue_held(*, project, reviewer, size: int) -> list[int]:
    """Ids of the tasks the review queue currently holds for this reviewer (still awaiting review)."""
    leases = ReviewLease.objects.filter(
        reviewer=reviewer, task__project=project, task__state=Task.State.LABELED, expires__gt=timezone.now()
    )
    return list(leases.order_by("task__order_key", "task_id").values_list("task_id", flat=True)[:size])


def queue_tasks(*, project, task_ids: list, classes: list) -> list:
    tasks = Task.objects.filter(project=project, pk__in=task_ids).select_related("item", "labeled_by")
    return tasks_decorate(list(tasks.order_by("order_key", "pk")), classes)


def item_history(task) -> list[dict]:
    """Every annotation and review decision on a task, oldest first (rejecting never deletes history)."""
    events = []
    annotations = Annotation.objects.filter(task=task).select_related("created_by").prefetch_related("labels")
    for a in annotations:
        events.append({"kind": "annotation", "at": a.created_at, "who": a.created_by, "annotation": a,
                       "labels": list(a.labels.all()), "source": a.get_source_display(), "current": a.is_current})
    for r in Review.objects.filter(task=task).select_related("reviewer"):
        events.append({"kind": "review", "at": r.created_at, "who": r.reviewer, "review": r,
                       "decision": r.get_decision_display(), "reason": r.reason, "version": r.task_version})
    events.sort(key=lambda e: (e["at"], 0 if e["kind"] == "annotation" else 1))
    return events


def active_lease(task):
    return ReviewLease.objects.filter(task=task, expires__gt=timezone.now()).select_related("reviewer").first()
