"""Registering a dataset's files as DataItems (scan and incremental refresh) and making thumbnails.

Registration reads only each file's header (extension, magic bytes, Pillow's lazy open for the
size in pixels), so it keeps up with large folders; decoding the whole image is the thumbnail
step's job, which also catches truncated files and decompression bombs. One scan or refresh runs
per dataset at a time (a lease on the row), and the unique (dataset, key) constraint with
ignore_conflicts makes a duplicate registration impossible even if two ever overlapped.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from itertools import islice
from typing import IO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import DateTimeField, ExpressionWrapper, Q
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageOps, UnidentifiedImageError

from projects.datastores import storage as ds

# The one cycle pyproject.toml's import contract allows: tasks runs this module's work, and a sync queues its
# follow-ups (a scan asked for meanwhile, missing thumbnails) as tasks. Only the module is bound here and its tasks
# are read when queued, so either module may be imported first.
from projects.datastores import tasks
from projects.models import DataItem, Dataset, Datastore
from projects.signals import items_missing, items_registered
from projects.tenancy.notifications import notification_create_quietly

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"}
MAGIC = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*"]
SMALL_HEAD = 4096
HEAD_BYTES = 64 * 1024
LEASE = timedelta(minutes=10)
MAX_DIMENSION = 2**31 - 1  # the width and height columns
REASON_LENGTH = DataItem._meta.get_field("reason").max_length
FORMAT_LENGTH = DataItem._meta.get_field("image_format").max_length
ORIENTABLE = ("JPEG", "MPO", "PNG", "WEBP", "TIFF")  # formats that can carry an EXIF orientation
State = DataItem.State


def _has_magic(head: bytes) -> bool:
    return any(head.startswith(m) for m in MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def has_image_extension(key: str) -> bool:
    return os.path.splitext(key)[1].lower() in IMAGE_EXTENSIONS


def classify(key: str, size: int, read_head) -> dict:
    """State, reason and header facts for one file. `read_head(n)` returns the file's first n bytes, lazily."""
    if not has_image_extension(key):
        ext = os.path.splitext(key)[1].lower()
        return {"state": State.SKIPPED, "reason": f"Not an image (extension {ext or 'none'})."}
    if size == 0:
        return {"state": State.UNREADABLE, "reason": "Empty file (0 bytes)."}
    if size > settings.LABELSITE_MAX_IMAGE_BYTES:
        return {"state": State.TOO_LARGE, "reason": f"File larger than {settings.LABELSITE_MAX_IMAGE_BYTES} bytes."}
    try:
        head = read_head(SMALL_HEAD)
        if len(head) < size and not _fast_header(head):
            # Large EXIF or ICC blocks can push a JPEG's size marker further; Pillow then reads the rest.
            head = read_head(HEAD_BYTES)
            if len(head) < size and not _fast_header(head) and _has_magic(head):
                head = read_head(None)
    except ds.DatastoreError as error:
        return {"state": State.UNREADABLE, "reason": error.message_text[:250]}
    except OSError as error:
        return {"state": State.UNREADABLE, "reason": f"Cannot read the file ({type(error).__name__})."}
    return _inspect(head)


def _fast_header(head: bytes):
    """(width, height, format) straight from PNG, GIF and JPEG headers, or None to ask Pillow.

    Pillow's open costs ~100 µs a file; this costs a few, which is what keeps registration fast."""
    if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR" and len(head) >= 24:
        width, height = struct.unpack(">II", head[16:24])
        return _displayed(width, height, _png_orientation(head), "PNG")
    if head[:6] in (b"GIF87a", b"GIF89a") and len(head) >= 10:
        width, height = struct.unpack("<HH", head[6:10])
        return width, height, "GIF"
    if head.startswith(b"\xff\xd8"):
        i, end, orientation = 2, len(head), 1
        while i + 4 <= end:
            if head[i] != 0xFF:
                return None
            marker = head[i + 1]
            if marker == 0xFF:
                i += 1
                continue
            if marker == 0x01 or 0xD0 <= marker <= 0xD8:
                i += 2
                continue
            length = struct.unpack(">H", head[i + 2 : i + 4])[0]
            if marker == 0xE1 and head[i + 4 : i + 10] == b"Exif\x00\x00":
                orientation = _tiff_orientation(head[i + 10 : i + 2 + length])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                if i + 9 > end or length < 8:
                    return None
                height, width = struct.unpack(">HH", head[i + 5 : i + 9])
                return _displayed(width, height, orientation, "JPEG")
            if length < 2:
                return None
            i += 2 + length
    return None


