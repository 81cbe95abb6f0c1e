"""A real ML worker (its own queue, `--include assist.worker`) against PostgreSQL and Redis: Train now over the API
runs the whole cycle on real image files, and the pre-labels and metrics appear."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from assist.models import MlRun
from assist.services import STAGES
from core.features import ml_missing
from labeling.models import PreLabel
from labelsite.celery import app as celery_app
from tests.conftest import require
from tests.exports.test_worker import _redis_answers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(tmp_path, transactional_roles, image_root):
    """The ML worker as `make run` starts it: queue `ml`, one process, the pipeline module included."""
    require(not ml_missing(), "ML assist packages", "pip install -r requirements-ml.txt")
    require(
        connection.vendor == "postgresql",
        "PostgreSQL",
        "run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> for the real-worker tests",
    )
    require(
        _redis_answers(settings.CELERY_BROKER_URL),
        "Redis broker",
        "run with CELERY_BROKER_URL=redis://127.0.0.1:6379/<db> and a Redis server for the real-worker tests",
    )
    celery_app.conf.task_always_eager = False
    celery_app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "LABELSITE_DATA_DIR": str(tmp_path / "worker-data"),
        "LABELSITE_LOCAL_DATASTORE_ROOTS": str(image_root),
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    log_path = tmp_path / "ml-worker.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "labelsite",
                "worker",
                "--queues",
                "ml",
                "--include",
                "assist.worker",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "info",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready" not in log_path.read_text():
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "the ML worker did not start"
        time.sleep(0.2)
    yield log_path
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_train_now_runs_the_cycle_on_the_ml_worker(
    worker, make_world, manager, labeler, manager_client, org, workspace
):
    world = make_world(per_class=16, ml_target_accuracy=90)
    world.label(6, labeler)
    base = f"/api/v1/o/{org.slug}/{workspace.slug}/projects/{world.project.uuid}/ml/"

    assert manager_client.post(base + "train/").status_code == 202

    deadline = time.monotonic() + 600
    while MlRun.objects.filter(project=world.project, state__in=MlRun.ACTIVE).exists():
        assert time.monotonic() < deadline, worker.read_text()[-3000:]
        time.sleep(0.5)
    runs = {run.kind: run for run in MlRun.objects.filter(project=world.project)}
    assert [runs[kind].state for kind in STAGES] == ["done"] * len(STAGES), {k: r.error for k, r in runs.items()}
    status = manager_client.get(base).json()
    assert status["prelabeled"] == PreLabel.objects.filter(task__project=world.project).count() > 0
    assert status["validation"]["accuracy_pct"] >= 90 and status["clustered"] == 20
    page = manager_client.get(f"/o/{org.slug}/{workspace.slug}/projects/{world.project.uuid}/").content.decode()
    assert "tasks pre-labeled" in page and 'data-kind="prelabel" data-state="done"' in page
