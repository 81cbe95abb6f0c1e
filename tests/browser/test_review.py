"""The review grid in a real browser: select, reject with a reason, watch the image leave; keys and filters.

Debian's Chromium driven by Playwright's sync API against Django's live server.
"""

import re

import pytest

from labeling.models import Task
from review.models import Review
from tests.factories import ProjectFactory, TaskFactory, tasks_label, tasks_review

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
CLASSES = ("Cat", "Dog", "Bird")


def test_reviewer_rejects_an_image_and_it_leaves_the_list(browser_as, workspace, reviewer, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=CLASSES)
    tasks = TaskFactory.create_batch(3, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
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
    assert page.errors == [], page.errors
    assert tasks


def test_keyboard_selection_approve_viewer_and_filters_in_url(browser_as, workspace, reviewer, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=CLASSES)
    TaskFactory.create_batch(4, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
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
    assert page.errors == [], page.errors


def test_conflict_is_shown_and_nothing_changes(browser_as, workspace, reviewer, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=CLASSES)
    tasks = TaskFactory.create_batch(2, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
    page.allow("409")  # htmx logs the refused request itself
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/")
    # After the page loaded, another reviewer sent the image back and it was labeled again.
    tasks_review(project, tasks[:1], decision="reject")
    tasks_label(project, tasks[:1], user=labeler, labels=project.label_classes.last())
    reviews = Review.objects.count()
    page.locator(f'.tile[data-item="{tasks[0].item.uuid}"]').click()
    page.get_by_role("button", name="Approve").click()
    page.locator("[data-status].is-error", has_text="changed meanwhile").wait_for()
    assert page.locator("#review-results .tile").count() == 2
    assert Review.objects.count() == reviews
    # The re-rendered grid carries the new version: approving again now works.
    page.locator(f'.tile[data-item="{tasks[0].item.uuid}"]').click()
    page.keyboard.press("a")
    page.locator("[data-status]", has_text="Approved: 1 image.").wait_for()
    assert Task.objects.get(pk=tasks[0].pk).state == Task.State.APPROVED
    # htmx logs the refused request itself; anything else (a CSP violation, a script error) would be a problem.
    assert [p for p in page.errors if "409" not in p] == [], page.errors


# --- Paging by cursor -----------------------------------------------------------------------------


def cats_and_dogs(project, labeler, cats=30):
    """`cats` Cat labels a minute apart with 6 Dog labels among them: the Cat UUIDs, newest first."""
    from datetime import timedelta

    from django.utils import timezone

    cat, dog = project.label_classes.get(name="Cat"), project.label_classes.get(name="Dog")
    start = timezone.now() - timedelta(hours=1)
    tasks = TaskFactory.create_batch(
        cats,
        project=project,
        state=Task.State.LABELED,
        labeler=labeler,
        labels=cat,
        labeled_at=start,
        step=timedelta(minutes=1),
    )
    TaskFactory.create_batch(
        6,
        project=project,
        state=Task.State.LABELED,
        labeler=labeler,
        labels=dog,
        labeled_at=start + timedelta(seconds=30),
        step=timedelta(minutes=5),
    )
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


def test_paging_by_cursor_keeps_filters_in_the_url_and_history(browser_as, workspace, reviewer, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=CLASSES)
    cats = cats_and_dogs(project, labeler)
    page = browser_as(reviewer)
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
    assert page.errors == [], page.errors


def test_approving_on_page_two_stays_on_page_two(browser_as, workspace, reviewer, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=CLASSES)
    cats = cats_and_dogs(project, labeler, cats=26)[::-1]  # oldest first
    page = browser_as(reviewer)
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
    assert (
        page.locator("#review-results .tile.is-approved").evaluate_all("t => t.map(e => e.dataset.item)") == cats[13:16]
    )
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
    assert page.errors == [], page.errors


def test_a_garbled_cursor_shows_the_first_page_and_says_so(browser_as, workspace, reviewer, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=CLASSES)
    cats = cats_and_dogs(project, labeler, cats=14)
    page = browser_as(reviewer)
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
    assert page.errors == [], page.errors
