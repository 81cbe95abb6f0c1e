"""Celery tasks for datasets: scan, refresh, the periodic refresh and thumbnails. Ids in, idempotent.

Each keeps the name it had when it lived in projects/tasks.py, so messages queued by an older release (and the
beat schedule) still reach it."""

from celery import shared_task
from django.db.models import Q
from django.db.models.functions import Now

from projects.datastores import scanning
from projects.models import DataItem, Dataset

THUMBNAIL_BATCH = 100


@shared_task(ignore_result=True, name="projects.tasks.dataset_scan_task")
def dataset_scan_task(dataset_id: int, requested_by: int | None = None) -> None:
    if Dataset.objects.filter(pk=dataset_id).exists():
        scanning.dataset_sync(dataset_id, mode="scan", requested_by=requested_by)


@shared_task(ignore_result=True, name="projects.tasks.dataset_refresh_task")
def dataset_refresh_task(dataset_id: int, requested_by: int | None = None) -> None:
    if Dataset.objects.filter(pk=dataset_id).exists():
        scanning.dataset_sync(dataset_id, mode="refresh", requested_by=requested_by)


@shared_task(ignore_result=True, name="projects.tasks.datasets_refresh_due_task")
def datasets_refresh_due_task() -> int:
    """Beat: re-list every dataset used by a project with incremental refresh on."""
    free = Q(busy_until__isnull=True) | Q(busy_until__lt=Now())  # a dead worker's lease expires (database clock)
    ids = list(Dataset.objects.filter(free, projects__incremental_refresh=True).values_list("pk", flat=True).distinct())
    for dataset_id in ids:
        dataset_refresh_task.delay(dataset_id)
    return len(ids)


@shared_task(ignore_result=True, name="projects.tasks.dataset_thumbnails_task")
def dataset_thumbnails_task(dataset_id: int) -> None:
    """Thumbnails for a batch of a dataset's items; queues itself again while some remain."""
    if scanning.thumbnails_batch(dataset_id, limit=THUMBNAIL_BATCH) == THUMBNAIL_BATCH:
        dataset_thumbnails_task.delay(dataset_id)


@shared_task(ignore_result=True, name="projects.tasks.item_thumbnail_task")
def item_thumbnail_task(item_id: int) -> None:
    item = DataItem.objects.select_related("dataset__datastore").filter(pk=item_id, state=DataItem.State.READY).first()
    if item is not None:
        scanning.make_thumbnail(item)


@shared_task(ignore_result=True, name="projects.tasks.dataset_thumbnails_delete_task")
def dataset_thumbnails_delete_task(dataset_uuid: str) -> None:
    """After a dataset was deleted: remove its thumbnail files."""
    scanning.thumbnails_delete(dataset_uuid)
