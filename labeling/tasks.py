"""Celery tasks of labeling: thin, ids in, idempotent."""

from celery import shared_task

from labeling import services
from projects.models import LabelingProject


@shared_task(acks_late=True)
def project_tasks_sync_task(project_id: int) -> int:
    """Create the project's missing tasks (safe to run twice or concurrently) and start it."""
    project = LabelingProject.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return services.project_tasks_sync(project=project)


@shared_task(acks_late=True)
def project_missing_items_withdraw_task(project_id: int) -> int:
    project = LabelingProject.objects.filter(pk=project_id).first()
    if project is None:
        return 0
    return services.project_missing_items_withdraw(project=project)
