"""Every action answers where the person is looking, without a reload (issue #15, item 5): the Labelers table
after Approve/Reject, Approve/Reject with nothing selected, and the dataset page after Refresh now."""

import pytest
from PIL import Image
from playwright.sync_api import expect

from labeling.models import Task
from projects.datastores import scanning
from projects.models import Dataset
from tests.factories import DatasetFactory, DatastoreFactory, ProjectFactory, TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _mark(page):
    """A flag on the window: still there later means the page was never reloaded."""
    page.evaluate("window.__sameDocument = true")


def _same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def _labeler_cells(page, username):
    return page.locator("#labelers tr", has_text=username).locator("td")


def test_labelers_table_follows_approve_and_reject(browser_as, workspace, org, reviewer, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    TaskFactory.create_batch(3, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
    page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/review/?state=awaiting")
    cells = _labeler_cells(page, labeler.username)
    expect(cells.nth(2)).to_have_text("0")  # approved
    _mark(page)

    page.locator("#review-results .tile").nth(0).click()
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("[data-status]")).to_have_text("Approved: 1 image.")
    expect(cells.nth(2)).to_have_text("1")

    page.locator("#review-results .tile").nth(0).click()
    page.get_by_role("button", name="Reject").click()
    page.locator("#reject-dialog").get_by_role("button", name="Reject").click()
    expect(page.locator("[data-status]")).to_have_text("Rejected: 1 image.")
    expect(cells.nth(3)).to_have_text("1")  # rejected
    assert _same_document(page) and page.errors == []


def test_approve_or_reject_with_nothing_selected_says_select_images_first(
    browser_as, workspace, org, reviewer, labeler
):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    TaskFactory.create_batch(2, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
    page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/review/")
    status = page.locator("#review-results [data-status]")
    for button in ("Reject", "Approve"):
        page.evaluate("document.querySelector('[data-status]').textContent = ''")
        page.get_by_role("button", name=button).click()
        expect(status).to_contain_text("Select images first")
        assert not page.locator("#reject-dialog").is_visible()
    page.keyboard.press("r")
    expect(status).to_contain_text("Select images first")
    assert Task.objects.filter(project=project, state=Task.State.LABELED).count() == 2
    assert page.errors == []


def test_refresh_now_shows_the_refresh_starting_and_its_result(
    browser_as, workspace, org, manager, served_images, celery_eager
):
    folder = served_images.parent / "pets"  # inside the allowed local root
    folder.mkdir()
    Image.new("RGB", (40, 30), (200, 100, 50)).save(folder / "cat 1.png")
    store = DatastoreFactory.create(workspace=workspace, name="pets", local_path=str(folder))
    dataset = DatasetFactory.create(
        workspace=workspace, name="pets", datastore=store, scan_state=Dataset.ScanState.PENDING
    )
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    Image.new("RGB", (40, 30), (50, 100, 200)).save(folder / "dog 2.png")

    page = browser_as(manager)
    page.goto(f"/o/{org.slug}/{workspace.slug}/datasets/{dataset.uuid}/")
    expect(page.locator("#scan-progress")).to_contain_text("Last refresh: never")
    _mark(page)
    page.get_by_role("button", name="Refresh now").click()
    # The worker (eager here) is done before the answer arrives: the progress block shows what the refresh found.
    expect(page.locator("#scan-progress")).to_contain_text("1 added", timeout=10_000)
    expect(page.locator("#scan-progress")).not_to_contain_text("never")
    assert _same_document(page) and page.errors == []
