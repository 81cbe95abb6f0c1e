"""Running one export: claim the job, read one consistent snapshot, stream it to a temp file, save in one step.

- Claim: a conditional UPDATE gives the run a fresh lease; a job that is done, failed, deleted or
  held by a live worker is left alone, so a redelivered or duplicate task does nothing.
- Snapshot: on PostgreSQL the rows are read in one REPEATABLE READ, READ ONLY transaction, so labels
  changed meanwhile never mix in. On SQLite (development) reads are short chunks instead.
- Heartbeat: progress and a heartbeat timestamp are written every few seconds, on PostgreSQL over a
  second connection (the snapshot transaction cannot write). The reaper (`exports_reap`) fails jobs whose heartbeat
  went stale: a worker killed mid-export never leaves a job "running".
- Finish: the temp file is saved to the media storage under a name derived from the export uuid,
  then the job is marked done under its lease. Until then nothing is downloadable.
- Tell: whoever started the export gets a notification when it is done (the download) or failed, by
  this run or by the reaper, in the same transaction as the state that ends it.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F, Q
from django.template.defaultfilters import filesizeformat, pluralize
from django.urls import reverse
from django.utils import timezone

from exports.models import Export
from exports.selectors import export_chunks, export_scope
from exports.writers import WRITERS
from projects.datastores.storage import storage_for
from projects.tenancy.notifications import notification_create_quietly

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """Another run (or the reaper) took the job over; this run stops without touching it."""


class Heartbeat:
    """Writes progress and a heartbeat timestamp under the run's lease; raises LeaseLost once the lease is gone.

    On PostgreSQL (outside tests) it owns a second connection and a small thread that beats every
    interval, so slow steps (the server sorting a million rows, copying a large image, saving the
    file to remote media storage) never look like a dead worker. Elsewhere the export loop beats inline.
    """

    def __init__(self, export_id: int, lease: uuid.UUID):
        self.export_id, self.lease = export_id, lease
        self.interval = settings.LABELSITE_EXPORT_HEARTBEAT_INTERVAL
        self.last = time.monotonic()
        self.progress, self.lost = 0, False
        self.total: int | None = None
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = None
        self.conn = None
        if connection.vendor == "postgresql" and not connection.in_atomic_block:
            self.conn = connections.create_connection(DEFAULT_DB_ALIAS)
            self.conn.inc_thread_sharing()
            self.thread = threading.Thread(target=self._beat_forever, name=f"export-{export_id}-heartbeat", daemon=True)
            self.thread.start()

    def __call__(self, progress: int, *, total: int | None = None, force: bool = False) -> None:
        self.progress = progress
        if total is not None:
            self.total = total
        if self.lost:
            raise LeaseLost
        if force or (self.thread is None and time.monotonic() - self.last >= self.interval):
            self._write()

    def _beat_forever(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self._write()
            except LeaseLost:
                return
            except Exception:  # a blip of the database: try again at the next beat
                logger.warning("Export %s: heartbeat failed", self.export_id, exc_info=True)

    def _write(self) -> None:
        with self.lock:
            self.last = time.monotonic()
            fields: dict[str, Any] = {"progress": self.progress, "heartbeat_at": timezone.now()}
            if self.total is not None:
                fields["total"] = self.total
            if self.conn is None:
                changed = Export.objects.filter(pk=self.export_id, lease=self.lease, state=Export.State.RUNNING).update(
                    **fields
                )
            else:
                sets = ", ".join(f"{name} = %s" for name in fields)
                with self.conn.cursor() as cursor:
                    cursor.execute(
                        f"UPDATE {Export._meta.db_table} SET {sets} WHERE id = %s AND lease = %s AND state = %s",
                        [*fields.values(), self.export_id, self.lease, Export.State.RUNNING],
                    )
                    changed = cursor.rowcount
            if not changed:
                self.lost = True
                raise LeaseLost

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join()
        if self.conn is not None:
            self.conn.dec_thread_sharing()
            self.conn.close()


@contextmanager
def snapshot():
    """One consistent view of the project for the whole export (see the module docstring)."""
    if connection.vendor != "postgresql":
        yield
        return
    outer = connection.in_atomic_block
    with transaction.atomic():
        if not outer:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                # Sort the export's streams in memory on the server instead of spilling to disk.
                cursor.execute("SET LOCAL work_mem = %s", [settings.LABELSITE_EXPORT_DB_WORK_MEM])
        yield


def claim(export_id: int) -> uuid.UUID | None:
    lease = uuid.uuid4()
    now = timezone.now()
    stale = now - timedelta(seconds=settings.LABELSITE_EXPORT_STALE_AFTER)
    claimed = (
        Export.objects.filter(pk=export_id, deleted_at=None)
        .filter(Q(state=Export.State.QUEUED) | Q(state=Export.State.RUNNING, heartbeat_at__lt=stale))
        .update(
            state=Export.State.RUNNING,
            lease=lease,
            heartbeat_at=now,
            started_at=now,
            attempts=F("attempts") + 1,
            progress=0,
            error="",
        )
    )
    return lease if claimed else None


def file_name(export: Export) -> str:
    return f"exports/{export.project.uuid}/{export.uuid}.{export.extension}"


def write_export(export: Export, fh, beat: Heartbeat) -> tuple[int, int]:
    """Write the whole export to `fh`; returns (images written, images missing from the datastore)."""
    project = export.project
    classes = list(project.label_classes.order_by("position", "pk"))
    writer_class = WRITERS[export.format]
    storage = None
    if export.format == Export.Format.IMAGEFOLDER:
        storage = storage_for(project.dataset.datastore)
    writer = writer_class(fh, project=project, classes=classes, created_at=export.created_at, storage=storage)
    with snapshot():
        total = export_scope(export).count()
        beat(0, total=total, force=True)
        written = done = 0
        writer.begin()
        for chunk in export_chunks(
            export,
            classes={c.pk: c for c in classes},
            chunk_size=settings.LABELSITE_EXPORT_CHUNK_SIZE,
            with_reviews=writer_class.needs_reviews,
        ):
            for row in chunk:
                written += writer.write(row)
                done += 1
                beat(done)
        writer.end()
    return written, writer.missing


def export_run(*, export_id: int) -> bool:
    """Run the export if this call may claim it; True when it finished here."""
    lease = claim(export_id)
    if lease is None:
        return False
    export = Export.objects.select_related("project__dataset__datastore", "project__workspace__organization").get(
        pk=export_id
    )
    beat = Heartbeat(export_id, lease)
    saved = ""
    try:
        with tempfile.TemporaryFile(dir=settings.LABELSITE_EXPORT_TEMP_DIR or None) as tmp:
            written, missing = write_export(export, tmp, beat)
            size = tmp.seek(0, 2)
            tmp.seek(0)
            beat(beat.progress, force=True)  # still ours? (LeaseLost before saving a file nobody wants)
            name = file_name(export)
            if default_storage.exists(name):  # left by a run that died between saving and finishing
                default_storage.delete(name)
            saved = default_storage.save(name, File(tmp, name=name))
        note = (
            (
                f"{missing} image(s) could not be read from the datastore, or have names that cannot be "
                "requested safely, and are not in the file."
            )
            if missing
            else ""
        )
        with transaction.atomic():
            finished = Export.objects.filter(pk=export_id, lease=lease, state=Export.State.RUNNING).update(
                state=Export.State.DONE,
                file=saved,
                size=size,
                item_count=written,
                progress=F("total"),
                error=note,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
            )
            if not finished:
                raise LeaseLost
            _notify_ready(export, written=written, size=size)
        return True
    except LeaseLost:
        current = Export.objects.filter(pk=export_id).values_list("file", flat=True).first()
        if saved and saved != current:
            default_storage.delete(saved)
        logger.warning("Export %s was taken over by another run; this run stopped.", export_id)
        return False
    except Exception as error:
        logger.exception("Export %s failed", export_id)
        if saved:
            default_storage.delete(saved)
        message = _safe_message(error)
        with transaction.atomic():
            if Export.objects.filter(pk=export_id, lease=lease).update(
                state=Export.State.FAILED, error=message, finished_at=timezone.now()
            ):
                _notify_failed(export, message)
        return False
    finally:
        beat.close()


def _safe_message(error: Exception) -> str:
    """Messages users see: datastore errors carry safe text; anything else is named, never dumped."""
    text = getattr(error, "message_text", None)
    if text:
        return f"The export failed: {text}"
    return f"The export failed ({type(error).__name__}). Retry it; if it fails again, tell your administrator."


REAPED = "The export stopped (its worker went away). Retry it to produce a complete file."


@transaction.atomic
def exports_reap(*, stale_after: int | None = None) -> int:
    """Fail running exports whose worker stopped beating, and queued ones no worker ever picked up; tell whoever
    started each one."""
    now = timezone.now()
    stale = now - timedelta(seconds=stale_after if stale_after is not None else settings.LABELSITE_EXPORT_STALE_AFTER)
    forgotten = now - timedelta(seconds=settings.LABELSITE_EXPORT_QUEUED_TIMEOUT)
    # Lock the jobs first (skipping any a worker is finishing right now), so exactly the rows failed here are told.
    ids = list(
        Export.objects.select_for_update(skip_locked=True)
        .filter(
            Q(state=Export.State.RUNNING, heartbeat_at__lt=stale)
            | Q(state=Export.State.QUEUED, created_at__lt=forgotten)
        )
        .values_list("pk", flat=True)
    )
    reaped = Export.objects.filter(pk__in=ids).update(
        state=Export.State.FAILED, finished_at=now, lease=None, error=REAPED
    )
    for export in Export.objects.filter(pk__in=ids).select_related("project__workspace__organization"):
        _notify_failed(export, REAPED)
    return reaped


def _project_url(name: str, job: Export, **kwargs) -> str:
    project = job.project
    return reverse(
        name,
        kwargs={
            "org": project.workspace.organization.slug,
            "ws": project.workspace.slug,
            "project": project.uuid,
            **kwargs,
        },
    )


def _notify_ready(export: Export, *, written: int, size: int) -> None:
    if export.created_by_id is None:
        return
    notification_create_quietly(
        user_id=export.created_by_id,
        workspace_id=export.project.workspace_id,
        kind="export_ready",
        message=(
            f"Export of “{export.project.name}” is ready: {export.get_format_display()}, "
            f"{written:,} image{pluralize(written)}, {filesizeformat(size)}."
        ),
        link=_project_url("exports:download", export, export=export.uuid),
        perm="exports.view_export",
    )


def _notify_failed(export: Export, message: str) -> None:
    if export.created_by_id is None:
        return
    notification_create_quietly(
        user_id=export.created_by_id,
        workspace_id=export.project.workspace_id,
        kind="export_failed",
        message=f"Export of “{export.project.name}” failed. {message}",
        link=_project_url("exports:list", export),
        perm="exports.view_export",
    )