def _displayed(width: int, height: int, orientation: int, fmt: str):
    """Size as shown (ImageOps.exif_transpose, browsers): EXIF orientations 5-8 turn the image a quarter."""
    return (height, width, fmt) if orientation in (5, 6, 7, 8) else (width, height, fmt)


def _tiff_orientation(tiff: bytes) -> int:
    """The Orientation tag of an EXIF block's first IFD (1 when absent or cut off)."""
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return 1
    offset = struct.unpack(order + "I", tiff[4:8])[0]
    if offset + 2 > len(tiff):
        return 1
    for n in range(struct.unpack(order + "H", tiff[offset : offset + 2])[0]):
        at = offset + 2 + 12 * n
        if at + 12 > len(tiff):
            break
        tag, kind = struct.unpack(order + "HH", tiff[at : at + 4])
        if tag == 0x0112 and kind == 3:  # SHORT
            return struct.unpack(order + "H", tiff[at + 8 : at + 10])[0]
    return 1


def _png_orientation(head: bytes) -> int:
    """From an eXIf chunk before the pixel data, within `head` (one further along waits for the thumbnail step)."""
    at = 8
    while at + 8 <= len(head):
        length, kind = struct.unpack(">I4s", head[at : at + 8])
        if kind == b"IDAT":
            break
        if kind == b"eXIf" and at + 8 + length <= len(head):
            return _tiff_orientation(head[at + 8 : at + 8 + length])
        at += 12 + length
    return 1


def _pillow_orientation(image) -> int:
    """The EXIF orientation Pillow's lazy open has already read and not yet applied; never decodes pixels."""
    if image.format == "TIFF":
        return 1  # Pillow reports a TIFF's size as displayed already (and turns its pixels on load)
    try:
        if image.format == "PNG":  # PngImageFile.getexif() would load the whole image
            exif = Image.Exif()
            exif.load(image.info.get("exif") or b"")
        else:
            exif = image.getexif()
        return int(exif.get(0x0112) or 1)
    except Exception:  # noqa: BLE001 — a malformed EXIF block: the image is shown unrotated
        return 1


def _inspect(source: bytes | IO[bytes]) -> dict:
    handle = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    head = source if isinstance(source, (bytes, bytearray)) else handle.read(16)
    handle.seek(0)
    if not _has_magic(head):
        return {"state": State.SKIPPED, "reason": "Not an image (content is not a known image format)."}
    fast = _fast_header(head)
    if fast and fast[0] and fast[1]:
        return _facts(*fast)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(handle) as image:  # lazy: reads only the header
                width, height, fmt = _displayed(
                    image.width, image.height, _pillow_orientation(image), image.format or ""
                )
    except Image.DecompressionBombError:
        return {"state": State.TOO_LARGE, "reason": "Too many pixels (possible decompression bomb)."}
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as error:
        return {"state": State.UNREADABLE, "reason": f"Corrupt image header ({type(error).__name__})."}
    return _facts(width, height, fmt)


def _facts(width: int, height: int, fmt: str) -> dict:
    if not width or not height:
        return {"state": State.UNREADABLE, "reason": f"The header gives the image {width}×{height} pixels."}
    if width * height > settings.LABELSITE_MAX_IMAGE_PIXELS:
        facts: dict = {
            "state": State.TOO_LARGE,
            "reason": f"{width}×{height} pixels is over the limit.",
            "image_format": fmt,
        }
        if max(width, height) <= MAX_DIMENSION:  # a header may claim 4 billion pixels: the columns hold less
            facts.update(width=width, height=height)
        return facts
    return {"state": State.READY, "reason": "", "width": width, "height": height, "image_format": fmt}


