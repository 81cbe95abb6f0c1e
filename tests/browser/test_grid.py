"""The labeling grid in Debian's Chromium: mouse only, keyboard only, layouts, next page, empty queue, strict CSP."""

import re

import pytest
from playwright.sync_api import expect

from tests.factories import ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _tiles(page):
    return page.locator("#tiles .tile")


def _tile_ids(page):
    return [t.get_attribute("data-item") for t in _tiles(page).all()]


def _no_reload_marker(page):
    page.evaluate("window.__sameDocument = true")


def _still_same_document(page):
    return page.evaluate("window.__sameDocument === true")


def test_label_pages_with_the_mouse_switch_layout_and_reach_the_end(browser_as, labeler, workspace, org):
    page = browser_as(labeler)
    ProjectFactory.create(workspace=workspace, dataset__items=13, instructions_text="Tag **every** pet.")
    page.goto(f"/o/{org.slug}/{workspace.slug}/")
    page.get_by_role("link", name="Label data").click()
    assert page.locator("strong", has_text="every").is_visible()
    page.get_by_role("link", name="Tasks").click()
    assert _tiles(page).count() == 9
    csp = page.evaluate("document.querySelector('meta[http-equiv]') === null")
    assert csp  # the policy arrives as a header, and the page ran under it (no violations reported)

    # Switch layout on a fresh page: 4 per page.
    page.locator(".layout-picker").get_by_role("button", name="4", exact=True).click()
    expect(_tiles(page)).to_have_count(4)
    _no_reload_marker(page)

    picks = page.locator("#tiles .tile-pick")
    cat = page.locator("#tag-form .tag-button", has_text="cat")
    dog = page.locator("#tag-form .tag-button", has_text="dog")
    expect(cat).to_be_disabled()  # nothing selected yet (grid.js disables the tags once it has run)
    picks.nth(0).click()
    picks.nth(2).click(modifiers=["Shift"])  # range 1..3
    assert [picks.nth(i).get_attribute("aria-pressed") for i in range(4)] == ["true", "true", "true", "false"]
    cat.click()
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(3)
    assert page.locator("#submit-page").is_disabled()
    # The layout picker stays offered, and says that changing it keeps the tags.
    expect(page.locator("#layout-form")).to_be_visible()
    expect(page.locator("#layout-note")).to_contain_text("keeps the images you tagged")
    page.get_by_role("button", name="Select none").click()
    picks.nth(3).click()
    dog.click()
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(4)
    # Multi-class: a new tag replaces the old one; a chip's × removes it.
    picks.nth(3).click()
    picks.nth(0).click()
    dog.click()
    expect(page.locator("#tiles .tile").first.locator(".chip")).to_have_text(re.compile("dog"))
    page.get_by_role("button", name=re.compile(r"^Remove tag dog from")).first.click()
    expect(page.locator('#tiles .chips[data-count="0"]')).to_have_count(1)
    assert page.locator("#submit-page").is_disabled()
    page.get_by_role("button", name="Select none").click()
    picks.nth(0).click()
    cat.click()
    expect(page.locator("#submit-page")).to_be_enabled()

    # Reload: the in-progress tags are still there (kept server-side).
    first_page = _tile_ids(page)
    page.reload()
    assert _tile_ids(page) == first_page
    assert page.locator("#tiles .chip").count() == 4
    _no_reload_marker(page)

    page.locator("#submit-page").click()
    expect(page.locator(f"#tile-{first_page[0]}")).to_have_count(0)
    expect(_tiles(page)).to_have_count(4)
    assert _still_same_document(page)
    assert not set(_tile_ids(page)) & set(first_page)

    # Label the remaining 9 (4 + 4 + 1) with Select all, then the queue is empty.
    for expected in (4, 4, 1):
        expect(_tiles(page)).to_have_count(expected)
        shown = _tile_ids(page)
        page.get_by_role("button", name="Select all").click()
        cat.click()
        expect(page.locator("#submit-page")).to_be_enabled()
        page.locator("#submit-page").click()
        expect(page.locator(f"#tile-{shown[0]}")).to_have_count(0)
    page.get_by_text("nothing is left to label").wait_for()
    assert page.get_by_role("link", name=re.compile("Back to")).is_visible()
    assert _still_same_document(page)


