"""Reads behind the labeling grid: the labeler's page with its draft chips and suggestions, and their preferences."""

from __future__ import annotations

import functools
import operator
import uuid as uuidlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from labeling import services
from labeling.models import (
    ActivityCount,
    Annotation,
    ClassCount,
    GridPreference,
    LabelerCount,
    PreLabel,
    Task,
    TaskStateCount,
)
from projects.models import LabelClass, LabelingProject


@dataclass
class Tile:
    task: Task
    number: int
    chips: list[LabelClass]
    suggested: list[LabelClass] = field(default_factory=list)
    urls: dict = field(default_factory=dict)  # thumbnail, image, skip: filled in by the view

    @property
    def uuid(self):
        return self.task.item.uuid

    @property
    def name(self) -> str:
        return self.task.item.key.rsplit("/", 1)[-1]

    @property
    def suggestion_open(self) -> bool:
        """A suggestion waits for the labeler: shown (and accepted by "Accept all") until the tile has tags."""
        return bool(self.suggested) and not self.chips


@dataclass
class GridPage:
    project: LabelingProject
    classes: list[LabelClass]
    page_size: int
    tiles: list[Tile] = field(default_factory=list)
    closed: str = ""  # why the project takes no labels now, if it does not
    notice: str = ""  # e.g. an earlier page whose hold ran out

    @property
    def complete(self) -> bool:
        return bool(self.tiles) and all(tile.chips for tile in self.tiles)

    @property
    def suggestions(self) -> int:
        """Images whose suggestion is still open."""
        return sum(tile.suggestion_open for tile in self.tiles)

    @property
    def suggested_tiles(self) -> list[Tile]:
        return [tile for tile in self.tiles if tile.suggested]

    @property
    def sizes(self) -> tuple[int, ...]:
        return GridPreference.PAGE_SIZES

    @property
    def multilabel(self) -> bool:
        return self.project.task_type == LabelingProject.TaskType.MULTI_LABEL


def page_size_get(user) -> int:
    size = GridPreference.objects.filter(user=user).values_list("page_size", flat=True).first()
    return size or GridPreference.DEFAULT_PAGE_SIZE


def label_classes_get(project) -> list[LabelClass]:
    return list(LabelClass.objects.filter(project=project).active().order_by("position", "id"))


def tiles_build(tasks, classes) -> list[Tile]:
    by_id = {c.id: c for c in classes}
    return [
        Tile(
            task=t,
            number=n,
            chips=[by_id[i] for i in t.draft if i in by_id],
            suggested=[by_id[i] for i in t.suggested if i in by_id],
        )
        for n, t in enumerate(tasks, start=1)
    ]


def grid_page_get(*, project, user, classes: list[LabelClass] | None = None) -> GridPage:
    """The labeler's current page, claiming tasks from the pool as needed (`classes` if already read)."""
    size = page_size_get(user)
    classes = label_classes_get(project) if classes is None else classes
    page = GridPage(project=project, classes=classes, page_size=size)
    try:
        tasks = services.tasks_claim(project=project, user=user, size=size)
    except services.ProjectNotOpen as error:
        page.closed = str(error)
        return page
    page.tiles = tiles_build(tasks, classes)
    if tasks.expired:
        n = tasks.expired
        page.notice = (
            f"Your hold on {n} image{'s' if n != 1 else ''} ran out (leases last {services.lease_minutes()} minutes), "
            "so they went back to the pool and their unsaved tags were discarded. Here is a fresh page."
        )
    return page


def _valid_uuids(values) -> list[str]:
    found = []
    for value in values:
        try:
            found.append(str(uuidlib.UUID(str(value))))
        except ValueError:
            continue
    return found


def task_ids_by_item(*, project, item_uuids) -> dict[str, int]:
    """Task ids of this project for the given item uuids, whoever holds them (one query)."""
    rows = Task.objects.filter(project=project, item__uuid__in=_valid_uuids(item_uuids)).values_list("item__uuid", "id")
    return {str(item): task_id for item, task_id in rows}


def tasks_by_item(*, project, item_uuids) -> dict:
    """Tasks of this project for the given item uuids, whoever holds them (one query)."""
    tasks = Task.objects.filter(project=project, item__uuid__in=_valid_uuids(item_uuids)).select_related("item")
    return {str(t.item.uuid): t for t in tasks}


S = Task.State


@dataclass
class Progress:
    labeled: int = 0  # labeled (awaiting review) + approved
    total: int = 0

    @property
    def percent(self) -> int:
        return int(100 * self.labeled / self.total) if self.total else 0


def _progress(counts: dict[str, int]) -> Progress:
    return Progress(labeled=counts.get(S.LABELED, 0) + counts.get(S.APPROVED, 0), total=sum(counts.values()))


