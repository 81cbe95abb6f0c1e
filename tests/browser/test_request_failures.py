"""A failed request is never silent: in Chromium, the network is cut (or the server answers with an error) under an htmx
action; the page says so near the action, keeps what was entered, and Retry sends the same request once more."""

import re

import pytest
from django.contrib.auth.models import Group
from django.db.models import Count
from playwright.sync_api import expect

from exports.models import Export
from labeling.models import Annotation, Task
from projects.models import LabelClass, Membership
from projects.tenancy.roles import LABELER
from review.models import Review
from tests.factories import ProjectFactory, TaskFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What Chromium and htmx log on their own when a request fails: the failure is the point of these tests.
EXPECTED_LOGS = (
    "net::ERR_FAILED",
    "htmx:afterRequest, ",
    "htmx:sendError",
    "htmx:timeout",
    "Response Status Error Code",
    "the server responded with a status of",
)


def unexpected(page):
    """The page's console errors besides those a failed request makes (each test opens its page allowing those)."""
    return [e for e in page.errors if not any(known in e for known in EXPECTED_LOGS)]


def lose_the_answer(route):
    """The request reaches the server (and is done there), but the answer never comes back: the worst case for a retry."""
    route.fetch()
    route.abort()


def test_grid_submit_without_network_says_not_submitted_keeps_tags_and_retry_saves_once(browser_as, labeler, workspace):
    project = ProjectFactory.create(workspace=workspace)
    page = browser_as(labeler)
    page.allow(*EXPECTED_LOGS)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/label/tasks/")
    tiles = page.locator("#tiles .tile")
    expect(tiles).to_have_count(9)
    first_page = tiles.evaluate_all("ts => ts.map(t => t.dataset.item)")
    page.get_by_role("button", name="Select all").click()
    page.locator("#tag-form .tag-button", has_text="cat").click()
    expect(page.locator('#tiles .chips[data-count="1"]')).to_have_count(9)

    submit_url = re.compile(r"/label/tasks/submit/$")
    page.route(submit_url, lambda route: route.abort())  # the network is cut
    page.locator("#submit-page").click()
    alert = page.locator("#submit-alert [role=alert]")
    expect(alert).to_contain_text("could not be reached")
    expect(alert).to_contain_text("What you entered is kept")
    expect(page.locator("#submit-hint")).to_contain_text("NOT submitted yet")
    expect(page.locator("#submit-hint")).not_to_contain_text("ready to submit")
    expect(page.locator("#tiles .chip")).to_have_count(9)  # the tags are still shown
    expect(page.locator("#submit-page")).to_be_enabled()
    assert not Annotation.objects.filter(task__project=project).exists()

    # Retry while the answer is still lost: the server saves the page, the labeler still sees it unsent.
    page.unroute(submit_url)
    page.route(submit_url, lose_the_answer)
    alert.get_by_role("button", name="Retry").click()
    expect(alert.get_by_role("button", name="Retry")).to_be_enabled()
    expect(page.locator("#submit-hint")).to_contain_text("NOT submitted yet")
    expect(tiles).to_have_count(9)
    assert Annotation.objects.filter(task__project=project).count() == 9

    # The network is back: Retry brings the next page, the message goes, and every task was saved exactly once.
    page.unroute(submit_url)
    alert.get_by_role("button", name="Retry").click()
    expect(tiles).to_have_count(3)
    assert not set(tiles.evaluate_all("ts => ts.map(t => t.dataset.item)")) & set(first_page)
    expect(page.locator("#submit-alert [role=alert]")).to_have_count(0)
    expect(page.locator("#submit-hint")).not_to_contain_text("NOT submitted")
    per_task = Annotation.objects.filter(task__project=project).values("task").annotate(n=Count("id"))
    assert sorted(row["n"] for row in per_task) == [1] * 9
    assert Task.objects.filter(project=project, state=Task.State.LABELED).count() == 9
    assert unexpected(page) == []


