"""One streaming writer per export format: rows in, bytes out to a file object, memory flat.

Every writer takes a binary, seekable file object, gets `begin()`, then `write(row)` per task in
task order, then `end()`; `write` returns how many images it wrote (0 or 1).

Format contracts (documented in the README):
- COCO: category id = LabelClass primary key (stable across exports even when classes are
  reordered or renamed); image id = DataItem primary key (stable across exports and projects on
  the same dataset); one annotation per tag (classification: no bbox), numbered from 1, with
  `attributes.suggestion`.
- Every format but ImageFolder says what the labeler did with a suggestion (pre-label): `suggestion` is
  `accepted`, `changed` or `none` (no suggestion, or labels from an import or a reviewer's correction).
- CSV: `image_url,label,labeler,labeled_at,reviewer,reviewed_at,state,suggestion`; several labels of a
  multi-label image are joined with MULTI_LABEL_SEPARATOR (` | ` is not used inside names we write).
  A cell a spreadsheet would run as a formula gets a leading `'` (see spreadsheet_safe).
- Every format leaves out (and counts in `missing`) an item whose key could address another object
  (projects.datastores.storage.key_refusal): such keys were registered before scans refused them.
- JSON Lines: the Azure ML AutoML image classification schema.
- ImageFolder: `<class>/<item id>_<safe file name>` entries; a multi-label image sits in each of its classes.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
import unicodedata
import zipfile
from datetime import UTC, datetime
from json.encoder import encode_basestring

from exports.selectors import ExportRow
from projects.datastores import storage as ds

MULTI_LABEL_SEPARATOR = "|"
# New columns go at the end, so readers that take columns by position keep working.
CSV_COLUMNS = ["image_url", "label", "labeler", "labeled_at", "reviewer", "reviewed_at", "state", "suggestion"]


def timestamp(value: datetime | str | None) -> str:
    """ISO 8601 in UTC with a Z; also takes the database's text form of a UTC timestamp."""
    if not value:
        return ""
    if isinstance(value, str):  # "2026-03-01 09:30:00.5+00" (PostgreSQL in UTC) or "2026-03-01 09:30:00.5" (SQLite)
        text = value.replace(" ", "T", 1)
        for suffix in ("+00:00", "+00"):
            if text.endswith(suffix):
                text = text[: -len(suffix)]
        return text + "Z"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_string = encode_basestring  # the C encoder for one JSON string


def _number(value) -> str:
    return "null" if value is None else str(int(value))


class Writer:
    extension = ""
    content_type = "application/octet-stream"
    needs_reviews = False

    def __init__(self, fh, *, project, classes, created_at: datetime, storage=None):
        self.fh = fh
        self.project = project
        self.classes = classes  # LabelClass objects in position order
        self.created_at = created_at
        self.storage = storage
        self.missing = 0  # images that could not be read (ImageFolder) or whose keys are refused

    def refused(self, row: ExportRow) -> bool:
        """True (and counted as missing) when the row's key must not reach a file name or a link."""
        if ds.key_refusal(row.key):
            self.missing += 1
            return True
        return False

    def begin(self) -> None:
        pass

    def write(self, row: ExportRow) -> int:
        raise NotImplementedError

    def end(self) -> None:
        pass


class _TextWriter(Writer):
    def begin(self) -> None:
        self.text = io.TextIOWrapper(self.fh, encoding="utf-8", newline="", write_through=False)

    def end(self) -> None:
        self.text.flush()
        self.text.detach()


class CocoWriter(_TextWriter):
    """COCO JSON: images stream into the file, annotations into a spool file appended at the end."""

    extension = "json"
    content_type = "application/json"

    def begin(self) -> None:
        super().begin()
        self.spool = tempfile.TemporaryFile("w+", encoding="utf-8", newline="")  # noqa: SIM115 — closed by end()
        self.next_annotation = 1
        self.first_image = True
        info = {
            "description": f"Labelsite export of {self.project.name}",
            "contributor": "Labelsite",
            "version": "1.0",
            "year": self.created_at.year,
            "date_created": timestamp(self.created_at),
            "task_type": self.project.task_type,
        }
        categories = [{"id": c.pk, "name": c.name, "supercategory": ""} for c in self.classes]
        self.text.write(f'{{"info":{_dump(info)},"licenses":[],"categories":{_dump(categories)},"images":[')

    def write(self, row: ExportRow) -> int:
        if self.refused(row):
            return 0
        # Formatted by hand (strings still go through json.dumps): this loop runs a million times.
        url = _string(row.url)
        self.text.write(
            f'{"" if self.first_image else ","}{{"id":{row.item_id},"file_name":{_string(row.key)},'
            f'"width":{_number(row.width)},"height":{_number(row.height)},"coco_url":{url},"absolute_url":{url}}}'
        )
        self.first_image = False
        attributes = f'{{"suggestion":{_string(row.suggestion)}}}'
        for label in row.labels:
            separator = "" if self.next_annotation == 1 else ","
            self.spool.write(
                f'{separator}{{"id":{self.next_annotation},"image_id":{row.item_id},'
                f'"category_id":{label.pk},"iscrowd":0,"attributes":{attributes}}}'
            )
            self.next_annotation += 1
        return 1

    def end(self) -> None:
        self.text.write('],"annotations":[')
        self.spool.seek(0)
        shutil.copyfileobj(self.spool, self.text, 1 << 20)
        self.spool.close()
        self.text.write("]}\n")
        super().end()


