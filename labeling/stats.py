"""Maintained counters behind the dashboard: every service that changes tasks calls these in its transaction.

Counting rows at a million tasks is too slow for a page, so each write adjusts small counter rows
instead. A `Tally` gathers one transaction's changes and writes them as one upsert per counter
table (`INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`, hand-written: these run on every
submit). Tables are always written in the same order and rows in key order, so two transactions
touching the same counters lock them in the same order and never deadlock on them. (One statement
with data-modifying CTEs would save a few round trips, but PostgreSQL leaves the order of its parts
unspecified.)
`stats_rebuild` recomputes them from the tables; `stats_verify` says which ones differ from a recount.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from django.db import connection, transaction
from django.db.models import Count, Exists, Field, OuterRef, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from labeling.models import ActivityCount, Annotation, ClassCount, LabelerCount, Task, TaskStateCount

# model -> (key fields, counter fields); the order of models is the order rows are locked in.
COUNTERS = {
    TaskStateCount: (("project", "state"), ("count",)),
    ClassCount: (("project", "label_class"), ("count", "suggested", "accepted")),
    LabelerCount: (("project", "user"), ("labeled", "imported", "skipped", "approved", "rejected")),
    ActivityCount: (("project", "hour"), ("labeled",)),
}


class Tally:
    """The counter changes of one project in one transaction, written together by `save()`."""

    def __init__(self, project_id: int):
        self.project_id = project_id
        self.rows: dict = {model: {} for model in COUNTERS}

    def _add(self, model, key, **deltas) -> None:
        row = self.rows[model].setdefault(key, Counter())
        row.update(deltas)

    def tasks_moved(self, moves: Counter) -> Tally:
        """`moves` maps (from_state, to_state) to a number of tasks; None means created or deleted."""
        for (source, target), n in moves.items():
            if source:
                self._add(TaskStateCount, (str(source),), count=-n)
            if target:
                self._add(TaskStateCount, (str(target),), count=n)
        return self

    def labels_changed(self, classes: Counter) -> Tally:
        """`classes` maps label class id to +n (tags applied) or -n (tags removed)."""
        for class_id, n in classes.items():
            self._add(ClassCount, (class_id,), count=n)
        return self

    def suggestions_counted(self, suggested: Counter, accepted: Counter) -> Tally:
        """Submitted suggestions per label class: how often the class was suggested, and kept by the labeler.
        (The same counter rows as `labels_changed`, so a submit with suggestions costs no extra statement.)"""
        for class_id, n in suggested.items():
            self._add(ClassCount, (class_id,), suggested=n, accepted=accepted.get(class_id, 0))
        return self

    def labeler_counted(self, user_id: int | None, **deltas) -> Tally:
        if user_id is not None:
            self._add(LabelerCount, (user_id,), **deltas)
        return self

    def activity_counted(self, labeled: int, when: datetime | None = None) -> Tally:
        hour = (when or timezone.now()).replace(minute=0, second=0, microsecond=0)
        self._add(ActivityCount, (hour,), labeled=labeled)
        return self

    def save(self) -> None:
        """One upsert per touched counter table, tables in COUNTERS order, rows in key order."""
        with connection.cursor() as cursor:
            for model, rows in self.rows.items():
                statement = self._upsert(model, rows)
                if statement:
                    cursor.execute(*statement)
        self.rows = {model: {} for model in COUNTERS}

    def _upsert(self, model, rows: dict):
        keys, counters = COUNTERS[model]
        changed = sorted((key, row) for key, row in rows.items() if any(row.values()))
        if not changed:
            return None
        quote = connection.ops.quote_name
        table = quote(model._meta.db_table)
        key_columns = [quote(model._meta.get_field(name).column) for name in keys]
        counter_columns = [quote(model._meta.get_field(name).column) for name in counters]
        columns = key_columns + counter_columns
        hour = model._meta.get_field("hour") if model is ActivityCount else None
        values, params = [], []
        for key, row in changed:
            key_values = [self.project_id, *key]
            if hour is not None:
                key_values[-1] = hour.get_db_prep_save(key_values[-1], connection)
            values.append("(" + ", ".join(["%s"] * len(columns)) + ")")
            params += key_values + [row.get(name, 0) for name in counters]
        updates = ", ".join(f"{c} = {table}.{c} + EXCLUDED.{c}" for c in counter_columns)
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(values)} "
            f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {updates}"
        )
        return sql, params


def tasks_moved(*, project_id: int, moves: Counter) -> None:
    """`moves` maps (from_state, to_state) to a number of tasks; from_state None means newly created."""
    Tally(project_id).tasks_moved(moves).save()


def labels_changed(*, project_id: int, classes: Counter) -> None:
    """`classes` maps label class id to +n (tags applied) or -n (tags removed)."""
    Tally(project_id).labels_changed(classes).save()


def labeler_counted(*, project_id: int, user_id: int, labeled=0, skipped=0, approved=0, rejected=0) -> None:
    Tally(project_id).labeler_counted(
        user_id, labeled=labeled, skipped=skipped, approved=approved, rejected=rejected
    ).save()


def activity_counted(*, project_id: int, labeled: int, when: datetime | None = None) -> None:
    Tally(project_id).activity_counted(labeled, when).save()


# Apps above labeling that move counters kept here register how to recount their part (review: the
# approvals and rejections per labeler), so a rebuild covers every counter without labeling importing them.
# Each function takes a project and yields (user id, {counter field: n}).
LABELER_RECOUNTS: list[Callable] = []


def labeler_recount_register(recount: Callable) -> None:
    if recount not in LABELER_RECOUNTS:
        LABELER_RECOUNTS.append(recount)


# What each counter counts, recounted from the rows that remain: a labeler's `labeled` are the annotations
# they submitted, `imported` the final labels they imported (not labeling work of theirs), `skipped` the tasks
# they set aside that are still skipped (a skip leaves no other trace), activity the hours of the submitted
# and imported annotations. Tags a reviewer corrected count for nobody.
# A class's `suggested` / `accepted` count every submitted annotation whose suggestion proposed it (history
# included).
COUNTED_SOURCES = (Annotation.Source.LABELER, Annotation.Source.IMPORT)


def _recounts(project) -> dict:
    """model -> {key tuple: {counter: n}}, each computed by one GROUP BY over the project's rows."""
    states = Task.objects.filter(project=project).values_list("state").annotate(n=Count("pk")).order_by()
    classes = (
        Annotation.labels.through.objects.filter(annotation__task__project=project, annotation__is_current=True)
        .values_list("labelclass_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    annotations = Annotation.objects.filter(task__project=project, source__in=COUNTED_SOURCES)
    people_annotations = annotations.filter(created_by__isnull=False)
    labeled = (
        people_annotations.filter(source=Annotation.Source.LABELER)
        .values_list("created_by")
        .annotate(n=Count("pk"))
        .order_by()
    )
    imported = (
        people_annotations.filter(source=Annotation.Source.IMPORT)
        .values_list("created_by")
        .annotate(n=Count("pk"))
        .order_by()
    )
    skipped = (
        Task.objects.filter(project=project, state=Task.State.SKIPPED, labeled_by__isnull=False)
        .values_list("labeled_by")
        .annotate(n=Count("pk"))
        .order_by()
    )
    hours = (
        annotations.annotate(hour=TruncHour("created_at", tzinfo=UTC))
        .values_list("hour")
        .annotate(n=Count("pk"))
        .order_by()
    )
    kept = Exists(
        Annotation.labels.through.objects.filter(
            annotation_id=OuterRef("annotation_id"), labelclass_id=OuterRef("labelclass_id")
        )
    )
    suggestions = (
        Annotation.suggested_labels.through.objects.filter(annotation__task__project=project)
        .annotate(kept=kept)
        .values_list("labelclass_id")
        .annotate(n=Count("pk"), accepted=Count("pk", filter=Q(kept=True)))
        .order_by()
    )
    rows: dict = {model: {} for model in COUNTERS}
    rows[TaskStateCount] = {(state,): {"count": n} for state, n in states}
    rows[ClassCount] = {(class_id,): {"count": n} for class_id, n in classes}
    for class_id, n, accepted in suggestions:
        rows[ClassCount].setdefault((class_id,), {}).update(suggested=n, accepted=accepted)
    rows[ActivityCount] = {(hour,): {"labeled": n} for hour, n in hours}
    people = rows[LabelerCount]
    for field, counted in (("labeled", labeled), ("imported", imported), ("skipped", skipped)):
        for user_id, n in counted:
            people.setdefault((user_id,), {})[field] = n
    for recount in LABELER_RECOUNTS:
        for user_id, counts in recount(project):
            people.setdefault((user_id,), {}).update(counts)
    return rows


@transaction.atomic
def stats_rebuild(*, project) -> None:
    """Recompute every counter table of a project from its tasks, annotations and reviews (repair tool).

    Wrong numbers are corrected, missing rows added and rows that count nothing removed. On PostgreSQL
    the counter tables are locked against writers first (they wait a moment, then add their changes
    on top), so a rebuild during labeling loses no concurrent submit.
    """
    if connection.vendor == "postgresql":
        tables = ", ".join(connection.ops.quote_name(model._meta.db_table) for model in COUNTERS)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {tables} IN SHARE ROW EXCLUSIVE MODE")
    recounted = _recounts(project)
    for model, (keys, counters) in COUNTERS.items():
        attnames = [cast(Field, model._meta.get_field(name)).attname for name in keys[1:]]
        model._default_manager.filter(project=project).delete()
        model._default_manager.bulk_create(
            [
                model(
                    project=project, **dict(zip(attnames, key, strict=True)), **{c: values.get(c, 0) for c in counters}
                )
                for key, values in sorted(recounted[model].items(), key=lambda row: row[0])
            ]
        )


@dataclass(frozen=True)
class CounterDrift:
    """One counter whose stored value is not what a recount of the project's rows gives."""

    table: str  # the counter model, e.g. "TaskStateCount"
    key: str  # its row, e.g. "state=unlabeled"
    field: str  # the counter, e.g. "count"
    stored: int
    recounted: int

    def __str__(self) -> str:
        return f"{self.table} [{self.key}] {self.field}: stored {self.stored}, recounted {self.recounted}"


def stats_verify(*, project) -> list[CounterDrift]:
    """Every counter of the project that differs from a recount of its rows (empty: all true); changes nothing.

    A missing row counts as zero. On PostgreSQL, outside a transaction, counters and recount are read from
    one REPEATABLE READ snapshot, so writers running meanwhile neither wait nor show up as drift.
    """
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            return _drift(project)
    return _drift(project)


def _drift(project) -> list[CounterDrift]:
    recounted = _recounts(project)
    drift = []
    for model, (keys, counters) in COUNTERS.items():
        names = [cast(Field, model._meta.get_field(name)).attname for name in keys[1:]]
        rows = model._default_manager.filter(project=project).values_list(*names, *counters)
        stored = {row[: len(names)]: dict(zip(counters, row[len(names) :], strict=True)) for row in rows}
        for key in sorted(stored.keys() | recounted[model].keys(), key=str):
            for field in counters:
                was, real = stored.get(key, {}).get(field, 0), recounted[model].get(key, {}).get(field, 0)
                if was != real:
                    label = ", ".join(f"{name}={value}" for name, value in zip(names, key, strict=True))
                    drift.append(CounterDrift(model.__name__, label, field, was, real))
    return drift


def state_counts(project) -> dict[str, int]:
    counts = dict.fromkeys(Task.State.values, 0)
    for state, count in TaskStateCount.objects.filter(project=project).values_list("state", "count"):
        counts[state] = count
    return counts
