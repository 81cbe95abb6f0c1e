"""How export jobs run: one file per export whatever the redeliveries, failures marked, dead workers reaped."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from exports import runner, writers
from exports.models import Export
from exports.runner import exports_reap
from exports.tasks import export_run_task, exports_reap_task
from labeling.models import Annotation
from projects.models import Notification
from tests.exports.conftest import classes_of, tasks_by_key
from tests.factories import tasks_label, tasks_review


def files_of(export):
    folder = f"exports/{export.project.uuid}"
    return default_storage.listdir(folder)[1] if default_storage.exists(folder) else []


def test_a_redelivered_task_for_a_done_export_creates_no_second_file(project, manager):
    export = Export.objects.create(project=project, format="coco", created_by=manager)
    assert export_run_task(export.pk) is True
    export.refresh_from_db()
    finished_at = export.finished_at
    assert export_run_task(export.pk) is False
    export.refresh_from_db()
    assert export.state == "done" and export.finished_at == finished_at and export.attempts == 1
    assert files_of(export) == [f"{export.uuid}.json"]
    assert export.progress == export.total == 3


def test_a_duplicate_task_leaves_a_live_run_alone(project, manager):
    export = Export.objects.create(
        project=project, format="csv", created_by=manager, state="running", heartbeat_at=timezone.now()
    )
    assert export_run_task(export.pk) is False
    export.refresh_from_db()
    assert export.state == "running" and files_of(export) == []


def test_reaper_fails_silent_running_exports_only(project, manager, settings):
    old = timezone.now() - timedelta(seconds=settings.LABELSITE_EXPORT_STALE_AFTER + 5)
    dead = Export.objects.create(project=project, format="coco", state="running", heartbeat_at=old)
    alive = Export.objects.create(project=project, format="coco", state="running", heartbeat_at=timezone.now())
    done = Export.objects.create(project=project, format="coco", state="done", heartbeat_at=old)
    forgotten = Export.objects.create(project=project, format="coco")
    Export.objects.filter(pk=forgotten.pk).update(created_at=timezone.now() - timedelta(days=2))
    assert exports_reap_task() == 2
    states = dict(Export.objects.values_list("pk", "state"))
    assert states == {dead.pk: "failed", alive.pk: "running", done.pk: "done", forgotten.pk: "failed"}
    assert "Retry" in Export.objects.get(pk=dead.pk).error
    assert "exports-reap" in __import__("labelsite.celery", fromlist=["app"]).app.conf.beat_schedule


def test_a_stale_run_is_taken_over_by_a_redelivered_task(project, manager, settings):
    old = timezone.now() - timedelta(seconds=settings.LABELSITE_EXPORT_STALE_AFTER + 5)
    export = Export.objects.create(project=project, format="jsonl", state="running", heartbeat_at=old, attempts=1)
    assert export_run_task(export.pk) is True
    export.refresh_from_db()
    assert export.state == "done" and export.attempts == 2 and files_of(export) == [f"{export.uuid}.jsonl"]


def test_a_run_that_lost_its_lease_keeps_no_file(project, manager, monkeypatch):
    export = Export.objects.create(project=project, format="csv", created_by=manager)
    original_end = writers.CsvWriter.end

    def reaped_meanwhile(self):
        original_end(self)
        Export.objects.filter(pk=export.pk).update(state="failed", error="reaped")

    monkeypatch.setattr(writers.CsvWriter, "end", reaped_meanwhile)
    assert export_run_task(export.pk) is False
    export.refresh_from_db()
    assert export.state == "failed" and export.file == "" and files_of(export) == []


def test_a_failing_export_is_marked_failed_with_a_safe_message(project, manager, monkeypatch):
    export = Export.objects.create(project=project, format="coco", created_by=manager)

    def boom(self, row):
        raise KeyError("secret-internal-detail")

    monkeypatch.setattr(writers.CocoWriter, "write", boom)
    assert export_run_task(export.pk) is False
    export.refresh_from_db()
    assert export.state == "failed" and "secret-internal-detail" not in export.error and "Retry" in export.error
    assert files_of(export) == []


def test_deleted_exports_are_never_run(project, manager):
    export = Export.objects.create(project=project, format="coco", deleted_at=timezone.now())
    assert export_run_task(export.pk) is False
    assert export_run_task(999999) is False


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_labels_changed_during_an_export_do_not_mix_into_it(
    transactional_roles, postgres, make_project, labeler, manager, monkeypatch, settings
):
    """PostgreSQL: the export reads one REPEATABLE READ snapshot while a labeler keeps working."""
    settings.LABELSITE_EXPORT_CHUNK_SIZE = 1
    project = make_project()
    tasks, classes = tasks_by_key(project), classes_of(project)
    tasks_label(project, [tasks["cats/a.jpg"]], user=labeler, labels=classes["cat"])
    tasks_label(project, [tasks["dogs/b.png"]], user=labeler, labels=classes["dog"])
    tasks_review(project, [tasks["cats/a.jpg"], tasks["dogs/b.png"]], reviewer=manager, decision="approve")
    original = writers.CocoWriter.write
    changed: list = []

    def write_and_meanwhile_relabel(self, row):
        if not changed:

            def relabel():  # another connection, committed while the export is half way
                Annotation.objects.filter(task=tasks["dogs/b.png"], is_current=True).get().labels.set([classes["bird"]])
                connection.close()

            thread = threading.Thread(target=relabel)
            thread.start()
            thread.join()
            changed.append(True)
        return original(self, row)

    monkeypatch.setattr(writers.CocoWriter, "write", write_and_meanwhile_relabel)
    export = Export.objects.create(project=project, format="coco", created_by=manager)
    assert runner.export_run(export_id=export.pk) is True
    export.refresh_from_db()
    with default_storage.open(export.file) as fh:
        coco = json.load(fh)
    assert changed and {a["category_id"] for a in coco["annotations"]} == {classes["cat"].pk, classes["dog"].pk}
    assert Annotation.objects.get(task=tasks["dogs/b.png"], is_current=True).labels.get().name == "bird"


def _in_another_connection(work):
    """Run ORM work in a thread (its own connection), seeing only committed data."""
    result = []

    def run():
        try:
            result.append(work())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_heartbeat_keeps_a_slow_export_alive_and_notices_the_reaper(
    transactional_roles, postgres, project, monkeypatch, settings
):
    """PostgreSQL: a step that blocks (a huge sort, a slow datastore) still beats; once reaped, the run gives up."""
    settings.LABELSITE_EXPORT_HEARTBEAT_INTERVAL = 0.1
    export = Export.objects.create(project=project, format="coco")
    beats = []

    def slow_write(self, row):
        def heartbeat():
            return Export.objects.values_list("heartbeat_at", flat=True).get(pk=export.pk)

        beats.append(_in_another_connection(heartbeat))
        time.sleep(0.5)
        beats.append(_in_another_connection(heartbeat))
        # As if the reaper judged it dead. (A minute's margin: with stale_after=0 a beat written between the
        # reaper reading the clock and its UPDATE made it miss the run on a busy machine.)
        _in_another_connection(lambda: exports_reap(stale_after=-60))
        time.sleep(0.3)
        return 1

    monkeypatch.setattr(writers.CocoWriter, "write", slow_write)
    assert runner.export_run(export_id=export.pk) is False
    export.refresh_from_db()
    assert beats[1] > beats[0], "no heartbeat while the writer was blocked"
    assert export.state == "failed" and export.file == "" and files_of(export) == []


# --- the person who started an export is told how it ended (kept until they read it) -----------------------------


def test_a_finished_export_tells_whoever_started_it_with_the_download_as_link(project, manager):
    export = Export.objects.create(project=project, format="coco", created_by=manager)
    assert export_run_task(export.pk) is True
    note = Notification.objects.for_user(manager).get()
    assert note.kind == "export_ready" and note.read_at is None and note.workspace_id == project.workspace_id
    assert note.message.startswith(f"Export of “{project.name}” is ready: COCO (JSON), 3 images, ")
    assert note.link == f"/o/acme/vision/projects/{project.uuid}/exports/{export.uuid}/download/"
    assert export_run_task(export.pk) is False  # a redelivered task tells nobody twice
    assert Notification.objects.count() == 1


def test_a_failed_or_reaped_export_tells_whoever_started_it(project, manager, monkeypatch, settings):
    failing = Export.objects.create(project=project, format="coco", created_by=manager)
    monkeypatch.setattr(writers.CocoWriter, "write", lambda self, row: 1 / 0)
    export_run_task(failing.pk)
    note = Notification.objects.for_user(manager).get()
    assert note.kind == "export_failed" and note.link == f"/o/acme/vision/projects/{project.uuid}/exports/"
    assert "ZeroDivisionError" in note.message and "Retry" in note.message
    old = timezone.now() - timedelta(seconds=settings.LABELSITE_EXPORT_STALE_AFTER + 5)
    Export.objects.create(project=project, format="csv", state="running", heartbeat_at=old, created_by=manager)
    Export.objects.create(project=project, format="csv", state="running", heartbeat_at=old)  # its author is gone
    assert exports_reap() == 2
    assert [n.kind for n in Notification.objects.for_user(manager)] == ["export_failed", "export_failed"]


def test_a_notification_that_cannot_be_written_never_fails_the_export(project, manager, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("the notifications table is gone")

    monkeypatch.setattr("projects.tenancy.notifications.notification_create", broken)
    export = Export.objects.create(project=project, format="csv", created_by=manager)
    assert export_run_task(export.pk) is True
    export.refresh_from_db()
    assert export.state == "done" and not Notification.objects.exists()
