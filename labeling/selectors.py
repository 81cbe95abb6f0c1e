"""Reads for the labeling pages."""

from __future__ import annotations

from collections.abc import Iterable

from labeling.models import PreLabel


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
