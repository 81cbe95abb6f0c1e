"""Celery tasks for exports: thin, ids in, idempotent."""

from celery import shared_task

from exports.runner import export_run, exports_reap


@shared_task(acks_late=True, reject_on_worker_lost=True)
def export_run_task(export_id: int) -> bool:
    """Write one export. A duplicate or redelivered message for a done/claimed export does nothing."""
    return export_run(export_id=export_id)


@shared_task
def exports_reap_task() -> int:
    return exports_reap()
