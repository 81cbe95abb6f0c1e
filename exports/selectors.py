"""Reads behind exports: the rows an export writes (streamed in chunks), item URLs, and export lists."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from urllib.parse import quote, urlsplit

from django.db import connection
from django.db.models import TextField
from django.db.models.functions import Cast

from exports.models import Export
from labeling.models import Annotation, Task
from projects.models import Datastore, LabelClass
from review.models import Review


@dataclass(slots=True)
class ExportRow:
    task_id: int
    item_id: int
    key: str
    width: int | None
    height: int | None
    image_format: str
    url: str
    state: str
    labeled_by: str
    labeled_at: datetime | str | None
    labels: list[LabelClass] = field(default_factory=list)
    reviewer: str = ""
    reviewed_at: datetime | str | None = None
    suggestion: str = "none"  # accepted / changed / none: what the labeler did with a suggestion (pre-label)


def url_base(datastore: Datastore) -> tuple[str, bool]:
    """(prefix, quote_keys) for item URLs: the object URL without any secret, or a relative path for local folders."""
    if datastore.kind == Datastore.Kind.AZURE_BLOB:
        base = _clean_endpoint(datastore.endpoint) or f"https://{datastore.access_key_id}.blob.core.windows.net"
        return f"{base}/{datastore.container}/", True
    if datastore.kind == Datastore.Kind.S3:
        base = _clean_endpoint(datastore.endpoint)
        return (f"{base}/{datastore.container}/", True) if base else (f"s3://{datastore.container}/", False)
    return "", False


def _clean_endpoint(endpoint: str) -> str:
    """Scheme, host and path only: a SAS token, query or user:password never reaches an export."""
    if not endpoint:
        return ""
    parts = urlsplit(endpoint.strip())
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}".rstrip("/")


_URL_SAFE = re.compile(r"[A-Za-z0-9_.~/-]*")


def item_url(base: tuple[str, bool], key: str) -> str:
    prefix, quoted = base
    if quoted and not _URL_SAFE.fullmatch(key):
        key = quote(key, safe="/")
    return prefix + key


def label_states(export: Export) -> list[str]:
    if export.only_approved:
        return [Task.State.APPROVED]
    return [Task.State.LABELED, Task.State.APPROVED]


def export_scope(export: Export):
    """Tasks an export writes: labeled (or only approved), plus every other image for COCO with include_unlabeled."""
    tasks = Task.objects.filter(project_id=export.project_id)
    if export.include_unlabeled and export.format == Export.Format.COCO:
        return tasks
    return tasks.filter(state__in=label_states(export))


def _chunked(queryset, size: int) -> Iterator[list[tuple]]:
    """Stream `queryset` (values_list with pk first, ordered by pk) in lists of `size` rows.

    PostgreSQL: one server-side cursor (iterator) inside the export's snapshot. SQLite: short
    keyset-paginated reads, so the database is never locked against writers for the whole export.
    """
    if connection.vendor == "postgresql":
        rows = queryset.iterator(chunk_size=size)
        while chunk := list(islice(rows, size)):
            yield chunk
        return
    last = 0
    while True:
        chunk = list(queryset.filter(pk__gt=last)[:size])
        if not chunk:
            return
        yield chunk
        last = chunk[-1][0]


def _labels_for(
    task_ids: list[int], classes: dict[int, LabelClass]
) -> tuple[dict[int, list[LabelClass]], dict[int, str]]:
    """The current labels of these tasks, and what their labeler did with a suggestion (tasks with labels only)."""
    rows = Annotation.labels.through.objects.filter(
        annotation__task_id__in=task_ids, annotation__is_current=True
    ).values_list("annotation__task_id", "labelclass_id", "annotation__suggestion")
    found: dict[int, list[LabelClass]] = {}
    suggestions: dict[int, str] = {}
    for task_id, class_id, suggestion in rows:
        found.setdefault(task_id, []).append(classes[class_id])
        suggestions[task_id] = suggestion
    for labels in found.values():
        labels.sort(key=lambda c: (c.position, c.pk))
    return found, suggestions


def _reviews_for(task_ids: list[int]) -> dict[int, tuple[str, datetime]]:
    """The latest review of each task's current annotation: (reviewer username, when)."""
    rows = (
        Review.objects.filter(task_id__in=task_ids, annotation__is_current=True)
        .order_by("task_id", "created_at", "pk")
        .values_list("task_id", "reviewer__username", "created_at")
    )
    return {task_id: (username or "", when) for task_id, username, when in rows}


