"""Items registered before scans refused unsafe keys: mark them Refused, as a scan now would.

Such a key ('..' or '.' segments, a name ending in a dot, a leading slash, a control character) may have been read from
another container; its thumbnail stops being shown (the file goes with the dataset's thumbnail folder).
The rules are copied from projects.datastores.storage.key_refusal so this migration keeps its meaning.
"""

import re

from django.db import migrations
from django.db.models import Q

DOT_SEGMENT = re.compile(r"(?:^|[/\\])\.{1,2}(?=$|[/\\])")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def reason_for(key: str) -> str:
    if CONTROL.search(key):
        return "The name contains a control character (such as a newline)."
    if key.startswith(("/", "\\")):
        return "The name starts with a slash."
    if DOT_SEGMENT.search(key):
        return "The name has a '.' or '..' path segment, which could address another object."
    if "./" in key or ".\\" in key or key.endswith("."):
        return "A folder or file name in it ends with a dot, which Azure and Windows drop, so it could address another object."
    return ""


def refuse(apps, schema_editor):
    DataItem = apps.get_model("projects", "DataItem")
    # Every unsafe key matches one of these; the exact rule runs on the few rows they find.
    candidates = (
        Q(key__startswith="/") | Q(key__startswith="\\") | Q(key__contains="./") | Q(key__contains=".\\")
        | Q(key__endswith=".") | Q(key__regex="[\x01-\x1f\x7f-\x9f]")
    )
    rows = DataItem.objects.filter(candidates).exclude(state="refused").values_list("pk", "key")
    for pk, key in list(rows):
        reason = reason_for(key)
        if reason:
            DataItem.objects.filter(pk=pk).update(state="refused", reason=reason, thumbnail="")


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0008_dataitem_refused_state"),
    ]

    operations = [
        migrations.RunPython(refuse, migrations.RunPython.noop),
    ]