def _header_reader(datastore, storage, key, size):
    if datastore.kind == Datastore.Kind.LOCAL:

        def read_local(length):
            # Keys come from the confined walk, so a plain join is inside the folder; O_NOFOLLOW keeps a
            # file swapped for a symlink since then from being read without the full real-path check.
            try:
                fd = os.open(os.path.join(storage.location, key), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                fd = os.open(storage.path(key), os.O_RDONLY)
            try:
                return os.read(fd, length if length is not None else size)
            finally:
                os.close(fd)

        return read_local

    def read_remote(length):
        return ds.read_object(datastore, storage, key, length=min(size, length) if length else None)

    return read_remote


def _classify_many(dataset, storage, entries):
    """(stored key, size, facts) per listed (key, size); a key that cannot be requested safely is refused unread."""
    datastore = dataset.datastore

    def one(entry):
        key, size = entry
        refusal = ds.key_refusal(key, dataset.path)
        if refusal:
            return ds.stored_key(key), size, {"state": State.REFUSED, "reason": refusal}
        return key, size, classify(key, size, _header_reader(datastore, storage, key, size))

    if datastore.kind == Datastore.Kind.LOCAL:
        return [one(e) for e in entries]
    with ThreadPoolExecutor(max_workers=8) as pool:  # remote header reads are latency-bound
        return list(pool.map(one, entries))


# --- the lease ---------------------------------------------------------------------------------


def _lease_end():
    """The dataset lease's end by the database's clock (several workers' clocks may disagree)."""
    return ExpressionWrapper(Now() + LEASE, output_field=DateTimeField())


def _acquire(dataset_id: int) -> bool:
    return bool(
        Dataset.objects.filter(pk=dataset_id)
        .filter(Q(busy_until__isnull=True) | Q(busy_until__lt=Now()))
        .update(busy_until=_lease_end())
    )


# --- registration --------------------------------------------------------------------------------


def _batches(iterable, size):
    iterator = iter(iterable)
    while batch := list(islice(iterator, size)):
        yield batch


def register_batch(
    dataset: Dataset, storage, entries: list[tuple[str, int]], *, known_empty: bool = False
) -> tuple[int, int]:
    """Register files not yet known; re-inspect MISSING ones that came back. Returns (ready, not ready) added.

    `known_empty`: the dataset had no items when this (leased) run began, so no lookup is needed first."""
    stored = {key: ds.stored_key(key) for key, _ in entries}
    known = (
        {}
        if known_empty
        else dict(DataItem.objects.filter(dataset=dataset, key__in=list(stored.values())).values_list("key", "state"))
    )
    fresh = [e for e in entries if stored[e[0]] not in known]
    returned = [e for e in entries if known.get(stored[e[0]]) == State.MISSING]
    classified = _classify_many(dataset, storage, fresh)
    with transaction.atomic():
        added = _insert_items(dataset, classified)
        for key, size, facts in _classify_many(dataset, storage, returned):
            DataItem.objects.filter(dataset=dataset, key=key).update(size=size, thumbnail="", **_fitting(facts))
    ready = sum(1 for state in added if state == State.READY)
    return ready, len(added) - ready


_COLUMNS = ("uuid", "key", "state", "reason", "size", "width", "height", "image_format")


def _fitting(facts: dict) -> dict:
    """Facts cut to their columns, so no single file's row can fail (and with it the batch) in the database."""
    fitted = dict(facts, reason=facts.get("reason", "")[:REASON_LENGTH])
    if "image_format" in facts:
        fitted["image_format"] = facts["image_format"][:FORMAT_LENGTH]
    return fitted


def _insert_items(dataset: Dataset, classified) -> list[str]:
    """Insert new items, skipping keys already there; returns the states of the rows actually inserted.

    Keys arrive as stored_key() made them and facts as _fitting() cuts them: every row fits its columns."""
    classified = [(key, size, _fitting(facts)) for key, size, facts in classified]
    if connection.vendor != "postgresql":
        objects = [DataItem(dataset=dataset, key=key, size=size, **facts) for key, size, facts in classified]
        DataItem.objects.bulk_create(objects, batch_size=500, ignore_conflicts=True)
        return [o.state for o in objects]
    # PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT DO NOTHING RETURNING. About
    # ten times faster than a multi-row INSERT with thousands of parameters, and exact about what it added.
    table = DataItem._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS labelsite_items_in (uuid uuid, key text, state text, reason text, "
            "size bigint, width integer, height integer, image_format text) ON COMMIT DELETE ROWS"
        )
        with cursor.copy(f"COPY labelsite_items_in ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for key, size, facts in classified:
                copy.write_row(
                    (
                        uuid.uuid4(),
                        key,
                        facts["state"],
                        facts.get("reason", ""),
                        size,
                        facts.get("width"),
                        facts.get("height"),
                        facts.get("image_format", ""),
                    )
                )
        cursor.execute(
            f"INSERT INTO {table} (uuid, dataset_id, key, state, reason, size, width, height, image_format, "
            f"thumbnail, created_at) SELECT uuid, %s, key, state, reason, size, width, height, image_format, '', "
            f"now() FROM labelsite_items_in ON CONFLICT DO NOTHING RETURNING state",
            [dataset.pk],
        )
        states = [row[0] for row in cursor.fetchall()]
        cursor.execute("TRUNCATE labelsite_items_in")
        return states


def _mark_missing(dataset: Dataset, seen: set[str]) -> int:
    gone = [
        pk
        for pk, key in DataItem.objects.filter(dataset=dataset)
        .exclude(state=State.MISSING)
        .values_list("pk", "key")
        .iterator(chunk_size=5000)
        if key not in seen
    ]
    for chunk in _batches(gone, 1000):
        DataItem.objects.filter(pk__in=chunk).update(
            state=State.MISSING, reason="The file is no longer in the datastore."
        )
    return len(gone)


def dataset_sync(
    dataset_id: int, *, mode: str, thumbnails: bool = True, requested_by: int | None = None
) -> dict | None:
    """List the dataset's path and register new files. mode: "scan" (progress on the scan fields) or
    "refresh" (progress on the refresh fields, result on the last_refresh fields). `requested_by`: the user who
    asked for it, told if it fails. Returns counters, or None when another run holds the lease."""
    scan = mode == "scan"
    if not _acquire(dataset_id):
        if not scan:  # the run holding the lease lists the folder now: this request has nothing left to wait for
            Dataset.objects.filter(pk=dataset_id).update(refresh_requested_at=None)
        return None
    dataset = Dataset.objects.select_related("datastore", "workspace__organization").get(pk=dataset_id)
    counters = {"found": 0, "ready": 0, "skipped": 0, "missing": 0}
    if scan:
        Dataset.objects.filter(pk=dataset_id).update(
            scan_state=Dataset.ScanState.SCANNING,
            scan_found=0,
            scan_registered=0,
            scan_skipped=0,
            scan_error="",
            scan_started_at=timezone.now(),
            scan_finished_at=None,
        )
    else:
        Dataset.objects.filter(pk=dataset_id).update(refresh_found=0, refresh_added=0)
    check_missing = DataItem.objects.filter(dataset=dataset).exists()  # else: a first scan, nothing to look up
    seen: set[str] = set()
    error = ""
    try:
        storage = ds.storage_for(dataset.datastore)
        listing = ds.iter_objects(
            dataset.datastore, dataset.path, recursive=dataset.include_subfolders, storage=storage
        )
        for batch in _batches(listing, settings.LABELSITE_SCAN_BATCH):
            if check_missing:
                seen.update(ds.stored_key(key) for key, _ in batch)
            ready, skipped = register_batch(dataset, storage, batch, known_empty=not check_missing)
            counters["found"] += len(batch)
            counters["ready"] += ready
            counters["skipped"] += skipped
            progress = {"busy_until": _lease_end()}
            if scan:
                progress.update(
                    scan_found=counters["found"], scan_registered=counters["ready"], scan_skipped=counters["skipped"]
                )
            else:
                progress.update(refresh_found=counters["found"], refresh_added=counters["ready"])
            Dataset.objects.filter(pk=dataset_id).update(**progress)
        if check_missing:
            counters["missing"] = _mark_missing(dataset, seen)
    except ds.DatastoreError as failure:
        error = failure.message_text
    except Exception as failure:  # the worker stays healthy; the page shows what happened
        logger.exception("dataset %s: %s failed", dataset_id, mode)
        error = f"Unexpected error while listing the dataset ({type(failure).__name__})."
    finally:
        now = timezone.now()
        result: dict = {"busy_until": None}
        if scan:
            result.update(
                scan_state=Dataset.ScanState.FAILED if error else Dataset.ScanState.DONE,
                scan_error=error,
                scan_finished_at=now,
            )
        else:
            result.update(
                last_refresh_at=now,
                last_refresh_added=counters["ready"],
                last_refresh_error=error,
                refresh_requested_at=None,
            )
        Dataset.objects.filter(pk=dataset_id).update(**result)
        if error and requested_by is not None:
            _notify_failed(dataset, mode=mode, error=error, user_id=requested_by)
    dataset.refresh_from_db()
    with transaction.atomic():
        if counters["ready"]:
            items_registered.send(sender=Dataset, dataset=dataset)
        if counters["missing"]:
            items_missing.send(sender=Dataset, dataset=dataset)
    if not scan and dataset.scan_state == Dataset.ScanState.PENDING:
        # A scan asked for while this refresh held the lease found it busy and left: run it now.
        transaction.on_commit(lambda: tasks.dataset_scan_task.delay(dataset_id))
    # Also picks up thumbnails an earlier run could not make (datastore briefly unreachable).
    if thumbnails and DataItem.objects.filter(dataset_id=dataset_id, state=State.READY, thumbnail="").exists():
        transaction.on_commit(lambda: tasks.dataset_thumbnails_task.delay(dataset_id))
    return counters


def _notify_failed(dataset: Dataset, *, mode: str, error: str, user_id: int) -> None:
    """Tell the person who asked for the scan or refresh that it failed (they may have left the page)."""
    if not get_user_model().objects.filter(pk=user_id).exists():
        return
    what = "Scan" if mode == "scan" else "Refresh"
    workspace = dataset.workspace
    notification_create_quietly(
        user_id=user_id,
        workspace_id=workspace.pk,
        kind=f"{mode}_failed",
        message=f"{what} of dataset “{dataset.name}” failed: {error}",
        link=reverse(
            "dataset", kwargs={"org": workspace.organization.slug, "ws": workspace.slug, "dataset": dataset.uuid}
        ),
        perm="projects.view_dataset",
    )


def dataset_dimensions_fix(*, dataset: Dataset) -> int:
    """Record as displayed the size of READY items registered before sizes followed the EXIF orientation.

    Re-reads the header of each item whose format can carry an orientation (one ranged read, as a
    scan does) and swaps width and height where the header says the image is shown turned; anything
    else about the item stays as it is. Returns how many items changed."""
    storage = ds.storage_for(dataset.datastore)
    items = DataItem.objects.filter(dataset=dataset, state=State.READY, image_format__in=ORIENTABLE).order_by("pk")
    changed, last = 0, 0
    # Keyset pages, not one open cursor: the loop writes to the table it reads.
    while batch := list(items.filter(pk__gt=last).values_list("pk", "key", "size", "width", "height")[:500]):
        last = batch[-1][0]
        found = _classify_many(dataset, storage, [(key, size or 0) for _, key, size, _, _ in batch])
        for (pk, _, _, width, height), (_, _, facts) in zip(batch, found, strict=True):
            if width != height and (facts.get("width"), facts.get("height")) == (height, width):
                changed += DataItem.objects.filter(pk=pk, width=width, height=height).update(width=height, height=width)
    return changed


# --- thumbnails ----------------------------------------------------------------------------------


def thumbnail_folder(dataset_uuid) -> str:
    """Every thumbnail of a dataset lives in one folder of the media storage, named by the dataset's UUID."""
    return f"thumbnails/{dataset_uuid}"


def thumbnail_name(item: DataItem) -> str:
    return f"{thumbnail_folder(item.dataset.uuid)}/{item.uuid}.jpg"


def thumbnails_delete(dataset_uuid: str) -> int:
    """Remove the thumbnails of a deleted dataset from the media storage; returns how many files went."""
    folder = thumbnail_folder(dataset_uuid)
    try:
        _, files = default_storage.listdir(folder)
    except FileNotFoundError:
        return 0
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    try:
        default_storage.delete(folder)  # the emptied folder on a filesystem; object stores have none
    except OSError:
        pass  # a thumbnail being written right now: make_thumbnail deletes it itself
    return len(files)


def to_rgb(image: Image.Image) -> Image.Image:
    """Any decoded image as 8-bit RGB: transparency over white, 16-bit and float greys scaled (thumbnails, ML)."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image, mask=image.getchannel("A"))
        return background
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        image = image.point(lambda v: v / 256).convert("L")
    elif image.mode == "F":
        image = image.convert("L")
    return image.convert("RGB")


def make_thumbnail(item: DataItem, storage=None) -> None:
    """Decode the image fully, store a JPEG thumbnail, or leave the item in a clear error state."""
    datastore = item.dataset.datastore
    facts: dict = {}
    try:
        refusal = ds.key_refusal(item.key, item.dataset.path)
        if refusal:  # registered before scans refused such keys: never read, say why
            raise _Classified(State.REFUSED, refusal)
        storage = storage or ds.storage_for(datastore)
        data = ds.read_object(datastore, storage, item.key)
        if len(data) > settings.LABELSITE_MAX_IMAGE_BYTES:
            raise _Classified(State.TOO_LARGE, "File larger than the byte limit.")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.width * image.height > settings.LABELSITE_MAX_IMAGE_PIXELS:
                    raise _Classified(State.TOO_LARGE, f"{image.width}×{image.height} pixels is over the limit.")
                image.load()
                oriented = ImageOps.exif_transpose(image)
                # Recorded as displayed: orientations 5-8 turn the stored landscape into a portrait.
                facts = {"width": oriented.width, "height": oriented.height, "image_format": image.format or ""}
                rgb = to_rgb(oriented)
                side = settings.LABELSITE_THUMBNAIL_SIZE
                rgb.thumbnail((side, side), Image.Resampling.LANCZOS)
                out = io.BytesIO()
                rgb.save(out, "JPEG", quality=85, optimize=True)
        name = thumbnail_name(item)
        if default_storage.exists(name):
            default_storage.delete(name)
        saved = default_storage.save(name, ContentFile(out.getvalue()))
        if not DataItem.objects.filter(pk=item.pk).update(thumbnail=saved, **facts):
            default_storage.delete(saved)  # the item (its dataset) was deleted meanwhile: leave no orphan
    except _Classified as outcome:
        DataItem.objects.filter(pk=item.pk).update(state=outcome.state, reason=outcome.reason[:250])
    except ds.DatastoreError as error:
        DataItem.objects.filter(pk=item.pk).update(state=State.UNREADABLE, reason=error.message_text[:250])
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        DataItem.objects.filter(pk=item.pk).update(
            state=State.TOO_LARGE, reason="Too many pixels (possible decompression bomb)."
        )
    except MemoryError:
        DataItem.objects.filter(pk=item.pk).update(state=State.TOO_LARGE, reason="Too large to decode.")
    except Exception as error:  # noqa: BLE001 — truncated, corrupt, odd modes: the item says so, the worker carries on
        DataItem.objects.filter(pk=item.pk).update(
            state=State.UNREADABLE, reason=f"Cannot decode the image ({type(error).__name__})."
        )


class _Classified(Exception):
    def __init__(self, state, reason):
        super().__init__(reason)
        self.state, self.reason = state, reason


def thumbnails_batch(dataset_id: int, *, limit: int = 100) -> int:
    """Make thumbnails for up to `limit` READY items that have none; returns how many were tried."""
    items = list(
        DataItem.objects.filter(dataset_id=dataset_id, state=State.READY, thumbnail="")
        .select_related("dataset__datastore")
        .order_by("pk")[:limit]
    )
    if not items:
        return 0
    try:
        storage = ds.storage_for(items[0].dataset.datastore)
    except ds.DatastoreError as error:
        # The datastore is unreachable as a whole: leave the items waiting rather than mark them broken.
        logger.warning("dataset %s: no thumbnails now: %s", dataset_id, error.message_text)
        return 0
    for item in items:
        make_thumbnail(item, storage)
    return len(items)
