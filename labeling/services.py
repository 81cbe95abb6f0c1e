"""Writes to tasks that belong to project setup: creating a project's tasks, reacting to missing
items, and removing a label class from a running project."""

from __future__ import annotations

from collections import Counter

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from labeling import stats
from labeling.models import Annotation, Task
from projects.models import DataItem, LabelClass, LabelingProject
from projects.services import label_classes_renumber

SYNC_BATCH_SIZE = 10_000
ORDER_KEY_MAX = 2**31 - 1


def _task_insert_columns(project_id: int) -> tuple[list[str], list[str], list]:
    """Columns, SQL expressions and parameters for INSERT … SELECT of new tasks from data items.

    Built from the model so a field added later is filled with its default (or NULL) without
    touching this code. The expression `i.id` is the item; order_key is random per row.
    """
    if connection.vendor == "postgresql":
        random_expr = f"floor(random() * {ORDER_KEY_MAX})::integer"
    else:  # SQLite; "%%" is a literal % once the parameters are substituted
        random_expr = f"abs(random() %% {ORDER_KEY_MAX})"
    columns, exprs, params = [], [], []
    for field in Task._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.name == "project":
            expr, values = "%s", [project_id]
        elif field.name == "item":
            expr, values = "i.id", []
        elif field.name == "state":
            expr, values = "%s", [Task.State.UNLABELED.value]
        elif field.name == "order_key":
            expr, values = random_expr, []
        elif field.name == "created_at":
            expr, values = "%s", [field.get_db_prep_save(timezone.now(), connection)]
        elif field.null:
            expr, values = "NULL", []
        elif field.has_default():
            expr, values = "%s", [field.get_db_prep_save(field.get_default(), connection)]
        else:
            continue  # a database default fills it
        columns.append(connection.ops.quote_name(field.column))
        exprs.append(expr)
        params.extend(values)
    return columns, exprs, params


def _sync_batch(project_id: int, after_item_id: int) -> tuple[int, int | None]:
    """Create the missing tasks for the next batch of READY items; (created, last item id or None).

    One INSERT … SELECT … ON CONFLICT DO NOTHING per batch: the database skips (project, item)
    pairs that already have a task and tells how many rows it really inserted.
    """
    with transaction.atomic():
        # The project row lock serializes syncs of one project (and archiving), so counters move
        # by exactly the rows this batch inserted.
        project = LabelingProject.objects.select_for_update().filter(pk=project_id).first()
        if project is None or project.state == LabelingProject.State.ARCHIVED:
            return 0, None
        ready = DataItem.objects.filter(dataset_id=project.dataset_id, state=DataItem.State.READY, pk__gt=after_item_id)
        upper = ready.order_by("pk").values_list("pk", flat=True)[SYNC_BATCH_SIZE - 1:SYNC_BATCH_SIZE].first()
        columns, exprs, params = _task_insert_columns(project_id)
        sql = (
            f"INSERT INTO {connection.ops.quote_name(Task._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {', '.join(exprs)} FROM {connection.ops.quote_name(DataItem._meta.db_table)} i "
            f"WHERE i.dataset_id = %s AND i.state = %s AND i.id > %s"
            + (" AND i.id <= %s" if upper is not None else "")
            # The anti-join lets a re-sync of a big project skip existing pairs in bulk; ON CONFLICT
            # still covers a pair inserted concurrently (so the rowcount stays exact).
            + f" AND NOT EXISTS (SELECT 1 FROM {connection.ops.quote_name(Task._meta.db_table)} t"
            " WHERE t.project_id = %s AND t.item_id = i.id)"
            " ON CONFLICT DO NOTHING"
        )
        params += [project.dataset_id, DataItem.State.READY.value, after_item_id]
        params += ([upper] if upper is not None else []) + [project_id]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            created = max(cursor.rowcount, 0)
        if created:
            stats.tasks_moved(project_id=project_id, moves=Counter({(None, Task.State.UNLABELED.value): created}))
        return created, upper


def project_tasks_sync(*, project: LabelingProject) -> int:
    """One task per READY item of the project's dataset, created in batches; idempotent.

    Then an Initializing project becomes Running. Returns how many tasks were created.
    """
    created, after = 0, 0
    while after is not None:
        n, after = _sync_batch(project.pk, after)
        created += n
    LabelingProject.objects.filter(pk=project.pk, state=LabelingProject.State.INITIALIZING).update(
        state=LabelingProject.State.RUNNING
    )
    return created


