"""Review reads: the labeled-data browser's filtered pages, an item's full history, the reviewer's queue page.

Each page costs a fixed number of queries whatever the project size: one for the tasks (with item
and labeler joined) and one for their current tags; earlier rejections are a flag on the task.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core import signing
from django.db import connection
from django.db.models import BooleanField, Count, F, Func, OuterRef, Q, Subquery
from django.db.models.functions import Now
from django.utils import timezone

from core.errors import NotFound
from labeling.models import Annotation, ClassCount, LabelerCount, Task
from review.models import Review, ReviewLease

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # the model get_user_model() gives (AUTH_USER_MODEL is Django's)

    from projects.models import LabelClass

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
    label_class: LabelClass | None = None
    labeler: User | None = None
    state: str = ""
    date_from: date | None = None
    date_to: date | None = None
    newest_first: bool = True


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class InvalidCursor(ValueError):
    """A page cursor that was not made by this site (garbled, forged, or signed with an old key)."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Cursor:
    """A position in the browser's order: one row's (labeled_at, pk). labeled_at may be None (never labeled)."""

    labeled_at: datetime | None
    pk: int

    @classmethod
    def of(cls, task) -> Cursor:
        return cls(task.labeled_at, task.pk)

    @property
    def token(self) -> str:
        """Opaque and signed, so a URL cannot point the page at a made-up position."""
        micros = None if self.labeled_at is None else (self.labeled_at - _EPOCH) // _MICROSECOND
        return _signer().sign_object([micros, self.pk])

    @classmethod
    def from_token(cls, token: str) -> Cursor:
        try:
            micros, pk = _signer().unsign_object(token)
            if type(pk) is not int or pk < 1 or not (micros is None or type(micros) is int):
                raise InvalidCursor(token)
            return cls(None if micros is None else _EPOCH + micros * _MICROSECOND, pk)
        except (signing.BadSignature, ValueError, TypeError, OverflowError) as error:
            raise InvalidCursor(token) from error


def _signer() -> signing.Signer:
    return signing.Signer(salt="review.labeled-cursor", sep=".")