class _Merge:
    """Walk a stream of (task_id, ...) rows ordered by task id alongside the task stream (a merge join)."""

    def __init__(self, rows):
        self.rows = iter(rows)
        self.head = next(self.rows, None)

    def take(self, task_id: int) -> list[tuple]:
        found = []
        while self.head is not None and self.head[0] <= task_id:
            if self.head[0] == task_id:
                found.append(self.head)
            self.head = next(self.rows, None)
        return found


def _streams(export: Export, chunk_size: int, with_reviews: bool):
    """PostgreSQL: labels (and reviews) as streams sorted by task id, merged with the task stream.

    One sequential pass per table instead of one IN-query per chunk, so the cost stays linear at
    a million tasks.
    """
    states = label_states(export)
    labels = (
        Annotation.labels.through.objects.filter(
            annotation__task__project_id=export.project_id,
            annotation__is_current=True,
            annotation__task__state__in=states,
        )
        .order_by("annotation__task_id")
        .values_list("annotation__task_id", "labelclass_id", "annotation__suggestion")
    )
    reviews = None
    if with_reviews:
        reviews = _Merge(
            Review.objects.filter(task__project_id=export.project_id, annotation__is_current=True)
            .order_by("task_id", "created_at", "pk")
            .values_list("task_id", "reviewer__username", Cast("created_at", TextField()))
            .iterator(chunk_size=chunk_size)
        )
    return _Merge(labels.iterator(chunk_size=chunk_size)), reviews


def export_chunks(
    export: Export, *, classes: dict[int, LabelClass], chunk_size: int, with_reviews: bool = False
) -> Iterator[list[ExportRow]]:
    """The export's rows in task order, a chunk at a time (constant memory whatever the project size)."""
    base = url_base(export.project.dataset.datastore)
    labelled = set(label_states(export))
    # Who and when only for CSV, with timestamps as database text: decoding a million datetimes costs seconds.
    people = ("labeled_by__username", Cast("labeled_at", TextField())) if with_reviews else ()
    queryset = (
        export_scope(export)
        .order_by("pk")
        .values_list(
            "pk",
            "item_id",
            "item__key",
            "item__width",
            "item__height",
            "item__image_format",
            "state",
            *people,
        )
    )
    merged = connection.vendor == "postgresql"
    if merged:
        label_stream, review_stream = _streams(export, chunk_size, with_reviews)
    by_position = lambda c: (c.position, c.pk)  # noqa: E731
    for chunk in _chunked(queryset, chunk_size):
        if merged:
            labels = {}
            reviews = {}
            suggestions = {}
            for row in chunk:
                found = label_stream.take(row[0])
                if len(found) == 1:
                    labels[row[0]] = [classes[found[0][1]]]
                elif found:
                    labels[row[0]] = sorted((classes[c] for _, c, _ in found), key=by_position)
                if found:
                    suggestions[row[0]] = found[0][2]
                if review_stream is not None:
                    last = review_stream.take(row[0])
                    if last:
                        reviews[row[0]] = (last[-1][1] or "", last[-1][2])
        else:
            ids = [row[0] for row in chunk if row[6] in labelled]
            labels, suggestions = _labels_for(ids, classes) if ids else ({}, {})
            reviews = _reviews_for(ids) if with_reviews and ids else {}
        rows = []
        for pk, item_id, key, width, height, image_format, state, *who in chunk:
            labeled_by, labeled_at = who or ("", None)
            reviewer, reviewed_at = reviews.get(pk, ("", None))
            rows.append(
                ExportRow(
                    pk,
                    item_id,
                    key,
                    width,
                    height,
                    image_format or "",
                    item_url(base, key),
                    state,
                    labeled_by or "",
                    labeled_at,
                    labels.get(pk, []) if state in labelled else [],
                    reviewer,
                    reviewed_at,
                    suggestions.get(pk, "none"),
                )
            )
        yield rows


def exports_for_project(project):
    """Past exports that were not deleted, newest first."""
    return (
        Export.objects.filter(project=project, deleted_at=None)
        .select_related("created_by")
        .order_by("-created_at", "-pk")
    )
