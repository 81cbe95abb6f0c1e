"""The review grid in a real browser: select, reject with a reason, watch the image leave; keys and filters.

Debian's Chromium driven by Playwright's sync API against Django's live server.
"""

import os
import re
import shutil

import pytest

from labeling.models import Task
from review.models import Review
from tests.conftest import require
from tests.review.data import add_tasks, make_project

CHROMIUM = os.environ.get("LABELSITE_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]

# A live server needs committed data (the role groups come back after each flush through post_migrate).
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def real_images(tmp_path, settings, monkeypatch):
    """Items get real files in an allowed local root, so the full-size viewer loads them."""
    from tests.review import data

    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(tmp_path)]
    monkeypatch.setattr(data, "LOCAL_PATH", str(tmp_path))


@pytest.fixture
def browser_page(live_server, monkeypatch):
    from django.db import connections

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    require(bool(shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)), "Chromium",
            "apt-get install -y chromium (see .ci/setup-chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright", "pip install -r requirements-dev.txt")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        context = browser.new_context(base_url=live_server.url)
        page = context.new_page()
        page.problems = []
        # Every console error counts (CSP violations are reported there), except the browser's own favicon probe.
        page.on("console", lambda msg: msg.type == "error" and not (msg.location or {}).get("url", "").endswith("/favicon.ico")
                and page.problems.append(msg.text))
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        yield page
        # Django code run while Playwright's loop is active gets its own connection: close it here.
        connections.close_all()
        context.close()
        browser.close()


def login(page, live_server, user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])


def test_reviewer_rejects_an_image_and_it_leaves_the_list(browser_page, live_server, workspace, reviewer, labeler):
    page = browser_page
    project = make_project(workspace)
    tasks = add_tasks(project, 3, state=Task.State.LABELED, labeler=labeler)
    login(page, live_server, reviewer)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/?state=awaiting")
    tiles = page.locator("#review-results .tile")
    assert tiles.count() == 3

    target = tiles.nth(0)
    gone_item = target.get_attribute("data-item")
    target.click()
    assert target.get_attribute("aria-pressed") == "true"
    page.keyboard.press("r")
    dialog = page.locator("#reject-dialog")
    dialog.locator("textarea").fill("Not a cat")
    dialog.get_by_role("button", name="Reject").click()

    page.locator("[data-status]", has_text="Rejected: 1 image.").wait_for()
    assert tiles.count() == 2
    assert page.locator(f'.tile[data-item="{gone_item}"]').count() == 0
    task = Task.objects.get(item__uuid=gone_item)
    assert task.state == Task.State.UNLABELED
    assert Review.objects.get(task=task).reason == "Not a cat"
    assert page.problems == [], page.problems
    assert tasks


def test_keyboard_selection_approve_viewer_and_filters_in_url(browser_page, live_server, workspace, reviewer, labeler):
    page = browser_page
    project = make_project(workspace)
    add_tasks(project, 4, state=Task.State.LABELED, labeler=labeler)
    login(page, live_server, reviewer)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/")
    tiles = page.locator("#review-results .tile")
    assert tiles.count() == 4

    # Click + shift-click selects a range; Select all toggles everything.
    tiles.nth(0).click()
    tiles.nth(2).click(modifiers=["Shift"])
    assert page.locator('#review-results .tile[aria-pressed="true"]').count() == 3
    page.get_by_role("button", name="Select all").click()
    assert page.locator('#review-results .tile[aria-pressed="true"]').count() == 4
    page.get_by_role("button", name="Select none").click()
    assert page.locator('#review-results .tile[aria-pressed="true"]').count() == 0

    # Arrows + space select; Enter opens full size; Esc closes.
    tiles.nth(0).focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    assert tiles.nth(1).get_attribute("aria-pressed") == "true"
    page.keyboard.press("Enter")
    assert page.locator("#viewer").is_visible()
    page.keyboard.press("Escape")
    assert not page.locator("#viewer").is_visible()

    # A approves the selection.
    page.keyboard.press("a")
    page.locator("[data-status]", has_text="Approved: 1 image.").wait_for()
    assert Task.objects.filter(project=project, state=Task.State.APPROVED).count() == 1

    # Filters change the URL (shareable) and the back button restores the previous list.
    page.select_option("#id_state", "approved")
    page.wait_for_url(re.compile(r"state=approved"))
    assert page.locator("#review-results .tile").count() == 1
    page.go_back()
    page.wait_for_url(re.compile(r"/review/$"))
    assert page.locator("#review-results .tile").count() == 4
    assert page.problems == [], page.problems


def test_conflict_is_shown_and_nothing_changes(browser_page, live_server, workspace, reviewer, labeler):
    from tests.review.data import relabel

    page = browser_page
    project = make_project(workspace)
    tasks = add_tasks(project, 2, state=Task.State.LABELED, labeler=labeler)
    login(page, live_server, reviewer)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/")
    relabel(tasks[0], labeler, project.label_classes.last())  # someone changes it after the page loaded
    page.locator(f'.tile[data-item="{tasks[0].item.uuid}"]').click()
    page.get_by_role("button", name="Approve").click()
    page.locator("[data-status].is-error", has_text="changed meanwhile").wait_for()
    assert page.locator("#review-results .tile").count() == 2
    assert not Review.objects.exists()
    # The re-rendered grid carries the new version: approving again now works.
    page.locator(f'.tile[data-item="{tasks[0].item.uuid}"]').click()
    page.keyboard.press("a")
    page.locator("[data-status]", has_text="Approved: 1 image.").wait_for()
    assert Task.objects.get(pk=tasks[0].pk).state == Task.State.APPROVED
    # htmx logs the refused request itself; anything else (a CSP violation, a script error) would be a problem.
    assert [p for p in page.problems if "409" not in p] == [], page.problems
