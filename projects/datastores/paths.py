"""Folder paths inside a datastore as people and programs give them: one rule, in one function.

Every path that arrives from outside — a dataset's folder (wizard, API, admin), a folder to browse (page, API,
admin), a local datastore's folder — goes through `path_clean`, so all of them answer the same to odd input:
`\\` counts as `/` (as for object keys: Azure reads it so); empty and `.` segments go (leading, trailing and
repeated slashes, `./`); a `..` segment, a control character (NUL, newline…) or more than PATH_MAX_LENGTH
characters is refused with `core.errors.Invalid`. Nothing else changes: letters, case, spaces and Unicode are
kept exactly (object keys are compared as they are written).

Object keys a scan lists are data, not requests: they are never rewritten, only refused when unsafe
(`storage.key_refusal`); names written into export archives are made safe by `exports.writers.safe_name`.
"""

from __future__ import annotations

import re

from core.errors import Invalid
from projects.models import Dataset

PATH_MAX_LENGTH: int = Dataset._meta.get_field("path").max_length or 1000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def path_clean(path: str | None, *, field: str | None = "path", absolute: bool = False) -> str:
    """`path` as `a/b` (no leading, trailing or doubled slash); with `absolute`, a leading `/` is kept (a local
    folder on the server). Invalid (on `field`, or plain when None) for `..`, control characters or a path
    longer than PATH_MAX_LENGTH."""
    text = (path or "").replace("\\", "/")
    problem = None
    if _CONTROL.search(text):
        problem = Invalid(
            "The path may not contain control characters (such as NUL or a line break).", code="path_control"
        )
    segments = [segment for segment in text.split("/") if segment not in ("", ".")]
    if problem is None and ".." in segments:
        problem = Invalid(
            "The path may not contain '..': give the folder from the top of the datastore.", code="path_parent"
        )
    cleaned = ("/" if absolute and text.startswith("/") else "") + "/".join(segments)
    if problem is None and len(cleaned) > PATH_MAX_LENGTH:
        problem = Invalid(
            "The path is longer than %(limit)s characters.",
            code="path_too_long",
            params={"limit": f"{PATH_MAX_LENGTH:,}"},
        )
    if problem is not None:
        raise Invalid({field: [problem]}) if field else problem
    return cleaned


def path_parent(path: str) -> str | None:
    """The folder above a cleaned path; None at the top."""
    return path.rpartition("/")[0] if path else None


def path_child(path: str, name: str) -> str:
    """A sub-folder `name` (as a listing gives it) of a cleaned path."""
    return f"{path}/{name}" if path else name