def test_label_a_page_with_the_keyboard_only(browser_as, labeler, workspace, org):
    page = browser_as(labeler)
    project = ProjectFactory.create(
        workspace=workspace, dataset__items=6, label_names=["sky", "tree", "car"], task_type="multilabel"
    )
    page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/label/tasks/")
    assert _tiles(page).count() == 6
    _no_reload_marker(page)
    keys = page.keyboard

    keys.press("?")
    assert page.locator("#shortcuts").is_visible()
    keys.press("Escape")
    assert not page.locator("#shortcuts").is_visible()

    keys.press("ArrowRight")  # focus lands on the first image
    assert page.evaluate("document.activeElement.classList.contains('tile-pick')")
    keys.press("Enter")
    assert page.locator("#viewer").is_visible()
    keys.press("+")
    assert page.locator("#viewer-img.zoom-2").count() == 1
    keys.press("Escape")
    assert not page.locator("#viewer").is_visible()

    # Images 1-3: sky (key 1). Then 4-6: tree (key 2). Then all: car (3), and car again removes it from all.
    for _ in range(3):
        keys.press("Space")
        keys.press("ArrowRight")
    keys.press("1")
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(3)
    keys.press("n")
    for _ in range(3):
        keys.press("Space")
        keys.press("ArrowRight")
    keys.press("2")
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(6)
    keys.press("a")
    keys.press("3")
    expect(page.locator('#tiles .chips[data-count="2"]')).to_have_count(6)
    keys.press("3")
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(6)
    assert page.locator("#submit-page").is_enabled()

    # Reach Submit with Tab and press Enter.
    for _ in range(80):
        if page.evaluate("document.activeElement.id") == "submit-page":
            break
        keys.press("Tab")
    assert page.evaluate("document.activeElement.id") == "submit-page"
    keys.press("Enter")
    page.get_by_text("nothing is left to label").wait_for()
    assert _still_same_document(page)
    from labeling.models import Annotation

    assert Annotation.objects.filter(task__project=project).count() == 6


def test_a_lost_lease_is_explained_and_a_fresh_page_offered(browser_as, labeler, workspace, org):
    from datetime import timedelta

    from django.utils import timezone

    from labeling.models import Task

    page = browser_as(labeler)
    project = ProjectFactory.create(workspace=workspace, dataset__items=4)
    response = page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/label/tasks/")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    expect(_tiles(page)).to_have_count(4)
    # The thumbnails load lazily: let them arrive while the lease holds, or their requests race the expiry.
    # (Polled through evaluate: wait_for_function evaluates a string in the page, which our CSP forbids.)
    for _ in range(100):
        if page.evaluate("[...document.querySelectorAll('#tiles img')].every(img => img.complete)"):
            break
        page.wait_for_timeout(100)
    Task.objects.filter(leased_to=labeler).update(lease_expires=timezone.now() - timedelta(minutes=1))
    page.allow("status of 409 (Conflict)")  # the browser logs every 4xx; this one is the point
    # Images whose hold ran out are no longer the labeler's to see: a tile redrawn meanwhile may get a 404.
    page.allow("/thumbnail/")
    page.get_by_role("button", name="Select all").click()
    page.locator("#tag-form .tag-button", has_text="dog").click()
    alert = page.locator("#grid-alert [role=alert]")
    expect(alert).to_contain_text("ran out")
    assert page.locator("#tiles .chip").count() == 0
    page.get_by_role("link", name="Load a fresh page").click()
    expect(page.locator("#grid-alert [role=alert]")).to_have_count(0)
    expect(_tiles(page)).to_have_count(4)
    assert Task.objects.filter(leased_to=labeler, lease_expires__gt=timezone.now()).count() == 4


def test_label_and_submit_a_page_without_javascript(browser_as, labeler, workspace, org):
    """Plain HTML forms: checkboxes choose the images, a tag button tags them, Submit sends the page."""
    from labeling.models import Annotation

    project = ProjectFactory.create(workspace=workspace, dataset__items=6)
    page = browser_as(labeler, java_script_enabled=False)
    page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/label/tasks/")
    first_page = _tile_ids(page)
    assert len(first_page) == 6
    checks = page.locator("#tiles .tile-check")
    cat = page.locator("#tag-form .tag-button", has_text="cat")
    dog = page.locator("#tag-form .tag-button", has_text="dog")
    for i in range(4):
        checks.nth(i).check()
    cat.click()  # a plain POST, then the page again with the tags
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(4)
    assert page.locator("#submit-page").is_disabled()  # two images still need a tag
    checks.nth(4).check()
    checks.nth(5).check()
    dog.click()
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(6)
    assert _tile_ids(page) == first_page
    page.locator("#submit-page").click()
    page.get_by_text("nothing is left to label").wait_for()
    names = dict(
        Annotation.objects.filter(task__project=project, is_current=True).values_list(
            "task__item__uuid", "labels__name"
        )
    )
    assert sorted(names.values()) == ["cat"] * 4 + ["dog"] * 2