# OWASP's CSV injection rule: a cell starting with one of these runs as a formula in a spreadsheet.
# Apostrophes already in front count too, so that reading the cell back (spreadsheet_unsafe) is exact.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def spreadsheet_safe(text: str) -> str:
    """The cell as a spreadsheet shows it as text: a leading `'` when it would start a formula."""
    return f"'{text}" if _FORMULA.match(text) else text


def spreadsheet_unsafe(text: str) -> str:
    """The inverse of spreadsheet_safe, for reading our CSV back."""
    return text[1:] if text.startswith("'") and _FORMULA.match(text, 1) else text


class CsvWriter(_TextWriter):
    extension = "csv"
    content_type = "text/csv"
    needs_reviews = True

    def begin(self) -> None:
        super().begin()
        self.csv = csv.writer(self.text, lineterminator="\n")
        self.csv.writerow(CSV_COLUMNS)

    def write(self, row: ExportRow) -> int:
        if not row.labels or self.refused(row):
            return 0
        self.csv.writerow(
            [
                spreadsheet_safe(cell)
                for cell in (
                    row.url,
                    MULTI_LABEL_SEPARATOR.join(c.name for c in row.labels),
                    row.labeled_by,
                    timestamp(row.labeled_at),
                    row.reviewer,
                    timestamp(row.reviewed_at),
                    row.state,
                    row.suggestion,
                )
            ]
        )
        return 1


def image_format_of(row: ExportRow) -> str:
    """The file extension Azure ML writes in image_details.format (jpg, png...), else Pillow's format name."""
    name = row.key.rsplit("/", 1)[-1]
    if "." in name:
        return name.rsplit(".", 1)[-1].lower()
    return row.image_format.lower()


class JsonLinesWriter(_TextWriter):
    """Azure ML AutoML image classification: {"image_url", "image_details": {format, width, height}, "label"}."""

    extension = "jsonl"
    content_type = "application/jsonl"

    def write(self, row: ExportRow) -> int:
        if not row.labels or self.refused(row):
            return 0
        names = [c.name for c in row.labels]
        multi = self.project.task_type == "multilabel"
        line = {
            "image_url": row.url,
            "image_details": {
                "format": image_format_of(row),
                "width": f"{row.width}px" if row.width else "",
                "height": f"{row.height}px" if row.height else "",
            },
            "label": names if multi else names[0],
            "suggestion": row.suggestion,  # an extra key: Azure ML's loaders read the ones they know
        }
        self.text.write(_dump(line) + "\n")
        return 1


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, fallback: str) -> str:
    """One path segment safe on every OS and in every unzip tool: no separators, no '..', no control chars."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"\.{2,}", ".", _UNSAFE.sub("_", text))
    text = re.sub(r"_+", "_", text).strip(" ._")[:120].rstrip(" ._")  # no dot run, none at either end: never ".."
    return text or fallback


class ImageFolderWriter(Writer):
    """A zip of `<class>/<image>` folders that torchvision's ImageFolder reads; images copied from the datastore."""

    extension = "zip"
    content_type = "application/zip"

    def begin(self) -> None:
        self.zip = zipfile.ZipFile(self.fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self.folders = {}
        used = set()
        for c in self.classes:
            folder = safe_name(c.name, f"class-{c.pk}")
            if folder.lower() in used:
                folder = f"{folder}-{c.pk}"
            used.add(folder.lower())
            self.folders[c.pk] = folder

    def write(self, row: ExportRow) -> int:
        if not row.labels or self.refused(row):
            return 0
        base = row.key.replace("\\", "/").rsplit("/", 1)[-1]
        name = f"{row.item_id}_{safe_name(base, 'image')}"
        try:
            # read_object requests exactly the key (a storage's open() would normalize "a//b" to "a/b").
            data = ds.read_object(self.project.dataset.datastore, self.storage, row.key)  # one image at a time
        except Exception:  # noqa: BLE001 — missing or unreadable in the datastore: counted and reported, never fatal
            self.missing += 1
            return 0
        for label in row.labels:
            self.zip.writestr(f"{self.folders[label.pk]}/{name}", data)
        return 1

    def end(self) -> None:
        self.zip.close()


WRITERS = {"coco": CocoWriter, "csv": CsvWriter, "jsonl": JsonLinesWriter, "imagefolder": ImageFolderWriter}
