"""Background work shows its progress where the person looks and tells them when it ends, without a reload."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from exports import runner
from exports.models import Export
from labeling import services
from labeling.models import Task
from projects.datastores import scanning
from projects.models import Dataset, LabelingProject
from tests.factories import DatasetFactory, DatastoreFactory, ProjectFactory, TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _same_document(page):
    """Set a mark on the window: it survives htmx swaps and is gone after any reload or navigation."""
    page.evaluate("window.__notReloaded = true")
    return lambda: page.evaluate("window.__notReloaded === true")


def test_an_export_shows_its_progress_then_a_notification_without_a_reload(browser_as, manager, labeler, workspace):
    project = ProjectFactory.create(workspace=workspace, name="Pets", dataset__items=0)
    TaskFactory.create_batch(4, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(manager)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/exports/")
    expect(page.locator("#notification-bell .bell-count")).to_have_count(0)
    still_here = _same_document(page)

    # No worker has taken the job yet: the panel says so and keeps asking.
    page.get_by_label("Format").select_option(label="CSV")
    page.get_by_role("button", name="Export").click()
    status = page.locator("#export-status")
    expect(status).to_contain_text("waiting for a worker")
    export = Export.objects.get()

    # A worker claims it and writes its progress as the runner does, with its heartbeat.
    lease = runner.claim(export.pk)
    beat = runner.Heartbeat(export.pk, lease)
    beat(1, total=4, force=True)
    beat.close()
    expect(status).to_contain_text("1 of 4 images written")
    expect(status.locator("progress")).to_have_attribute("value", "25")

    # That worker went silent; the redelivered task takes the job over and finishes it.
    Export.objects.filter(pk=export.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert runner.export_run(export_id=export.pk)
    expect(status.get_by_role("link", name="Download")).to_be_visible()
    expect(status).not_to_have_attribute("hx-trigger", re.compile("every"))

    # The bell in the top bar caught up by itself and leads to the file.
    bell = page.locator("#notification-bell")
    expect(bell.locator(".bell-count")).to_have_text("1")
    bell.locator("summary").click()
    item = bell.locator(".bell-item")
    expect(item).to_contain_text("Export of “Pets” is ready: CSV, 4 images")
    expect(page.locator("#export-list")).to_contain_text("Done")
    assert still_here()

    # Marking it read empties the bell, still without a reload.
    item.get_by_role("button", name="Mark read").click()
    expect(bell.locator(".bell-count")).to_have_count(0)
    assert still_here()
    assert page.errors == []


def test_a_refresh_asked_for_on_the_dataset_page_shows_itself_until_it_ends(
    browser_as, manager, workspace, served_images
):
    folder = served_images.parent / "store"  # inside the allowed local root
    folder.mkdir()
    (folder / "a.txt").write_text("not an image")
    store = DatastoreFactory.create(workspace=workspace, name="disk", local_path=str(folder))
    dataset = DatasetFactory.create(
        workspace=workspace, name="cats", datastore=store, scan_state=Dataset.ScanState.PENDING
    )
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    page = browser_as(manager)
    page.goto(f"/o/acme/vision/datasets/{dataset.uuid}/")
    still_here = _same_document(page)
    progress = page.locator("#scan-progress")
    expect(page.locator("#dataset-contents")).to_contain_text("Not an image")

    page.get_by_role("button", name="Refresh now").click()  # no worker: the request waits in the queue
    expect(progress).to_contain_text("Refresh asked for")
    (folder / "b.txt").write_text("not an image either")
    scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)
    expect(progress).to_contain_text("0 added")
    expect(progress).not_to_contain_text("Refresh asked for")
    # The list of files that cannot be labeled caught up once, when the refresh ended.
    expect(page.locator("#dataset-contents")).to_contain_text("b.txt")
    assert still_here()
    assert page.errors == []


def test_a_project_being_prepared_turns_into_the_running_project_without_a_reload(browser_as, manager, workspace):
    project = ProjectFactory.create(
        workspace=workspace,
        dataset=DatasetFactory.create(workspace=workspace, name="birds", items=30),
        name="Birds",
        state=LabelingProject.State.INITIALIZING,
    )
    page = browser_as(manager)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/")  # where the wizard lands
    still_here = _same_document(page)
    progress = page.locator("#project-progress")
    expect(progress).to_contain_text("Creating this project's tasks")
    services._sync_batch(project.pk, 0)
    expect(progress).to_contain_text("Creating this project's tasks: 30 so far")
    expect(page.locator(".pagehead .badge")).not_to_have_text("Running")

    services.project_tasks_sync(project=project)
    expect(progress).to_have_count(0)
    expect(page.locator(".pagehead .badge")).to_have_text("Running")
    expect(page.locator("#state-counts")).to_contain_text("30")
    assert still_here()
    assert page.errors == []
