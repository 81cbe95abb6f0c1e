"""The ML worker's Celery task (queue `ml`). Only that worker imports this module (`--include assist.worker`):
it pulls in torch and scikit-learn, which the web process and the default worker never load."""

from celery import shared_task

from assist import pipeline


@shared_task(name="assist.pipeline_run", acks_late=True)
def pipeline_run(cycle: str) -> None:
    """Run one queued cycle; its runs record the outcome (the model stays loaded for the next cycle)."""
    pipeline.cycle_run(cycle)
