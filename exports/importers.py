"""Parsers for label imports (COCO, Azure ML JSON Lines, CSV) and matching image references to dataset items.

A parser turns a file into rows `(line, refs, labels)`; bad rows are collected as invalid with a
reason. A file that cannot be read as its format at all raises ValidationError (nothing imported).
"""

from __future__ import annotations

import ast
import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import unquote

from django.core.exceptions import ValidationError

from exports.writers import MULTI_LABEL_SEPARATOR, spreadsheet_unsafe
from projects.models import DataItem

MAX_SEGMENTS = 16


@dataclass
class ImportRow:
    line: str  # where it came from, for the report: "line 3", "image 17"
    refs: tuple[str, ...]  # the image as the file names it (path, URL...), best first
    labels: list[str]


@dataclass
class Parsed:
    rows: list[ImportRow] = field(default_factory=list)
    invalid: list[tuple[str, str]] = field(default_factory=list)


def _text(file) -> io.TextIOWrapper:
    file.seek(0)
    return io.TextIOWrapper(file, encoding="utf-8-sig", newline="")


def _label_list(value) -> list[str]:
    """A label cell: a name, names joined by `|`, or a list ("['cat', 'dog']" as Azure ML writes it)."""
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value or "").strip()
    if text.startswith("["):
        try:
            return _label_list(json.loads(text))
        except ValueError:
            try:
                parsed = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                parsed = None
            if isinstance(parsed, (list, tuple)):
                return _label_list(list(parsed))
    return [part.strip() for part in text.split(MULTI_LABEL_SEPARATOR) if part.strip()]


def parse_coco(file) -> Parsed:
    try:
        data = json.load(_text(file))
        categories = {c["id"]: str(c["name"]) for c in data["categories"]}
        images = {
            img["id"]: tuple(str(img[k]) for k in ("file_name", "coco_url", "absolute_url") if img.get(k))
            for img in data["images"]
        }
        annotations = data["annotations"]
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text.") from None
    except json.JSONDecodeError as error:
        raise ValidationError(
            f"This is not a COCO file: it is not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})."
        ) from None
    except KeyError as error:
        raise ValidationError(f"This is not a COCO file: “{error.args[0]}” is missing.") from None
    except (ValueError, TypeError):
        raise ValidationError(
            "This is not a COCO file: it needs lists of images, categories and annotations, "
            "each entry an object with an id."
        ) from None
    parsed = Parsed()
    labels: dict = {}
    for ann in annotations:
        where = f"annotation {ann.get('id', '?')}" if isinstance(ann, dict) else "annotation ?"
        if not isinstance(ann, dict) or ann.get("image_id") not in images:
            parsed.invalid.append((where, "it refers to an image the file does not list"))
        elif ann.get("category_id") not in categories:
            parsed.invalid.append((where, "it refers to a category the file does not list"))
        else:
            names = labels.setdefault(ann["image_id"], [])
            if categories[ann["category_id"]] not in names:
                names.append(categories[ann["category_id"]])
    for image_id, names in labels.items():
        refs = images[image_id]
        if not refs:
            parsed.invalid.append((f"image {image_id}", "the image has no file_name"))
        else:
            parsed.rows.append(ImportRow(f"image {image_id}", refs, names))
    return parsed


def parse_jsonl(file) -> Parsed:
    parsed = Parsed()
    try:
        for number, line in enumerate(_text(file), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                parsed.invalid.append((f"line {number}", "the line is not JSON"))
                continue
            if not isinstance(obj, dict) or not obj.get("image_url"):
                parsed.invalid.append((f"line {number}", "the line has no image_url"))
                continue
            parsed.rows.append(ImportRow(f"line {number}", (str(obj["image_url"]),), _label_list(obj.get("label"))))
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text.") from None
    if parsed.invalid and not parsed.rows:
        raise ValidationError("This is not a JSON Lines dataset: no line has an image_url.")
    return parsed


def parse_csv(file) -> Parsed:
    parsed = Parsed()
    try:
        reader = csv.reader(_text(file))
        header = [h.strip().lower() for h in next(reader, [])]
        url_col = next((header.index(n) for n in ("image_url", "url") if n in header), None)
        label_col = header.index("label") if "label" in header else None
        if url_col is None or label_col is None:
            raise ValidationError("The CSV needs an image_url (or Url) column and a label (or Label) column.")
        for number, cells in enumerate(reader, start=2):
            if not any(c.strip() for c in cells):
                continue
            if len(cells) <= max(url_col, label_col) or not cells[url_col].strip():
                parsed.invalid.append((f"line {number}", "the row has no image URL"))
                continue
            url, labels = (spreadsheet_unsafe(cells[col].strip()) for col in (url_col, label_col))
            parsed.rows.append(ImportRow(f"line {number}", (url,), _label_list(labels)))
    except UnicodeDecodeError:
        raise ValidationError("The file is not UTF-8 text.") from None
    except csv.Error as error:
        raise ValidationError(f"The CSV cannot be read: {error}.") from None
    return parsed


PARSERS = {"coco": parse_coco, "jsonl": parse_jsonl, "csv": parse_csv}


def candidates(ref: str) -> list[str]:
    """Keys a reference may stand for, longest first: the path itself and every shorter suffix of it.

    `https://acct.blob.core.windows.net/container/a/b.jpg`, `s3://bucket/a/b.jpg`,
    `AmlDatastore://store/a/b.jpg`, `azureml://.../paths/a/b.jpg` and `a/b.jpg` all reach key `a/b.jpg`.
    """
    text = ref.strip()
    if "://" in text:  # a URL: drop scheme, query (a SAS token...) and fragment before decoding %xx
        path = text.split("://", 1)[1].split("?", 1)[0].split("#", 1)[0]
        variants = [unquote(path), path]
    else:
        variants = [text, unquote(text)]
    found: list[str] = []
    for variant in variants:
        parts = [p for p in variant.replace("\\", "/").split("/") if p not in ("", ".")][-MAX_SEGMENTS:]
        found += ["/".join(parts[i:]) for i in range(len(parts))]
    return list(dict.fromkeys(found))


def match_items(dataset_id: int, refs: Iterable[tuple[str, ...]]) -> dict[tuple[str, ...], int]:
    """Map each reference tuple to the DataItem id of the longest matching key (one query per 2,000 candidates)."""
    wanted = {}
    for ref in refs:
        # Longest paths first across all of the row's references: a bare file name never wins over a full path.
        found_all = dict.fromkeys(c for r in ref for c in candidates(r))
        wanted[ref] = sorted(found_all, key=lambda c: -c.count("/"))
    keys = sorted({c for cands in wanted.values() for c in cands})
    found: dict[str, int] = {}
    for start in range(0, len(keys), 2000):
        batch = keys[start : start + 2000]
        found.update(DataItem.objects.filter(dataset_id=dataset_id, key__in=batch).values_list("key", "pk"))
    result = {}
    for ref, cands in wanted.items():
        for candidate in cands:
            if candidate in found:
                result[ref] = found[candidate]
                break
    return result