def test_grid_tag_that_times_out_is_reported_and_retried(browser_as, labeler, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=4)
    page = browser_as(labeler)
    page.allow(*EXPECTED_LOGS)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/label/tasks/")
    expect(page.locator("#tiles .tile")).to_have_count(4)
    page.evaluate("htmx.config.timeout = 1000")
    tag_url = re.compile(r"/label/tasks/tags/$")
    page.route(tag_url, lambda route: None)  # the server never answers
    page.get_by_role("button", name="Select all").click()
    page.locator("#tag-form .tag-button", has_text="dog").click()
    alert = page.locator("#tag-alert [role=alert]")
    expect(alert).to_contain_text("did not answer within 1 second.")
    expect(page.locator('#tiles .chips[data-count="0"]')).to_have_count(4)
    expect(page.locator('#tiles .tile-pick[aria-pressed="true"]')).to_have_count(4)  # the selection is kept
    page.unroute(tag_url)
    alert.get_by_role("button", name="Retry").click()
    expect(page.locator("#tiles .chip", has_text="dog")).to_have_count(4)
    expect(page.locator("#tag-alert [role=alert]")).to_have_count(0)
    assert unexpected(page) == []


def test_review_approve_without_network_keeps_selection_and_retry_decides_once(
    browser_as, reviewer, labeler, workspace
):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    tasks = TaskFactory.create_batch(3, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
    page.allow(*EXPECTED_LOGS)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/")
    tiles = page.locator("#review-results .tile")
    expect(tiles).to_have_count(3)
    tiles.nth(0).click()
    tiles.nth(1).click()
    chosen = [tiles.nth(i).get_attribute("data-item") for i in (0, 1)]

    decide_url = re.compile(r"/review/decide/$")
    page.route(decide_url, lambda route: route.abort())
    page.get_by_role("button", name="Approve").click()
    alert = page.locator("#review-alert [role=alert]")
    expect(alert).to_contain_text("could not be reached")
    expect(alert).to_be_in_viewport()
    expect(page.locator('#review-results .tile[aria-pressed="true"]')).to_have_count(2)
    assert not Review.objects.exists()
    assert Task.objects.filter(project=project, state=Task.State.LABELED).count() == 3

    page.unroute(decide_url)
    alert.get_by_role("button", name="Retry").click()
    page.locator("[data-status]", has_text="Approved: 2 images.").wait_for()
    expect(page.locator("#review-alert [role=alert]")).to_have_count(0)
    assert sorted(str(u) for u in Review.objects.values_list("task__item__uuid", flat=True)) == sorted(chosen)
    approved = Task.objects.filter(project=project, state=Task.State.APPROVED).values_list("item__uuid", flat=True)
    assert sorted(str(u) for u in approved) == sorted(chosen)
    assert tasks and unexpected(page) == []


def test_review_refused_by_a_whole_error_page_shows_a_sentence_not_the_page(browser_as, reviewer, labeler, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    TaskFactory.create_batch(2, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
    page.allow(*EXPECTED_LOGS)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/")
    page.locator("#review-results .tile").first.click()
    Membership.objects.filter(user=reviewer, workspace=workspace).update(group=Group.objects.get(name=LABELER))
    page.get_by_role("button", name="Approve").click()
    alert = page.locator("#review-alert [role=alert]")
    expect(alert).to_contain_text("not allowed to do this (error 403)")
    expect(alert.get_by_role("button", name="Reload page")).to_be_visible()
    # The 403 page was not swapped into the list: one top bar, the tiles and the selection as they were.
    expect(page.locator("header.topbar")).to_have_count(1)
    expect(page.locator("#review-results .tile")).to_have_count(2)
    expect(page.locator('#review-results .tile[aria-pressed="true"]')).to_have_count(1)
    assert not Review.objects.exists()
    assert unexpected(page) == []


def test_wizard_step_answered_with_500_shows_the_message_and_keeps_the_input(browser_as, manager):
    page = browser_as(manager)
    page.allow(*EXPECTED_LOGS)
    page.goto("/o/acme/vision/projects/new/")
    expect(page).to_have_url(re.compile(r"/projects/new/details/$"))
    page.get_by_label("Project name").fill("cats-n-dogs")
    page.get_by_label("Image Classification Multi-class").check()
    step_url = re.compile(r"/projects/new/details/$")

    def server_error(route):
        if route.request.method == "POST":
            route.fulfill(status=500, content_type="text/html", body="<h1>Server Error (500)</h1>")
        else:
            route.continue_()

    page.route(step_url, server_error)
    page.get_by_role("button", name="Next").click()
    alert = page.locator("#wizard-alert [role=alert]")
    expect(alert).to_contain_text("Something went wrong on the server (error 500)")
    expect(page.locator("#wizard")).not_to_contain_text("Server Error")
    expect(page.get_by_label("Project name")).to_have_value("cats-n-dogs")
    expect(page.get_by_label("Image Classification Multi-class")).to_be_checked()
    expect(page).to_have_url(step_url)
    page.unroute(step_url)
    alert.get_by_role("button", name="Retry").click()
    expect(page).to_have_url(re.compile(r"/projects/new/dataset/$"))
    expect(page.locator("#wizard-alert [role=alert]")).to_have_count(0)
    assert unexpected(page) == []


def test_export_start_answered_with_500_then_polling_without_network_keeps_polling(browser_as, manager, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=3)
    page = browser_as(manager)
    page.allow(*EXPECTED_LOGS)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/exports/")
    create_url = re.compile(r"/exports/new/$")
    page.route(
        create_url,
        lambda route: route.fulfill(status=500, content_type="text/html", body="<h1>Server Error (500)</h1>"),
    )
    page.get_by_role("button", name="Export").click()
    alert = page.locator("#export-alert [role=alert]")
    expect(alert).to_contain_text("error 500")
    expect(page.locator("#export-status")).to_contain_text("No export yet")
    assert not Export.objects.exists()
    page.unroute(create_url)

    # A running export polls its status; the connection drops: the page says so and keeps asking.
    export = Export.objects.create(project=project, format="coco", state="running", total=3, created_by=manager)
    page.reload()
    status_url = re.compile(r"/status/$")
    page.route(status_url, lambda route: route.abort())
    expect(alert).to_contain_text("Connection lost. Retrying")
    expect(alert.get_by_role("button")).to_have_count(0)  # nothing to press: it retries by itself
    page.unroute(status_url)
    expect(page.locator("#export-alert [role=alert]")).to_have_count(0)
    Export.objects.filter(pk=export.pk).update(state="failed", error="The worker stopped.")
    expect(page.locator("#export-status")).to_contain_text("The worker stopped.")
    assert unexpected(page) == []


def test_settings_add_label_answered_429_waits_for_retry_after_then_retries(browser_as, manager, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=2)
    page = browser_as(manager)
    page.allow(*EXPECTED_LOGS)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/settings/")
    page.get_by_placeholder("New label class").fill("Lizard")
    add_url = re.compile(r"/labels/add/$")
    page.route(add_url, lambda route: route.fulfill(status=429, headers={"Retry-After": "2"}, body="Slow down."))
    page.get_by_role("button", name="+ Add label").click()
    alert = page.locator("#labels-alert [role=alert]")
    expect(alert).to_contain_text("Too many requests right now (error 429)")
    retry = alert.get_by_role("button", name=re.compile("^Retry"))
    expect(retry).to_be_disabled()
    expect(retry).to_have_text(re.compile(r"Retry \(in [12] s\)"))
    expect(page.get_by_placeholder("New label class")).to_have_value("Lizard")
    page.unroute(add_url)
    expect(retry).to_be_enabled(timeout=4000)
    retry.click()
    expect(page.locator("#labels .chip")).to_have_text(["cat", "dog", "bird", "Lizard"])
    expect(page.locator("#labels-alert [role=alert]")).to_have_count(0)
    assert LabelClass.objects.filter(project=project, name="Lizard").count() == 1
    assert unexpected(page) == []


def test_an_action_without_its_own_spot_reports_in_the_bar_at_the_bottom(browser_as, reviewer, labeler, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=0)
    TaskFactory.create_batch(2, project=project, state=Task.State.LABELED, labeler=labeler)
    page = browser_as(reviewer)
    page.allow(*EXPECTED_LOGS)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/review/")
    listing = re.compile(r"/review/\?")
    page.route(listing, lambda route: route.abort())
    page.select_option("#id_state", "approved")
    bar = page.locator("#request-alert [role=alert]")
    expect(bar).to_contain_text("could not be reached")
    expect(bar).to_be_in_viewport()
    expect(page.locator("#review-results .tile")).to_have_count(2)
    page.unroute(listing)
    bar.get_by_role("button", name="Retry").click()
    expect(page).to_have_url(re.compile(r"\?state=approved$"))
    expect(page.locator("#review-results .tile")).to_have_count(0)
    expect(page.locator("#request-alert [role=alert]")).to_have_count(0)
    assert unexpected(page) == []
