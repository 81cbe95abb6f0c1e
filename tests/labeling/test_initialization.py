"""Creating a project's tasks: batches, counters, Initializing → Running, idempotence, a real worker."""

import os
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest
from django.conf import settings
from django.db import connection

from labeling import services
from labeling.models import Annotation, Task
from labeling.stats import state_counts
from projects.definition.services import project_create, project_state_set
from projects.models import DataItem, LabelingProject
from projects.signals import items_missing, items_registered
from tests.conftest import require
from tests.factories import DatasetFactory, ProjectFactory, items_add, owner, tasks_label, tasks_review


@pytest.mark.django_db
def test_thousands_of_items_become_tasks_once(workspace, celery_eager, monkeypatch):
    monkeypatch.setattr(services, "SYNC_BATCH_SIZE", 1000)
    dataset = DatasetFactory.create(workspace=workspace, items=3500)
    items_add(dataset, 40, state=DataItem.State.SKIPPED)
    project = ProjectFactory.create(workspace=workspace, dataset=dataset, state=LabelingProject.State.INITIALIZING)
    assert services.project_tasks_sync(project=project) == 3500
    project.refresh_from_db()
    assert project.state == LabelingProject.State.RUNNING
    assert Task.objects.filter(project=project).count() == 3500
    assert state_counts(project)["unlabeled"] == 3500
    assert len(set(Task.objects.filter(project=project).values_list("order_key", flat=True))) > 3400  # shuffled
    # Twice: nothing new, counters unchanged.
    assert services.project_tasks_sync(project=project) == 0
    assert Task.objects.filter(project=project).count() == 3500 and state_counts(project)["unlabeled"] == 3500


@pytest.mark.django_db
def test_items_registered_later_become_tasks(workspace, project, celery_eager, django_capture_on_commit_callbacks):
    from django.utils import timezone

    dataset = project.dataset
    archived = _archived_before_its_tasks(workspace, dataset)
    refreshing = ProjectFactory.create(workspace=workspace, dataset=dataset, name="fresh", incremental_refresh=True)
    # A (re)scan registered 5 new items: every live project gets them.
    items_add(dataset, 5)
    dataset.scan_finished_at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        items_registered.send(sender=None, dataset=dataset)
    assert Task.objects.filter(project=project).count() == 17
    assert state_counts(project)["unlabeled"] == 17
    assert Task.objects.filter(project=refreshing).count() == 17
    assert not Task.objects.filter(project=archived).exists()
    # An incremental refresh found 3 more: only the project with incremental refresh on takes them.
    items_add(dataset, 3)
    dataset.last_refresh_at = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        items_registered.send(sender=None, dataset=dataset)
    assert Task.objects.filter(project=refreshing).count() == 20
    assert Task.objects.filter(project=project).count() == 17
    # Turning incremental refresh on later brings the project up to date at the next refresh.
    LabelingProject.objects.filter(pk=project.pk).update(incremental_refresh=True)
    with django_capture_on_commit_callbacks(execute=True):
        items_registered.send(sender=None, dataset=dataset)
    assert Task.objects.filter(project=project).count() == 20 and state_counts(project)["unlabeled"] == 20


@pytest.mark.django_db
def test_missing_items_leave_the_queue(project, labeler, celery_eager, django_capture_on_commit_callbacks):
    tasks = list(Task.objects.filter(project=project).order_by("pk").select_related("item"))
    tasks_label(project, tasks[:2], user=labeler)
    tasks_review(project, tasks[1:2], decision="reject")  # history, unlabeled again
    assert Annotation.objects.filter(task=tasks[1], is_current=False).exists()
    DataItem.objects.filter(pk__in=[t.item_id for t in tasks[:4]]).update(state=DataItem.State.MISSING)
    with django_capture_on_commit_callbacks(execute=True):
        items_missing.send(sender=None, dataset=project.dataset)
    assert Counter(Task.objects.filter(project=project).values_list("state", flat=True)) == {
        "unlabeled": 8,
        "labeled": 1,
        "skipped": 1,
    }
    assert state_counts(project) == {"unlabeled": 8, "labeled": 1, "skipped": 1, "approved": 0}
    assert not Task.objects.filter(pk__in=[tasks[2].pk, tasks[3].pk]).exists()
    # When the files come back, a refresh recreates their tasks.
    DataItem.objects.filter(pk__in=[t.item_id for t in tasks[:4]]).update(state=DataItem.State.READY)
    assert services.project_tasks_sync(project=project) == 2


def _archived_before_its_tasks(workspace, dataset, name="old"):
    project = ProjectFactory.create(
        workspace=workspace, dataset=dataset, name=name, state=LabelingProject.State.INITIALIZING
    )
    return project_state_set(project=project, actor=owner(), action="archive")


@pytest.mark.django_db
def test_archived_project_gets_no_tasks(workspace, celery_eager):
    project = _archived_before_its_tasks(workspace, DatasetFactory.create(workspace=workspace, items=10))
    assert services.project_tasks_sync(project=project) == 0
    assert not Task.objects.filter(project=project).exists()


# ---- A real Celery worker against PostgreSQL ---------------------------------------------------


def _worker_env(db_name: str) -> dict:
    url = os.environ.get("DATABASE_URL", "")
    base = url.rsplit("/", 1)[0]
    env = {**os.environ, "DATABASE_URL": f"{base}/{db_name}", "CELERY_TASK_ALWAYS_EAGER": "false"}
    return env


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_initializes_3000_items(postgres, workspace, manager, django_capture_on_commit_callbacks):
    broker = settings.CELERY_BROKER_URL
    require(not broker.startswith("memory"), "Celery broker", "set CELERY_BROKER_URL (redis:// or filesystem://)")
    dataset = DatasetFactory.create(workspace=workspace, items=3000)
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "labelsite",
            "worker",
            "--pool",
            "solo",
            "-Q",
            "celery",
            "--loglevel",
            "WARNING",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=settings.BASE_DIR,
        env=_worker_env(connection.settings_dict["NAME"]),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        project = project_create(
            workspace=workspace,
            actor=manager,
            name="big",
            task_type="multiclass",
            dataset=dataset,
            incremental_refresh=False,
            label_names=["Cat", "Dog"],
        )  # autocommit: the on-commit enqueue happens right away
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            project.refresh_from_db()
            if project.state == LabelingProject.State.RUNNING:
                break
            assert worker.poll() is None, worker.stdout.read().decode()[-3000:]
            time.sleep(0.5)
        assert project.state == LabelingProject.State.RUNNING, "the worker did not initialize the project in time"
        assert Task.objects.filter(project=project).count() == 3000
        assert state_counts(project)["unlabeled"] == 3000
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
