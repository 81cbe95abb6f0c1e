"""When a cycle starts by itself (labels grew by 20 % or 50, new tasks) and how a silent worker's runs end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assist.models import MlRun
from assist.services import ml_cycle_request, ml_retrain_due_enqueue, ml_runs_stale_end, retrain_due
from core import features
from labeling.models import Task
from projects.models import LabelingProject
from tests.factories import project_items_add, tasks_label

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def ml_installed(monkeypatch):
    monkeypatch.setattr(features, "ml_missing", lambda: ())


@pytest.fixture
def ml_project(project):
    LabelingProject.objects.filter(pk=project.pk).update(ml_assisted=True, ml_min_labels=10)
    project.refresh_from_db()
    return project


def label(project, n, user):
    tasks = list(Task.objects.filter(project=project, state="unlabeled").order_by("id")[:n])
    tasks_label(project, tasks, user=user, labels=project.label_classes.first())


def finish_all():
    MlRun.objects.update(state=MlRun.State.DONE)


def test_a_new_project_gets_a_first_cycle_for_its_features_and_clusters(ml_project):
    assert retrain_due(ml_project)
    assert ml_retrain_due_enqueue() == 1 and MlRun.objects.filter(trigger="auto").count() == 5
    assert ml_retrain_due_enqueue() == 0, "never a second cycle while one is queued"


def test_labels_growing_by_a_fifth_start_the_next_cycle(ml_project, labeler, settings):
    label(ml_project, 10, labeler)
    ml_cycle_request(project=ml_project)
    finish_all()
    assert not retrain_due(ml_project)
    label(ml_project, 1, labeler)  # 11 of 10 before: +10 %, and fewer than 50 more
    assert not retrain_due(ml_project)
    label(ml_project, 1, labeler)  # +20 %
    assert retrain_due(ml_project)


def test_fifty_more_labels_are_enough_on_a_big_project(ml_project, labeler):
    project_items_add(ml_project, 400)
    label(ml_project, 300, labeler)
    ml_cycle_request(project=ml_project)
    finish_all()
    label(ml_project, 49, labeler)
    assert not retrain_due(ml_project)
    label(ml_project, 1, labeler)
    assert retrain_due(ml_project)


def test_no_cycle_for_projects_without_ml_assist_or_not_running(project, ml_project):
    LabelingProject.objects.filter(pk=project.pk).update(state=LabelingProject.State.PAUSED)
    assert ml_retrain_due_enqueue() == 0
    LabelingProject.objects.filter(pk=project.pk).update(state=LabelingProject.State.RUNNING, ml_assisted=False)
    assert ml_retrain_due_enqueue() == 0


def test_nothing_is_queued_on_a_server_without_the_packages(ml_project, monkeypatch):
    monkeypatch.setattr(features, "ml_missing", lambda: ("torch",))
    assert ml_retrain_due_enqueue() == 0 and not MlRun.objects.exists()


def test_a_silent_worker_leaves_failed_runs_and_the_next_cycle_can_start(ml_project):
    ml_cycle_request(project=ml_project)
    MlRun.objects.filter(kind="featurize").update(
        state=MlRun.State.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert ml_runs_stale_end() == 1
    run = MlRun.objects.get(kind="featurize")
    assert run.state == "failed" and "stopped answering" in run.error
    MlRun.objects.filter(state="queued").update(created_at=timezone.now() - timedelta(days=2))
    assert ml_runs_stale_end() == 4
    assert ml_cycle_request(project=ml_project)


def test_switching_ml_assist_off_withdraws_the_models_suggestions(ml_project):
    from labeling.models import PreLabel

    tasks = list(Task.objects.filter(project=ml_project).order_by("id")[:3])
    cat = ml_project.label_classes.first()
    for task, source in zip(tasks, ("model", "model", "import"), strict=True):
        PreLabel.objects.create(task=task, source=source, confidence=0.99 if source == "model" else None).labels.add(
            cat
        )
    cycle = ml_cycle_request(project=ml_project)
    finish_all()
    MlRun.objects.filter(cycle=cycle, kind="prelabel").update(metrics={"prelabeled": 2})

    ml_retrain_due_enqueue()
    assert PreLabel.objects.filter(task__project=ml_project).count() == 3, "still on: the suggestions stay"

    LabelingProject.objects.filter(pk=ml_project.pk).update(ml_assisted=False)
    ml_retrain_due_enqueue()
    assert list(PreLabel.objects.filter(task__project=ml_project).values_list("source", flat=True)) == ["import"]
    run = MlRun.objects.get(cycle=cycle, kind="prelabel")
    assert run.metrics["withdrawn"] and run.metrics["prelabeled"] == 0
