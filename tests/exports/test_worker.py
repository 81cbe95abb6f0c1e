"""A real Celery worker against PostgreSQL and Redis: exports finish, and a killed worker never leaves one "running"."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection
from pycocotools.coco import COCO

from exports.runner import exports_reap
from exports.services import export_create, export_retry
from labelsite.celery import app as celery_app
from projects.models import Notification
from tests.conftest import require
from tests.exports.bulk import bulk_label

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


def _redis_answers(url: str) -> bool:
    if not url.startswith("redis://"):
        return False
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 — whatever fails, there is no Redis to use
        return False


@pytest.fixture
def worker(tmp_path, transactional_roles, postgres):
    require(
        _redis_answers(settings.CELERY_BROKER_URL),
        "Redis broker",
        "run with CELERY_BROKER_URL=redis://127.0.0.1:6379/<db> and a Redis server for the real-worker tests",
    )
    celery_app.conf.task_always_eager = False  # the autouse fixture restores it
    celery_app.control.purge()
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "LABELSITE_DATA_DIR": str(tmp_path / "worker-data"),
        "LABELSITE_EXPORT_HEARTBEAT_INTERVAL": "1",
        "LABELSITE_EXPORT_CHUNK_SIZE": "500",
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    started: list = []

    def start():
        log = open(tmp_path / f"worker-{len(started)}.log", "w")  # noqa: SIM115 — the worker writes it until stopped
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "labelsite",
                "worker",
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
        started.append(process)
        deadline = time.monotonic() + 60
        while "ready" not in (tmp_path / f"worker-{len(started) - 1}.log").read_text():
            assert process.poll() is None, (tmp_path / f"worker-{len(started) - 1}.log").read_text()
            assert time.monotonic() < deadline, "the worker did not start"
            time.sleep(0.2)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(export, states, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.state in states:
            return export
        time.sleep(0.02)
    pytest.fail(f"export stayed {export.state}")


def test_a_real_worker_writes_the_export(worker, project, manager, tmp_path):
    worker()
    export = export_create(project=project, actor=manager, format="coco")
    wait_for(export, {"done", "failed"})
    assert export.state == "done", export.error
    path = tmp_path / "export.json"
    path.write_bytes(default_storage.open(export.file).read())
    assert len(COCO(str(path)).getImgIds()) == 3 and export.item_count == 3
    # The job itself tells the person who started it, with the download as the link.
    note = Notification.objects.for_user(manager).get()
    assert (
        note.kind == "export_ready" and note.read_at is None and note.link.endswith(f"/exports/{export.uuid}/download/")
    )


def test_killing_the_worker_mid_export_ends_failed_and_a_retry_writes_a_complete_file(
    worker, make_project, labeler, manager, tmp_path, settings
):
    project = make_project("Big")
    bulk_label(project=project, labeler=labeler, n=60000)
    first = worker()
    export = export_create(project=project, actor=manager, format="coco")
    wait_for(export, {"running", "done", "failed"})
    assert export.state == "running", "the export finished before it could be interrupted; make the project bigger"
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    time.sleep(1.5)
    assert exports_reap(stale_after=1) == 1
    export.refresh_from_db()
    assert export.state == "failed" and "Retry" in export.error and not export.file
    assert Notification.objects.for_user(manager).get().kind == "export_failed"  # the reaper tells them too

    worker()
    export_retry(export=export, actor=manager)
    wait_for(export, {"done", "failed"}, timeout=180)
    assert export.state == "done", export.error
    path = tmp_path / "retry.json"
    path.write_bytes(default_storage.open(export.file).read())
    coco = COCO(str(path))
    assert len(coco.getImgIds()) == export.item_count == 60000  # the four unlabeled fixture images stay out
    assert default_storage.listdir(f"exports/{project.uuid}")[1] == [f"{export.uuid}.json"]
    assert [n.kind for n in Notification.objects.for_user(manager)] == ["export_ready", "export_failed"]