def projects_progress(projects) -> dict[int, Progress]:
    """Progress of every given project in one query."""
    ids = [p.pk for p in projects]
    counts: dict[int, dict[str, int]] = {pk: {} for pk in ids}
    if ids:
        rows = TaskStateCount.objects.filter(project_id__in=ids).values_list("project_id", "state", "count")
        for project_id, state, count in rows:
            counts[project_id][state] = count
    return {pk: _progress(c) for pk, c in counts.items()}


def live_leases_count(project: LabelingProject) -> int:
    """Unlabeled tasks someone holds right now.

    Served by the partial index `task_live_lease` (only unlabeled tasks with a lease are in it),
    so the count walks the live leases — at most labelers × page size — whatever the project size.
    """
    return Task.objects.filter(
        services.LIVE,
        project=project,
        state=S.UNLABELED,
        lease_expires__isnull=False,
    ).count()


@dataclass
class Bar:
    key: str
    label: str
    count: int
    x: float = 0.0
    width: float = 0.0
    y: float = 0.0
    height: float = 0.0
    css: str = ""
    note: str = ""


@dataclass
class Dashboard:
    states: list[Bar]
    total: int
    progress: Progress
    classes: list[Bar]
    labelers: list[dict]
    activity: list[Bar]
    activity_unit: str
    activity_max: int
    chart: dict = field(default_factory=dict)
    suggestions: list[dict] = field(default_factory=list)  # per class, only those ever suggested

    @property
    def suggestions_total(self) -> dict:
        suggested = sum(row["suggested"] for row in self.suggestions)
        accepted = sum(row["accepted"] for row in self.suggestions)
        return {
            "suggested": suggested,
            "accepted": accepted,
            "changed": suggested - accepted,
            "acceptance_rate": round(100 * accepted / suggested) if suggested else None,
        }


STATE_ROWS = [
    ("unlabeled", "Unlabeled", "s-unlabeled"),
    ("in_progress", "In progress", "s-progress"),
    ("labeled", "Labeled, awaiting review", "s-labeled"),
    ("approved", "Approved", "s-approved"),
    ("skipped", "Skipped", "s-skipped"),
]
ACTIVITY_SPAN = {"hour": 48, "day": 30}
CHART_W, CHART_H = 600, 120


def _state_bars(counts: dict[str, int], leased: int) -> list[Bar]:
    leased = min(leased, counts.get(S.UNLABELED, 0))
    values = {**counts, "in_progress": leased, "unlabeled": counts.get(S.UNLABELED, 0) - leased}
    total = sum(values.values())
    bars, x = [], 0.0
    for key, label, css in STATE_ROWS:
        width = 100 * values.get(key, 0) / total if total else 0
        bars.append(Bar(key, label, values.get(key, 0), x=round(x, 3), width=round(width, 3), css=css))
        x += width
    return bars


def _class_bars(project: LabelingProject) -> tuple[list[Bar], list[dict]]:
    """The label distribution, and per class the submitted suggestions that proposed it and how many kept it."""
    rows = ClassCount.objects.filter(project=project).values_list("label_class_id", "count", "suggested", "accepted")
    counts, offered = {}, {}
    for class_id, count, suggested, accepted in rows:
        counts[class_id] = count
        if suggested:
            offered[class_id] = (suggested, accepted)
    every = list(LabelClass.objects.filter(project=project))
    classes = [c for c in every if c.removed_at is None or counts.get(c.pk)]
    top = max([counts.get(c.pk, 0) for c in classes] + [1])
    bars = [
        Bar(
            str(c.pk),
            c.name,
            counts.get(c.pk, 0),
            width=round(100 * counts.get(c.pk, 0) / top, 3),
            css=f"c{c.color}",
            note="removed" if c.removed_at else "",
        )
        for c in classes
    ]
    suggestions = [
        {
            "label": c.name,
            "css": f"c{c.color}",
            "suggested": offered[c.pk][0],
            "accepted": offered[c.pk][1],
            "changed": offered[c.pk][0] - offered[c.pk][1],
            "acceptance_rate": round(100 * offered[c.pk][1] / offered[c.pk][0]),
        }
        for c in every
        if c.pk in offered
    ]
    return bars, suggestions


def _labeler_rows(project: LabelingProject) -> list[dict]:
    rows = []
    for row in (
        LabelerCount.objects.filter(project=project).select_related("user").order_by("-labeled", "user__username")
    ):
        reviewed = row.approved + row.rejected
        rows.append(
            {
                "user": row.user.get_username(),
                "labeled": row.labeled,
                "imported": row.imported,
                "skipped": row.skipped,
                "approved": row.approved,
                "rejected": row.rejected,
                "approval_rate": round(100 * row.approved / reviewed) if reviewed else None,
                "rejection_rate": round(100 * row.rejected / reviewed) if reviewed else None,
            }
        )
    return rows


