"""No Content-Security-Policy violation anywhere htmx swaps content: wizard, labeling grid, review, exports."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Task
from tests.browser.test_wizard import pets_datastore  # noqa: F401 (fixture)
from tests.labeling.factories import labeling_project
from tests.project_fixtures import make_dataset
from tests.review.data import add_tasks, make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Recorded by the page itself: Chromium also logs each violation on the console, but the event cannot be missed.
RECORD_VIOLATIONS = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' ' + (e.sourceFile || '') + ':' + e.lineNumber));"
)


@pytest.fixture(autouse=True)
def real_images(tmp_path, settings, monkeypatch):
    """Items get real files in an allowed local root, so thumbnails load as they would in production."""
    from tests.labeling import factories
    from tests.review import data

    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [*settings.LABELSITE_LOCAL_DATASTORE_ROOTS, str(tmp_path)]
    monkeypatch.setattr(factories, "LOCAL_PATH", str(tmp_path))
    monkeypatch.setattr(data, "LOCAL_PATH", str(tmp_path))


@pytest.fixture
def watched(browser_as):
    """watched(user) -> a page recording CSP violations; the test ends by asserting there were none."""
    pages = []

    def open_page(user):
        page = browser_as(user)
        page.context.add_init_script(RECORD_VIOLATIONS)
        pages.append(page)
        return page

    yield open_page
    for page in pages:
        recorded = page.evaluate("window.__csp || []") if not page.is_closed() else []
        logged = [e for e in page.errors if "Content Security Policy" in e]
        assert (recorded, logged) == ([], []), (recorded, logged)


def _violations(page):
    return page.evaluate("window.__csp"), [e for e in page.errors if "Content Security Policy" in e]


def test_wizard_swaps_violate_nothing(watched, manager, workspace, pets_datastore):  # noqa: F811
    make_dataset(workspace, name="older-dataset", items=3)
    page = watched(manager)
    page.goto("/o/acme/vision/projects/new/")
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#wizard")).to_contain_text("This field is required")
    page.get_by_label("Project name").fill("csp-project")
    page.get_by_label("Image Classification Multi-class").check()
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/dataset/$"))
    page.get_by_role("link", name="From datastore").click()
    page.get_by_label("Datastore").select_option(label="pets (Local folder)")
    page.get_by_role("button", name="Browse folders").click()
    page.locator("#browse").get_by_role("link", name="MultiClass - DogsCats/").click()
    expect(page.locator("#browse")).to_contain_text("20 files directly in this folder")
    page.get_by_role("button", name="Back").click()
    page.get_by_role("radio", name=re.compile("older-dataset")).check()
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/refresh/$"))
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Label name").fill("Cat")
    page.get_by_role("button", name="+ Add label").click()
    expect(page.locator("#wizard")).to_contain_text("Cat")
    page.get_by_role("button", name="Back").click()
    expect(page).to_have_url(re.compile(r"/refresh/$"))
    # The browser's own Back: htmx puts its saved copy of the page back (or asks for the whole page).
    page.go_back()
    expect(page).to_have_url(re.compile(r"/labels/$"))
    expect(page.locator("#wizard")).to_contain_text("Cat")
    assert _violations(page) == ([], [])


def test_grid_review_and_export_swaps_violate_nothing(watched, labeler, reviewer, manager, workspace, celery_eager):
    project = labeling_project(workspace, items=4)
    page = watched(labeler)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/label/tasks/")
    page.get_by_role("button", name="Select all").click()
    page.locator(".tag-button").first.click()
    expect(page.locator("#submit-page")).to_be_enabled()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#grid")).to_contain_text("All done")
    assert _violations(page) == ([], [])

    reviewed = make_project(workspace)
    add_tasks(reviewed, 4, state=Task.State.LABELED, labeler=labeler)
    page = watched(reviewer)
    page.goto(f"/o/acme/vision/projects/{reviewed.uuid}/review/")
    page.locator("#review-results .tile").first.click()
    page.get_by_role("button", name=re.compile("^Approve")).click()
    page.locator("[data-status]", has_text="Approved: 1 image.").wait_for()
    page.get_by_label("Sort").select_option(label="Oldest first")
    expect(page).to_have_url(re.compile(r"sort="))
    page.go_back()
    expect(page).not_to_have_url(re.compile(r"sort="))
    page.get_by_role("link", name="Next to review").click()
    page.locator("[data-claim]").click()
    expect(page.locator("#review-results .tile")).to_have_count(3)
    assert _violations(page) == ([], [])

    page = watched(manager)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/exports/")
    page.get_by_role("button", name="Export").click()
    expect(page.locator("#export-status")).to_contain_text(re.compile("Done|Ready|Download", re.I))
    assert _violations(page) == ([], [])
