"""Finding the way in a real browser: from deep inside a project back to its other pages and to the workspace."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Task
from tests.factories import ProjectFactory, TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_moves_between_project_pages_and_back_to_the_workspace(
    browser_as, manager, labeler, workspace, celery_eager
):
    project = ProjectFactory.create(workspace=workspace, dataset__items=4)
    TaskFactory.create_batch(2, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(manager)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/label/tasks/")
    tabs = page.get_by_role("navigation", name=f"Project {project.name}")
    crumbs = page.get_by_role("navigation", name="Breadcrumb")
    expect(tabs.get_by_role("link", name="Label data")).to_have_attribute("aria-current", "page")

    tabs.get_by_role("link", name="Export").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("export labels")
    expect(tabs.get_by_role("link", name="Export")).to_have_attribute("aria-current", "page")
    expect(tabs.get_by_role("link", name="Label data")).not_to_have_attribute("aria-current", "page")
    # The highlighted place looks different from the others, not only to screen readers.
    borders = [
        tabs.get_by_role("link", name=n).evaluate("e => getComputedStyle(e).borderBottomColor")
        for n in ("Export", "Dashboard")
    ]
    assert borders[0] != borders[1]

    page.get_by_role("link", name="Import labels").click()
    expect(crumbs).to_contain_text("Import labels")
    crumbs.get_by_role("link", name="Export").click()
    expect(page).to_have_url(re.compile(r"/exports/$"))

    tabs.get_by_role("link", name="Data", exact=True).click()
    expect(page.locator("#review-results .tile")).to_have_count(2)
    crumbs.get_by_role("link", name=project.name).click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.uuid}/$"))
    expect(tabs.get_by_role("link", name="Dashboard")).to_have_attribute("aria-current", "page")

    crumbs.get_by_role("link", name="Vision").click()
    expect(page).to_have_url(re.compile(r"/o/acme/vision/$"))
    page.locator("#projects").get_by_role("link", name=project.name).click()
    expect(page).to_have_url(re.compile(rf"/projects/{project.uuid}/$"))
    assert page.errors == []


def test_a_labeler_finds_the_grid_from_the_home_page_and_the_way_back(browser_as, labeler, workspace, celery_eager):
    project = ProjectFactory.create(workspace=workspace, dataset__items=2)
    page = browser_as(labeler)
    page.goto("/")
    page.get_by_role("link", name=project.name).click()
    expect(page.get_by_role("heading", name="Instructions")).to_be_visible()
    page.get_by_role("link", name="Tasks").click()
    expect(page.locator(".tile-pick")).to_have_count(2)
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Vision").click()
    expect(page.get_by_role("heading", name="Labeling projects")).to_be_visible()
    assert page.errors == []
