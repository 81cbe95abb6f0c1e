"""Maintained counters behind the dashboard: every service that changes tasks calls these in its transaction.

Counting rows at a million tasks is too slow for a page, so each write adjusts small counter rows
instead (one UPDATE per touched counter). `stats_rebuild` recomputes them from the tables.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F
from django.utils import timezone

from labeling.models import ActivityCount, Annotation, ClassCount, LabelerCount, Task, TaskStateCount


def _bump(model, lookup: dict, **deltas) -> None:
    """Add `deltas` to the counter row at `lookup`, creating it when missing (race-safe)."""
    deltas = {field: n for field, n in deltas.items() if n}
    if not deltas:
        return
    updates = {field: F(field) + n for field, n in deltas.items()}
    if model.objects.filter(**lookup).update(**updates):
        return
    try:
        with transaction.atomic():
            model.objects.create(**lookup, **deltas)
    except IntegrityError:
        model.objects.filter(**lookup).update(**updates)


def tasks_moved(*, project_id: int, moves: Counter) -> None:
    """`moves` maps (from_state, to_state) to a number of tasks; from_state None means newly created."""
    net: Counter = Counter()
    for (source, target), n in moves.items():
        if source:
            net[source] -= n
        if target:
            net[target] += n
    for state, n in net.items():
        _bump(TaskStateCount, {"project_id": project_id, "state": state}, count=n)


def labels_changed(*, project_id: int, classes: Counter) -> None:
    """`classes` maps label class id to +n (tags applied) or -n (tags removed)."""
    for class_id, n in classes.items():
        _bump(ClassCount, {"project_id": project_id, "label_class_id": class_id}, count=n)


def labeler_counted(*, project_id: int, user_id: int, labeled=0, skipped=0, approved=0, rejected=0) -> None:
    if user_id is None:
        return
    _bump(LabelerCount, {"project_id": project_id, "user_id": user_id},
          labeled=labeled, skipped=skipped, approved=approved, rejected=rejected)


def activity_counted(*, project_id: int, labeled: int, when: datetime | None = None) -> None:
    hour = (when or timezone.now()).replace(minute=0, second=0, microsecond=0)
    _bump(ActivityCount, {"project_id": project_id, "hour": hour}, labeled=labeled)


@transaction.atomic
def stats_rebuild(*, project) -> None:
    """Recompute every counter of a project from its tasks and annotations (repair tool)."""
    TaskStateCount.objects.filter(project=project).delete()
    ClassCount.objects.filter(project=project).delete()
    for row in Task.objects.filter(project=project).values("state").annotate(n=Count("id")):
        TaskStateCount.objects.create(project=project, state=row["state"], count=row["n"])
    current = Annotation.labels.through.objects.filter(
        annotation__task__project=project, annotation__is_current=True
    )
    for row in current.values("labelclass_id").annotate(n=Count("id")):
        ClassCount.objects.create(project=project, label_class_id=row["labelclass_id"], count=row["n"])


def state_counts(project) -> dict[str, int]:
    counts = {state: 0 for state in Task.State.values}
    for state, count in TaskStateCount.objects.filter(project=project).values_list("state", "count"):
        counts[state] = count
    return counts


