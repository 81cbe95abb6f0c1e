"""End to end with a real Celery worker process: creating a dataset scans it and makes thumbnails."""

import os
import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.db import connection

from projects.datastores import services as datastore_services
from projects.models import DataItem, Dataset, Notification
from projects.tenancy.roles import MANAGER, sync_roles
from tests.factories import UserFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def worker(postgres, local_root, datastore_settings, tmp_path):
    # (PostgreSQL: a worker process cannot share pytest's in-memory SQLite.)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "LABELSITE_LOCAL_DATASTORE_ROOTS": str(local_root),
        "MEDIA_ROOT": str(datastore_settings.MEDIA_ROOT),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    log = (tmp_path / "worker.log").open("w")
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
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


def _wait(check, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def test_real_worker_scans_a_new_dataset_and_makes_thumbnails(
    worker, workspace, local_datastore, pets_folder, tmp_path
):
    dataset = datastore_services.dataset_create(
        workspace=workspace,
        name="cats-n-dogs",
        description="",
        datastore=local_datastore,
        path="MultiClass - DogsCats",
        include_subfolders=True,
        actor=None,
    )
    done = _wait(lambda: Dataset.objects.get(pk=dataset.pk).scan_state == Dataset.ScanState.DONE)
    assert done, (tmp_path / "worker.log").read_text()[-3000:]
    dataset.refresh_from_db()
    assert (dataset.scan_found, dataset.scan_registered, dataset.scan_skipped) == (8, 4, 4)
    ready = DataItem.objects.filter(dataset=dataset, state=DataItem.State.READY)
    assert _wait(lambda: not ready.filter(thumbnail="").exists()), (tmp_path / "worker.log").read_text()[-3000:]
    assert worker.poll() is None  # still healthy after corrupt and non-image files


def test_real_worker_tells_whoever_asked_that_the_scan_failed(worker, workspace, local_datastore, tmp_path):
    sync_roles()  # a transactional test starts from a flushed database: the role groups are made again
    manager = UserFactory.create(username="asker", workspace=workspace, role=MANAGER)
    dataset = datastore_services.dataset_create(
        workspace=workspace,
        name="gone",
        datastore=local_datastore,
        path="no such folder",
        actor=manager,
    )
    failed = _wait(lambda: Dataset.objects.get(pk=dataset.pk).scan_state == Dataset.ScanState.FAILED)
    assert failed, (tmp_path / "worker.log").read_text()[-3000:]
    note = Notification.objects.for_user(manager).get()
    assert note.kind == "scan_failed" and note.read_at is None
    assert note.message == "Scan of dataset “gone” failed: The folder or file does not exist."
    assert note.link == f"/o/{workspace.organization.slug}/{workspace.slug}/datasets/{dataset.uuid}/"