@transaction.atomic
def project_missing_items_withdraw(*, project: LabelingProject) -> int:
    """Items gone from storage are no longer served: their unlabeled tasks leave the queue.

    Tasks without any annotation are deleted (a refresh that finds the file again recreates them);
    ones with history become Skipped so that history stays. Labeled and approved tasks keep their
    tags (the labels were made on the image while it existed). Returns how many tasks left the queue.
    """
    LabelingProject.objects.select_for_update().filter(pk=project.pk).first()
    gone = Task.objects.filter(project=project, state=Task.State.UNLABELED, item__state=DataItem.State.MISSING)
    with_history = gone.filter(annotations__isnull=False).values_list("pk", flat=True).distinct()
    skipped = Task.objects.filter(pk__in=list(with_history)).update(
        state=Task.State.SKIPPED, leased_to=None, lease_expires=None, version=F("version") + 1
    )
    _, per_model = Task.objects.filter(
        pk__in=list(gone.filter(annotations__isnull=True).values_list("pk", flat=True))
    ).delete()
    deleted_tasks = per_model.get(Task._meta.label, 0)
    moves = Counter({(Task.State.UNLABELED.value, Task.State.SKIPPED.value): skipped,
                     (Task.State.UNLABELED.value, None): deleted_tasks})
    stats.tasks_moved(project_id=project.pk, moves=+moves)
    return skipped + deleted_tasks


@transaction.atomic
def label_class_remove(*, project: LabelingProject, label_class: LabelClass, requeue: bool, actor) -> int:
    """Take a class out of the project's choices.

    requeue=False keeps existing tags (the class stays on those annotations, marked removed);
    requeue=True sends every task whose current annotation carries it back to the queue: the
    annotation stops being current (history is kept) and the task is Unlabeled again.
    Returns the number of tasks sent back.
    """
    if not actor.has_perm("projects.delete_labelclass", project):
        raise PermissionDenied("You need the permission to remove label classes.")
    if label_class.project_id != project.pk:
        raise ValidationError("That label class belongs to another project.")
    LabelingProject.objects.select_for_update().filter(pk=project.pk).first()
    label_class = LabelClass.objects.select_for_update().get(pk=label_class.pk)
    if label_class.removed_at is not None:
        raise ValidationError("That label class was already removed.")
    active = list(LabelClass.objects.filter(project=project).active().exclude(pk=label_class.pk))
    if len(active) < 2:
        raise ValidationError("A project keeps at least two label classes.")
    requeued = _requeue_tasks_with_class(project, label_class) if requeue else 0
    label_class.removed_at = timezone.now()
    label_class.position = LabelClass.REMOVED_POSITION
    label_class.save(update_fields=["removed_at", "position"])
    label_classes_renumber(project=project, ordered=active)
    return requeued


def _requeue_tasks_with_class(project: LabelingProject, label_class: LabelClass) -> int:
    annotations = Annotation.objects.filter(task__project=project, is_current=True, labels=label_class)
    annotation_ids = list(annotations.values_list("pk", flat=True))
    if not annotation_ids:
        return 0
    tasks = Task.objects.filter(annotations__pk__in=annotation_ids).select_for_update()
    moves = Counter((state, Task.State.UNLABELED.value) for state in tasks.values_list("state", flat=True))
    class_counts = Counter(
        Annotation.labels.through.objects.filter(annotation_id__in=annotation_ids).values_list("labelclass_id", flat=True)
    )
    Annotation.objects.filter(pk__in=annotation_ids).update(is_current=False)
    requeued = Task.objects.filter(annotations__pk__in=annotation_ids).update(
        state=Task.State.UNLABELED, leased_to=None, lease_expires=None, labeled_by=None, labeled_at=None,
        version=F("version") + 1,
    )
    moves.pop((Task.State.UNLABELED.value, Task.State.UNLABELED.value), None)
    stats.tasks_moved(project_id=project.pk, moves=moves)
    stats.labels_changed(project_id=project.pk, classes=Counter({k: -n for k, n in class_counts.items()}))
    return requeued
