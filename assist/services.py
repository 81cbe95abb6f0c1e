"""Writes of ML assist in the web process and in beat: queueing a pipeline cycle (Train now, or because the labels
grew), and ending runs whose worker went silent. The pipeline itself runs in the ML worker (`assist.worker`)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from assist.models import MlRun
from core.errors import Conflict
from core.features import ml_available, ml_unavailable_reason
from labeling import services as labeling_services
from labeling.models import Task, TaskStateCount
from projects.guards import perm_check
from projects.models import LabelingProject

PIPELINE_TASK = "assist.pipeline_run"
STAGES = [MlRun.Kind.FEATURIZE, MlRun.Kind.TRAIN, MlRun.Kind.VALIDATE, MlRun.Kind.PRELABEL, MlRun.Kind.CLUSTER]
# A queued cycle waits behind others on the one ML worker; a running step reports at least this often.
QUEUED_FOR_AT_MOST = timedelta(hours=24)
SILENT_FOR_AT_MOST = timedelta(minutes=30)
# Retrain once the labels grew by this share or this many since the last cycle, whichever comes first; also when
# the project gained this share of new tasks (they need features and an order).
GROWTH_SHARE, GROWTH_LABELS, GROWTH_TASKS = 0.2, 50, 0.2


def project_counts(project: LabelingProject) -> tuple[int, int]:
    """(labels, tasks) from the dashboard counters: labeled + approved tasks, and every task. Two small reads."""
    rows = dict(TaskStateCount.objects.filter(project=project).values_list("state", "count"))
    labels = rows.get(Task.State.LABELED, 0) + rows.get(Task.State.APPROVED, 0)
    return labels, sum(rows.values())


def ml_runs_stale_end(*, project: LabelingProject | None = None) -> int:
    """Runs whose worker went silent (or a cycle that never started) end as failed, so a new cycle can start."""
    now = timezone.now()
    runs = MlRun.objects.all() if project is None else MlRun.objects.filter(project=project)
    silent = runs.filter(state=MlRun.State.RUNNING, heartbeat_at__lt=now - SILENT_FOR_AT_MOST).update(
        state=MlRun.State.FAILED, finished_at=now, error="The ML worker stopped answering during this step."
    )
    waited = runs.filter(state=MlRun.State.QUEUED, created_at__lt=now - QUEUED_FOR_AT_MOST).update(
        state=MlRun.State.FAILED,
        finished_at=now,
        error="No ML worker took this run within a day: is one running (celery … -Q ml --include assist.worker)?",
    )
    return silent + waited


def cycle_active(project: LabelingProject) -> bool:
    return MlRun.objects.filter(project=project, state__in=MlRun.ACTIVE).exists()


@transaction.atomic
def ml_cycle_request(*, project: LabelingProject, actor=None, trigger: str = MlRun.Trigger.MANUAL) -> uuid.UUID:
    """Queue one pipeline cycle (a run per step) for the ML worker; returns the cycle id.

    Refused where ML assist cannot run or is off for the project; Conflict while a cycle is queued or running
    (the project row lock makes two requests at once queue one cycle).
    """
    if actor is not None:
        perm_check(actor, project.workspace, "projects.change_labelingproject")
    if not ml_available():
        raise Conflict(ml_unavailable_reason(), code="ml_unavailable")
    LabelingProject.objects.select_for_update().filter(pk=project.pk).first()
    project.refresh_from_db(fields=["ml_assisted", "state"])
    if not project.ml_assisted:
        raise Conflict("ML assisted labeling is off for this project: turn it on in Settings first.", code="ml_off")
    if project.state == LabelingProject.State.ARCHIVED:
        raise Conflict("The project is archived.", code="archived")
    ml_runs_stale_end(project=project)
    if cycle_active(project):
        raise Conflict("A training cycle is queued or running already; it shows its progress below.", code="ml_busy")
    labels, tasks = project_counts(project)
    cycle = uuid.uuid4()
    MlRun.objects.bulk_create(
        [
            MlRun(
                project=project,
                cycle=cycle,
                kind=kind,
                trigger=trigger,
                created_by=actor,
                labels_at_request=labels,
                tasks_at_request=tasks,
            )
            for kind in STAGES
        ]
    )
    transaction.on_commit(lambda: current_app.send_task(PIPELINE_TASK, args=[str(cycle)], queue="ml"))
    return cycle


def retrain_due(project: LabelingProject) -> bool:
    """Whether the project's labels (or tasks) grew enough since its last cycle to run another: a few small reads."""
    last = MlRun.objects.filter(project=project).order_by("-created_at").first()
    labels, tasks = project_counts(project)
    if last is None:
        return tasks > 0  # features and clusters need no labels
    grown = labels - last.labels_at_request
    if labels >= project.ml_min_labels and grown >= min(GROWTH_LABELS, max(1, GROWTH_SHARE * last.labels_at_request)):
        return True
    return tasks - last.tasks_at_request >= max(1, GROWTH_TASKS * last.tasks_at_request)


def ml_suggestions_withdraw() -> int:
    """Projects whose ML assist was switched off lose the model's suggestions (imported ones stay). Found from each
    such project's finished pre-label runs that still count suggestions, not by scanning pre-labels; those runs then
    record the withdrawal. Returns how many suggestions were removed."""
    removed = 0
    runs = MlRun.objects.filter(
        kind=MlRun.Kind.PRELABEL, state=MlRun.State.DONE, project__ml_assisted=False, metrics__prelabeled__gt=0
    )
    for project_id in set(runs.values_list("project_id", flat=True)):
        project = LabelingProject.objects.get(pk=project_id)
        removed += labeling_services.prelabels_model_clear(project=project)
        for run in runs.filter(project=project):
            run.metrics = {**run.metrics, "prelabeled": 0, "withdrawn": True}
            run.message = "Suggestions withdrawn: ML assist was switched off."
            run.save(update_fields=["metrics", "message"])
    return removed


def ml_retrain_due_enqueue() -> int:
    """For beat: queue a cycle for every live ML-assisted project whose labels grew enough; returns how many. Also
    withdraws the model's suggestions from projects that switched ML assist off."""
    ml_suggestions_withdraw()
    if not ml_available():
        return 0
    ml_runs_stale_end()
    queued = 0
    projects = LabelingProject.objects.filter(ml_assisted=True, state=LabelingProject.State.RUNNING)
    for project in projects.iterator():
        if cycle_active(project) or not retrain_due(project):
            continue
        try:
            ml_cycle_request(project=project, trigger=MlRun.Trigger.AUTO)
        except Conflict:
            continue  # started meanwhile, or switched off
        queued += 1
    return queued


def retrain_interval() -> int:
    return settings.LABELSITE_ML_RETRAIN_INTERVAL
