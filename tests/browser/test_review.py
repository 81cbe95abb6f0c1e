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
        problems: list[str] = []
        page.problems = problems  # type: ignore[attr-defined]  # what the tests read

        def on_console(msg):
            # Every console error counts (CSP violations are reported there), except the browser's own favicon probe.
            if msg.type == "error" and not (msg.location or {}).get("url", "").endswith("/favicon.ico"):
                problems.append(msg.text)

        page.on("console", on_console)
        page.on("pageerror", lambda error: problems.append(str(error)))
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


# --- Paging by cursor -----------------------------------------------------------------------------

def cats_and_dogs(project, labeler, cats=30):
    """`cats` Cat labels a minute apart with 6 Dog labels among them: the Cat UUIDs, newest first."""
    from datetime import timedelta

    from django.utils import timezone

    cat, dog = project.label_classes.get(name="Cat"), project.label_classes.get(name="Dog")
    start = timezone.now() - timedelta(hours=1)
    tasks = add_tasks(project, cats, state=Task.State.LABELED, labeler=labeler, label=cat, start=start)
    add_tasks(project, 6, state=Task.State.LABELED, labeler=labeler, label=dog, start=start + timedelta(seconds=30),
              step=timedelta(minutes=5))
    return [str(t.item.uuid) for t in sorted(tasks, key=lambda t: t.labeled_at, reverse=True)]


def shown(page, first):
    """The item UUIDs of the tiles shown, once the list starting with `first` has arrived."""
    from playwright.sync_api import expect

    expect(page.locator("#review-results .tile").first).to_have_attribute("data-item", first)
    return page.locator("#review-results .tile").evaluate_all("tiles => tiles.map(t => t.dataset.item)")


def follow(page, name):
    """Click a pager link (an htmx swap) and wait for the address bar to change; its new query string."""
    before = page.url
    page.locator("#review-results nav.pager").get_by_role("link", name=name).click()
    page.wait_for_url(lambda url: url != before)
    return page.url.partition("?")[2]


def test_paging_by_cursor_keeps_filters_in_the_url_and_history(browser_page, live_server, workspace, reviewer, labeler):
    page = browser_page
    project = make_project(workspace)
    cats = cats_and_dogs(project, labeler)
    login(page, live_server, reviewer)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/")
    page.select_option("#id_class", "Cat")
    page.wait_for_url(re.compile(r"/review/\?class=Cat$"))
    assert shown(page, cats[0]) == cats[:12]
    assert page.locator("[data-showing]").inner_text() == "Showing 12 images, newest first"

    # Next, Next, Previous, First: every Cat once, newest first, and the address bar says where we are.
    second = follow(page, "Next page →")
    assert re.fullmatch(r"class=Cat&after=[\w.-]+", second)
    assert shown(page, cats[12]) == cats[12:24]
    third = follow(page, "Next page →")
    assert re.fullmatch(r"class=Cat&after=[\w.-]+", third) and third != second
    assert shown(page, cats[24]) == cats[24:]
    assert page.locator("#review-results a[rel=next]").count() == 0
    back = follow(page, "← Previous page")
    assert re.fullmatch(r"class=Cat&before=[\w.-]+", back)
    assert shown(page, cats[12]) == cats[12:24]
    assert follow(page, "« First page") == "class=Cat"
    assert shown(page, cats[0]) == cats[:12]
    assert page.locator("#review-results nav.pager a").all_inner_texts() == ["Next page →"]

    # The back button walks the same pages backwards (htmx history), the filters shown as they were.
    page.go_back()
    page.wait_for_url(re.compile(re.escape(back) + "$"))
    assert shown(page, cats[12]) == cats[12:24]
    assert page.input_value("#id_class") == "Cat"
    # Reloading a cursor URL shows the same page.
    page.reload()
    assert shown(page, cats[12]) == cats[12:24]
    page.go_back()
    page.wait_for_url(re.compile(re.escape(third) + "$"))
    assert shown(page, cats[24]) == cats[24:]
    assert page.input_value("#id_class") == "Cat"
    # A filter changed there still lists Cats only: the form did not forget the class.
    page.select_option("#id_sort", "oldest")
    page.wait_for_url(re.compile(r"\?class=Cat&sort=oldest$"))
    assert shown(page, cats[-1]) == cats[::-1][:12]
    assert page.problems == [], page.problems


def test_approving_on_page_two_stays_on_page_two(browser_page, live_server, workspace, reviewer, labeler):
    page = browser_page
    project = make_project(workspace)
    cats = cats_and_dogs(project, labeler, cats=26)[::-1]  # oldest first
    login(page, live_server, reviewer)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/?class=Cat&sort=oldest")
    second = follow(page, "Next page →")
    assert shown(page, cats[12]) == cats[12:24]

    tiles = page.locator("#review-results .tile")
    tiles.nth(1).click()
    tiles.nth(3).click(modifiers=["Shift"])
    page.get_by_role("button", name="Approve").click()
    page.locator("[data-status]", has_text="Approved: 3 images.").wait_for()

    # Same page, same cursor, same filters; the three show their new state, the rest are untouched.
    assert page.url.endswith(f"/review/?{second}") and "class=Cat&sort=oldest&after=" in second
    assert shown(page, cats[12]) == cats[12:24]
    states = page.locator("#review-results .tile .state").all_inner_texts()
    assert states == ["Labeled, awaiting review"] + ["Approved"] * 3 + ["Labeled, awaiting review"] * 8
    assert page.locator("#review-results .tile.is-approved").evaluate_all("t => t.map(e => e.dataset.item)") == cats[13:16]
    assert page.locator('#review-results .tile[aria-pressed="true"]').count() == 0
    approved = Task.objects.filter(state=Task.State.APPROVED).values_list("item__uuid", flat=True)
    assert sorted(str(u) for u in approved) == sorted(cats[13:16])
    assert page.input_value("#id_class") == "Cat" and page.input_value("#id_sort") == "oldest"
    # The pager still steps from this page: Next shows the rest, Previous the first twelve.
    follow(page, "Next page →")
    assert shown(page, cats[24]) == cats[24:]
    follow(page, "← Previous page")
    assert shown(page, cats[12]) == cats[12:24]
    # Back at the start, the address bar shows the plain filtered list.
    assert follow(page, "← Previous page") == "class=Cat&sort=oldest"
    assert shown(page, cats[0]) == cats[:12]
    assert page.problems == [], page.problems


def test_a_garbled_cursor_shows_the_first_page_and_says_so(browser_page, live_server, workspace, reviewer, labeler):
    page = browser_page
    project = make_project(workspace)
    cats = cats_and_dogs(project, labeler, cats=14)
    login(page, live_server, reviewer)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/?class=Cat&after=WzE3MCwxXQ.not-our-signature")
    assert shown(page, cats[0]) == cats[:12]
    status = page.locator("#review-results [data-status]")
    assert status.inner_text() == "This page link is broken or out of date. Showing the first page."
    assert page.locator("#review-results nav.pager a").all_inner_texts() == ["Next page →"]
    assert page.input_value("#id_class") == "Cat"
    assert page.url.endswith("/review/?class=Cat")  # the broken cursor left the address bar: a reload is clean
    # From there paging works as usual and the note is gone.
    assert re.fullmatch(r"class=Cat&after=[\w.-]+", follow(page, "Next page →"))
    assert shown(page, cats[12]) == cats[12:]
    assert status.inner_text() == ""
    assert page.problems == [], page.problems
