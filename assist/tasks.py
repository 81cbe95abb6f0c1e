"""ML assist's periodic check, on the default queue (it needs no ML package): queue a cycle where labels grew."""

from celery import shared_task

from assist import services


@shared_task(name="assist.retrain_due")
def ml_retrain_due_task() -> int:
    return services.ml_retrain_due_enqueue()