def _filtered(project, filters: LabeledFilters):
    """(the project's tasks matching the filters, whether some of them may lack labeled_at)."""
    _, states, rejected_only = STATE_FILTERS.get(filters.state, STATE_FILTERS[""])
    tasks = Task.objects.filter(project=project)
    if states:
        tasks = tasks.filter(state__in=states) if len(states) > 1 else tasks.filter(state=states[0])
    if rejected_only:
        # The flag review_decide keeps, read through partial indexes that hold only rejected tasks: probing
        # reviews task by task walked the whole time index when few tasks were ever rejected.
        tasks = tasks.filter(rejected_before=True)
    if filters.label_class is not None:
        tasks = _tagged(project, tasks, filters.label_class)
    if filters.labeler is not None:
        tasks = tasks.filter(labeled_by=filters.labeler)
    if filters.date_from:
        tasks = tasks.filter(labeled_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        tasks = tasks.filter(labeled_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    # Labeled and approved tasks always carry labeled_at. "Rejected before" also finds tasks back in the
    # queue (their labeled_at was cleared) and "Skipped" those set aside when their image went missing
    # (never labeled); a date range leaves both out.
    nullable = (rejected_only or Task.State.SKIPPED in (states or ())) and not (filters.date_from or filters.date_to)
    return tasks, nullable


# About a page and its look-ahead: how many matching rows a walk must find.
_WALK_ROWS = 13
# What one step of a walk costs against reading one of a class's tags: the step runs a subquery (the task's
# current annotation, then its tags), the read two key lookups. Measured at a million tasks, interleaved on
# one machine: 0.045-0.094 ms a step against 0.010-0.026 ms a tag.
_STEP_COST = 4


class _InArray(Func):
    """`value = ANY(ARRAY(subquery))`: PostgreSQL runs the uncorrelated subquery once, before the query (an
    InitPlan), and looks the outer rows up by the values it returned, whatever its estimates say."""

    arg_joiner = " = ANY(ARRAY"
    template = "%(expressions)s)"
    output_field = BooleanField()


def _tagged(project, tasks, label_class):
    """`tasks` narrowed to those whose current tags include `label_class`, in a shape chosen by its count.

    A class on few tasks is best read from its tags (look each tagged task up and sort that handful); a
    common one by walking the time index and probing each task's tags until the page is full. A walk costs
    about 13 × tagged / count steps, each worth four tag reads, and reading the tags `count`, equal near the
    square root of 52 × tagged, so the maintained class counters choose; the planner, left to itself, mixed
    the two up (hundreds of milliseconds at a million tasks for a class on 0.3-1 % of them). Each shape is
    written so PostgreSQL cannot turn it into the other: a scalar subquery is never made a join, so it keeps
    walking; the tags are read into an array first, each tag's annotation found by its key. (Written as
    EXISTS, a class of a project with every task labeled could become a parallel walk of the time index:
    0.5 s at a million tasks for a class on 0.36 % of them.)
    A common class clustered in time, e.g. added late and sorted oldest first, still walks far: only the
    current classes kept on the task itself would make every class page flat.
    """
    counts = dict(ClassCount.objects.filter(project=project).values_list("label_class_id", "count"))
    count = counts.get(label_class.pk, 0)
    through = Annotation.labels.through.objects
    if count * count > _STEP_COST * _WALK_ROWS * sum(counts.values()):
        tagged = through.filter(annotation__task=OuterRef("pk"), annotation__is_current=True, labelclass=label_class)
        return tasks.alias(tag=Subquery(tagged.values("pk")[:1])).filter(tag__isnull=False)
    if connection.vendor != "postgresql":  # no arrays; SQLite reads the tags first anyway
        return tasks.filter(
            pk__in=through.filter(annotation__is_current=True, labelclass=label_class).values("annotation__task_id")
        )
    current_task = Annotation.objects.filter(pk=OuterRef("annotation_id"), is_current=True).values("task_id")
    task_ids = through.filter(labelclass=label_class).values(task=Subquery(current_task))
    return tasks.filter(_InArray(F("pk"), Subquery(task_ids)))


def _walk(tasks, *, nullable: bool, descending: bool, position: Cursor | None, limit: int) -> list:
    """Up to `limit` tasks strictly past `position`, walking (labeled_at, pk) down or up.

    A missing labeled_at sorts below every time, so the order is total. Timed and untimed tasks are
    fetched as two segments, each in a plain index order (a NULLS FIRST/LAST clause would keep
    PostgreSQL off the time indexes); the second is read only when the first runs short.
    """
    timed = tasks.filter(labeled_at__isnull=False)
    untimed = tasks.filter(labeled_at__isnull=True) if nullable else None
    if position is not None and position.labeled_at is None:
        if untimed is not None:
            untimed = untimed.filter(pk__lt=position.pk) if descending else untimed.filter(pk__gt=position.pk)
        if descending:
            timed = None  # every timed task sorts above an untimed position
    elif position is not None:
        at, pk = position.labeled_at, position.pk
        if descending:
            # The plain bound lets the index range start at the cursor; the OR settles ties on pk.
            timed = timed.filter(Q(labeled_at__lt=at) | Q(labeled_at=at, pk__lt=pk), labeled_at__lte=at)
        else:
            timed = timed.filter(Q(labeled_at__gt=at) | Q(labeled_at=at, pk__gt=pk), labeled_at__gte=at)
            untimed = None  # every untimed task sorts below a timed position
    segments = (
        [(timed, ("-labeled_at", "-pk")), (untimed, ("-pk",))]
        if descending
        else [(untimed, ("pk",)), (timed, ("labeled_at", "pk"))]
    )
    rows: list = []
    for segment, order in segments:
        if segment is not None and len(rows) < limit:
            # The page's ids first, then their item and labeler, in one statement: a filter read from its few
            # matches (a rare class) would otherwise join every match to its item before sorting.
            ids = segment.order_by(*order).values("pk")[: limit - len(rows)]
            rows += Task.objects.filter(pk__in=ids).select_related("item", "labeled_by").order_by(*order)
    return rows


@dataclass
class LabeledPage:
    tasks: list
    # Cursors of the neighbouring pages (`after=next_cursor`, `before=previous_cursor`); None: none to offer.
    next_cursor: Cursor | None
    previous_cursor: Cursor | None
    first: bool  # the start of the order (an empty page past the end is not, though it has no Previous)


def labeled_page(
    *,
    project,
    filters: LabeledFilters,
    classes: list,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
) -> LabeledPage:
    """One page of the browser in (labeled_at, pk) order, newest or oldest first; no OFFSET, no COUNT.

    `after` continues past a cursor (Next), `before` walks back from one (Previous). A page going back
    that reaches the start becomes the first page, so it is full whatever changed meanwhile.
    """
    tasks, nullable = _filtered(project, filters)
    if before is not None:
        rows = _walk(tasks, nullable=nullable, descending=not filters.newest_first, position=before, limit=size + 1)
        if len(rows) > size:
            page = rows[:size][::-1]
            return LabeledPage(tasks_decorate(page, classes), Cursor.of(page[-1]), Cursor.of(page[0]), first=False)
        if len(rows) == size:
            page = rows[::-1]
            return LabeledPage(tasks_decorate(page, classes), Cursor.of(page[-1]), None, first=True)
        after = None
    rows = _walk(tasks, nullable=nullable, descending=filters.newest_first, position=after, limit=size + 1)
    page = rows[:size]
    next_cursor = Cursor.of(page[-1]) if len(rows) > size else None
    # Past the end of a shrinking list there is nothing to step back from: offer the first page instead.
    previous_cursor = Cursor.of(page[0]) if after is not None and page else None
    return LabeledPage(tasks_decorate(page, classes), next_cursor, previous_cursor, first=after is None)


def item_task_get(*, project, item) -> Task:
    """The project's task for the item with this uuid (with its item and labeler), or NotFound."""
    try:
        return project.tasks.select_related("item", "labeled_by").get(item__uuid=item)
    except Task.DoesNotExist:
        raise NotFound("No such item in this project.") from None


def tasks_decorate(tasks: list, classes: list) -> list:
    """Attach `.tags` (current LabelClasses), `.imported` (those tags came from a label import, so the person shown
    imported them rather than labeled) and `.suggestion` (what the labeler did with a suggestion: accepted, changed or
    none) to each task: one query for the page."""
    by_id = {c.pk: c for c in classes}
    ids = [t.pk for t in tasks]
    tags: dict[int, list] = {pk: [] for pk in ids}
    imported: set[int] = set()
    suggestion: dict[int, str] = {}
    through = Annotation.labels.through.objects.filter(annotation__task_id__in=ids, annotation__is_current=True)
    rows = through.values_list("annotation__task_id", "labelclass_id", "annotation__source", "annotation__suggestion")
    for task_id, class_id, source, answer in rows:
        suggestion[task_id] = answer
        if class_id in by_id:
            tags[task_id].append(by_id[class_id])
        if source == Annotation.Source.IMPORT:
            imported.add(task_id)
    for task in tasks:
        task.tags = sorted(tags[task.pk], key=lambda c: (c.position, c.pk))
        task.imported = task.pk in imported
        task.suggestion = suggestion.get(task.pk, Annotation.Suggestion.NONE)
    return tasks


def project_labelers(project) -> list:
    """Everyone who labeled in this project (from the maintained per-labeler counters)."""
    ids = LabelerCount.objects.filter(project=project).values("user_id")
    return list(get_user_model().objects.filter(pk__in=ids).order_by("username"))


def labeler_rates(project) -> list[dict]:
    """Per labeler: labeled, approved, rejected and the approval rate among reviewed labels."""
    rows = []
    for row in LabelerCount.objects.filter(project=project).select_related("user").order_by("user__username"):
        reviewed = row.approved + row.rejected
        rows.append(
            {
                "user": row.user,
                "labeled": row.labeled,
                "imported": row.imported,
                "approved": row.approved,
                "rejected": row.rejected,
                "approval_rate": (row.approved / reviewed) if reviewed else None,
                "rejection_rate": (row.rejected / reviewed) if reviewed else None,
            }
        )
    return rows


def queue_held(*, project, reviewer, size: int) -> list[int]:
    """Ids of the tasks the review queue currently holds for this reviewer (still awaiting review)."""
    leases = ReviewLease.objects.filter(
        reviewer=reviewer, task__project=project, task__state=Task.State.LABELED, expires__gt=Now()
    )
    return list(leases.order_by("task__order_key", "task_id").values_list("task_id", flat=True)[:size])


def queue_tasks(*, project, task_ids: list, classes: list) -> list:
    tasks = Task.objects.filter(project=project, pk__in=task_ids).select_related("item", "labeled_by")
    return tasks_decorate(list(tasks.order_by("order_key", "pk")), classes)


def item_history(task) -> list[dict]:
    """Every annotation and review decision on a task, oldest first (rejecting never deletes history)."""
    events = []
    annotations = (
        Annotation.objects.filter(task=task).select_related("created_by").prefetch_related("labels", "suggested_labels")
    )
    for a in annotations:
        events.append(
            {
                "kind": "annotation",
                "at": a.created_at,
                "who": a.created_by,
                "annotation": a,
                "labels": list(a.labels.all()),
                "source": a.get_source_display(),
                "current": a.is_current,
                "suggestion": a.suggestion,
                "suggested": list(a.suggested_labels.all()),
            }
        )
    for r in Review.objects.filter(task=task).select_related("reviewer"):
        events.append(
            {
                "kind": "review",
                "at": r.created_at,
                "who": r.reviewer,
                "review": r,
                "decision": r.get_decision_display(),
                "reason": r.reason,
                "version": r.task_version,
            }
        )
    events.sort(key=lambda e: (e["at"], 0 if e["kind"] == "annotation" else 1))
    return events


def active_lease(task):
    return ReviewLease.objects.filter(task=task, expires__gt=Now()).select_related("reviewer").first()


def labeler_reviews_recount(project) -> list[tuple[int, dict]]:
    """Per labeler, how many of their submitted tags reviewers approved, and rejected or corrected
    (a correction did not accept them); `labeling.stats.stats_rebuild` recounts LabelerCount with it.
    Imported labels carry an import's own approval, which counts for nobody."""
    decided = Review.objects.filter(
        task__project=project, annotation__source=Annotation.Source.LABELER, annotation__created_by__isnull=False
    )
    rows = (
        decided.values_list("annotation__created_by")
        .annotate(
            approved=Count("pk", filter=Q(decision=Review.Decision.APPROVED)),
            rejected=Count("pk", filter=Q(decision__in=[Review.Decision.REJECTED, Review.Decision.CORRECTED])),
        )
        .order_by()
    )
    return [(user_id, {"approved": approved, "rejected": rejected}) for user_id, approved, rejected in rows]
