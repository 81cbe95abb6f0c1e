"""Suggestions (pre-labels) in Chromium: shown dashed and named, accepted with Shift+A or the button (also without
JavaScript), changed by tagging, recorded as accepted or changed on Submit; no reload, no CSP violation."""

import os

import pytest
from playwright.sync_api import expect

from labeling.models import Annotation, Task
from tests.factories import ProjectFactory, class_ids, prelabels_add

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SHOTS = os.environ.get("LABELSITE_SCREENSHOTS")  # a folder: the test also saves what the labeler saw there


@pytest.fixture
def suggested(workspace):
    """Six images; in claim order the first four carry suggestions cat, dog, cat, dog."""
    project = ProjectFactory.create(workspace=workspace, dataset__items=6, name="Suggested pets")
    cat, dog, _ = class_ids(project)
    first_four = Task.objects.filter(project=project).order_by("order_key", "id")[:4]
    prelabels_add(first_four, dict(zip(first_four, [cat, dog, cat, dog], strict=True)))
    return project


def open_grid(browser_as, labeler, org, workspace, project):
    page = browser_as(labeler)
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/label/tasks/")
    page.evaluate("window.__sameDocument = true")
    return page


def shoot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def done_cleanly(page):
    assert page.evaluate("window.__sameDocument === true")  # nothing reloaded the page
    assert page.evaluate("window.__csp") == [] and page.errors == []  # the harness records CSP violations there


def test_shift_a_accepts_every_suggestion_of_the_page(browser_as, labeler, org, workspace, suggested):
    page = open_grid(browser_as, labeler, org, workspace, suggested)
    open_ones = page.locator('#tiles .chips[data-suggestion="open"]')
    expect(open_ones).to_have_count(4)
    chip = open_ones.first.locator(".chip-suggested")
    assert chip.evaluate("el => getComputedStyle(el).borderTopStyle") == "dashed"
    expect(open_ones.first).to_contain_text("Suggested:")
    expect(page.locator("#suggestion-count")).to_contain_text("4 images on this page have a suggested tag")
    expect(page.locator("#layout-form")).to_be_visible()
    expect(page.locator("#submit-page")).to_be_disabled()  # suggestions are not labels yet
    shoot(page, "grid-suggestions.png")

    page.keyboard.press("Shift+A")
    expect(open_ones).to_have_count(0)
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(4)
    expect(page.locator("#accept-all")).to_be_disabled()
    expect(page.locator("#suggestion-count")).to_have_text("Every suggestion on this page is answered.")
    expect(page.locator("#submit-hint")).to_contain_text("2 images still need a tag")
    expect(page.locator("#layout-form")).to_be_visible()  # never hidden, also with tags on the page
    shoot(page, "grid-suggestions-accepted.png")

    # The two images without a suggestion get the labeler's own tag; then Submit.
    picks = page.locator("#tiles .tile-pick")
    picks.nth(4).click()
    picks.nth(5).click()
    page.keyboard.press("3")
    expect(page.locator("#submit-page")).to_be_enabled()
    page.locator("#submit-page").click()
    page.get_by_text("nothing is left to label").wait_for()
    answers = sorted(Annotation.objects.filter(task__project=suggested).values_list("suggestion", flat=True))
    assert answers == ["accepted"] * 4 + ["none"] * 2
    done_cleanly(page)


def test_the_button_accepts_and_a_new_tag_changes_a_suggestion(browser_as, labeler, org, workspace, suggested):
    page = open_grid(browser_as, labeler, org, workspace, suggested)
    tiles = page.locator("#tiles .tile")
    # Change the first suggestion before accepting the rest: select it and press 3 (bird).
    page.locator("#tiles .tile-pick").first.click()
    page.keyboard.press("3")
    expect(tiles.first.locator(".chips")).to_have_attribute("data-suggestion", "none")
    expect(page.locator('#tiles .chips[data-suggestion="open"]')).to_have_count(3)
    # One tile's own Accept, then the button for the others.
    tiles.nth(1).get_by_role("button", name="Accept the suggestion").click()
    expect(page.locator('#tiles .chips[data-suggestion="open"]')).to_have_count(2)
    page.get_by_role("button", name="Accept all suggestions").click()
    expect(page.locator('#tiles .chips[data-suggestion="open"]')).to_have_count(0)
    # The labeler's own tag was left alone.
    expect(tiles.first.get_by_role("button", name="Remove tag bird")).to_be_visible()
    expect(tiles.first.locator(".chip")).to_have_count(1)
    page.get_by_role("button", name="Select none").click()
    for i in (4, 5):
        page.locator("#tiles .tile-pick").nth(i).click()
    page.keyboard.press("1")
    page.locator("#submit-page").click()
    page.get_by_text("nothing is left to label").wait_for()
    answers = dict(Annotation.objects.filter(task__project=suggested).values_list("task__order_key", "suggestion"))
    assert [answers[k] for k in sorted(answers)][:4] == ["changed", "accepted", "accepted", "accepted"]
    done_cleanly(page)


def test_suggestions_are_accepted_without_javascript(browser_as, labeler, org, workspace, suggested):
    page = browser_as(labeler, javascript=False)
    page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{suggested.uuid}/label/tasks/")
    expect(page.locator('#tiles .chips[data-suggestion="open"]')).to_have_count(4)
    page.get_by_role("button", name="Accept all suggestions").click()  # a plain POST, then the grid again
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(4)
    checks = page.locator("#tiles .tile-check")
    checks.nth(4).check()
    checks.nth(5).check()
    page.locator("#tag-form .tag-button", has_text="bird").click()
    page.locator("#submit-page").click()
    page.get_by_text("nothing is left to label").wait_for()
    assert Annotation.objects.filter(task__project=suggested, suggestion="accepted").count() == 4
    assert page.errors == []
