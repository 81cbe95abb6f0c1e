"""No Content-Security-Policy violation anywhere htmx swaps content: wizard, labeling grid, review, exports."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Task
from tests.factories import DatasetFactory, ProjectFactory, TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# (browser_as records every violation and fails the test on one; each step below also checks right away.)


def test_wizard_swaps_violate_nothing(browser_as, manager, workspace, pets_datastore):
    DatasetFactory.create(workspace=workspace, name="older-dataset", items=3)
    page = browser_as(manager)
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
    assert page.csp_violations() == ([], [])


def test_grid_review_and_export_swaps_violate_nothing(browser_as, labeler, reviewer, manager, workspace, celery_eager):
    project = ProjectFactory.create(workspace=workspace, dataset__items=4)
    page = browser_as(labeler)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/label/tasks/")
    page.get_by_role("button", name="Select all").click()
    page.locator(".tag-button").first.click()
    expect(page.locator("#submit-page")).to_be_enabled()
    page.get_by_role("button", name="Submit").click()
    expect(page.locator("#grid")).to_contain_text("All done")
    assert page.csp_violations() == ([], [])

    reviewed = ProjectFactory.create(workspace=workspace, dataset__items=0)
    TaskFactory.create_batch(4, project=reviewed, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
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
    assert page.csp_violations() == ([], [])

    page = browser_as(manager)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/exports/")
    page.get_by_role("button", name="Export").click()
    expect(page.locator("#export-status")).to_contain_text(re.compile("Done|Ready|Download", re.I))
    assert page.csp_violations() == ([], [])