def _activity_bars(project: LabelingProject, unit: str) -> list[Bar]:
    now = timezone.localtime()
    span = ACTIVITY_SPAN[unit]
    if unit == "hour":
        end = now.replace(minute=0, second=0, microsecond=0)
        starts = [end - timedelta(hours=i) for i in range(span - 1, -1, -1)]
    else:
        end = now.replace(hour=0, minute=0, second=0, microsecond=0)
        starts = [end - timedelta(days=i) for i in range(span - 1, -1, -1)]
    totals = dict.fromkeys(starts, 0)
    for hour, labeled in ActivityCount.objects.filter(project=project, hour__gte=starts[0]).values_list(
        "hour", "labeled"
    ):
        local = timezone.localtime(hour)
        bucket = (
            local.replace(minute=0, second=0, microsecond=0)
            if unit == "hour"
            else local.replace(hour=0, minute=0, second=0, microsecond=0)
        )
        if bucket in totals:
            totals[bucket] += labeled
    top = max([*totals.values(), 1])
    step = CHART_W / span
    bars = []
    for i, start in enumerate(starts):
        height = round((CHART_H - 4) * totals[start] / top, 2)
        label = start.strftime("%d %b %H:00") if unit == "hour" else start.strftime("%a %d %b")
        bars.append(
            Bar(
                start.isoformat(),
                label,
                totals[start],
                x=round(i * step + 1, 2),
                width=round(step - 2, 2),
                y=round(CHART_H - height, 2),
                height=height,
            )
        )
    return bars


def dashboard_stats_get(*, project: LabelingProject, activity: str = "hour") -> Dashboard:
    """Everything the dashboard shows, in a fixed number of queries (6) at any project size."""
    unit = activity if activity in ACTIVITY_SPAN else "hour"
    counts = dict.fromkeys(S.values, 0)
    counts.update(TaskStateCount.objects.filter(project=project).values_list("state", "count"))
    states = _state_bars(counts, live_leases_count(project))
    bars = _activity_bars(project, unit)
    classes, suggestions = _class_bars(project)
    return Dashboard(
        states=states,
        total=sum(counts.values()),
        progress=_progress(counts),
        classes=classes,
        labelers=_labeler_rows(project),
        activity=bars,
        activity_unit=unit,
        activity_max=max([b.count for b in bars] + [0]),
        chart={"w": CHART_W, "h": CHART_H},
        suggestions=suggestions,
    )


def prelabels_for(task_ids: Iterable[int]) -> dict[int, list[int]]:
    """Suggested label class ids per task (imported pre-labels), in class order; one query.

    Tasks without a pre-label are absent. The grid shows these tags pre-applied on the tiles;
    the labeler confirms (submits) or changes them.
    """
    ids = list(task_ids)
    if not ids:
        return {}
    rows = (
        PreLabel.labels.through.objects.filter(prelabel__task_id__in=ids)
        .order_by("labelclass__position", "labelclass_id")
        .values_list("prelabel__task_id", "labelclass_id")
    )
    found: dict[int, list[int]] = {}
    for task_id, class_id in rows:
        found.setdefault(task_id, []).append(class_id)
    return found


# review's permission, named as data: labeling may not import review.
REVIEW_PERMISSION = "review.review_annotation"


def media_items_visible(*, access, now=None) -> Q | Exists | None:
    """Which items' images and thumbnails a member who does not browse datasets may fetch (None: none).

    Reviewers see the items of datasets that a project of the workspace labels; labelers those of tasks they
    hold now or have labeled (a rejected label, kept in the annotation history, still counts). Each part is
    an EXISTS probe down an indexed foreign key (project.dataset, task.item, annotation.task), so the check
    stays inside the item's own query however big the project.
    """
    user, now = access.user, now or Now()  # the database's clock, as every lease check
    parts = []
    if access.can(REVIEW_PERMISSION):
        parts.append(
            Exists(LabelingProject.objects.for_workspace(access.workspace).filter(dataset=OuterRef("dataset")))
        )
    if access.can("labeling.label_task"):
        by_user = Annotation.objects.filter(task=OuterRef("pk"), created_by=user)
        parts.append(
            Exists(
                Task.objects.filter(item=OuterRef("pk")).filter(
                    Q(state=Task.State.UNLABELED, leased_to=user, lease_expires__gt=now)
                    | Q(labeled_by=user)
                    | Exists(by_user)
                )
            )
        )
    return functools.reduce(operator.or_, parts) if parts else None
