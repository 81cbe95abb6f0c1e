"""Review pages: who may see them, filters in the URL, htmx fragments, bulk decisions, history, skipped items."""

import html
import re

import pytest
from django.utils import timezone

from labeling.models import Annotation, Task
from review.models import Review
from tests.factories import TaskFactory, tasks_label, tasks_review

PAGES = ["labeled", "queue"]


def tiles(response):
    return re.findall(r'name="items" value="([0-9a-f-]{36}):(\d+)"', response.content.decode())


def next_link(response):
    found = re.search(r'<a href="([^"]+)"[^>]* rel="next"', response.content.decode())
    return html.unescape(found.group(1)) if found else None


@pytest.mark.parametrize("page", PAGES)
def test_reviewer_manager_and_workspace_admin_see_review_pages(
    page, review_url, labeled, reviewer_client, manager_client, ws_admin_client
):
    for client in (reviewer_client, manager_client, ws_admin_client):
        response = client.get(review_url(page))
        assert response.status_code == 200, page
        assert response["Vary"].count("HX-Request")


@pytest.mark.parametrize("name", ["labeled", "queue", "skipped", "item"])
def test_labeler_gets_403_outsider_404_anonymous_login(
    name, review_url, labeled, labeler_client, outsider_client, anon_client
):
    kwargs = {"item": labeled[0].item.uuid} if name == "item" else {}
    url = review_url(name, **kwargs)
    assert labeler_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404
    assert anon_client.get(url)["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("name", ["labeled", "queue", "skipped"])
def test_htmx_fragments_follow_the_same_rules(
    name, review_url, labeled, labeler_client, outsider_client, manager_client
):
    htmx = {"HX-Request": "true"}
    assert labeler_client.get(review_url(name), headers=htmx).status_code == 403
    assert outsider_client.get(review_url(name), headers=htmx).status_code == 404
    fragment = manager_client.get(review_url(name), headers=htmx)
    assert fragment.status_code == 200 and "<html" not in fragment.content.decode()


@pytest.mark.parametrize("name", ["decide", "queue_claim", "queue_release", "skipped_action"])
def test_posts_refuse_labeler_and_outsider(name, review_url, labeled, labeler_client, outsider_client):
    data = {"items": f"{labeled[0].item.uuid}:1", "decision": "approve", "action": "requeue"}
    assert labeler_client.post(review_url(name), data).status_code == 403
    assert outsider_client.post(review_url(name), data).status_code == 404
    assert Task.objects.get(pk=labeled[0].pk).state == Task.State.LABELED


def test_wrong_method_is_405(review_url, labeled, reviewer_client):
    assert reviewer_client.post(review_url("labeled")).status_code == 405
    assert reviewer_client.get(review_url("decide")).status_code == 405


def test_other_projects_items_are_404(review_url, labeled, reviewer_client, other_workspace, outsider):
    foreign = TaskFactory.create(project__workspace=other_workspace, state=Task.State.LABELED, labeler=outsider)
    assert reviewer_client.get(review_url("item", item=foreign.item.uuid)).status_code == 404
    response = reviewer_client.post(review_url("decide"), {"items": f"{foreign.item.uuid}:1", "decision": "approve"})
    assert response.status_code == 404


def test_skipped_page_is_for_managers(review_url, project, labeler, reviewer_client, manager_client):
    TaskFactory.create_batch(2, project=project, state=Task.State.SKIPPED, labeler=labeler)
    assert reviewer_client.get(review_url("skipped")).status_code == 403
    response = manager_client.get(review_url("skipped"))
    assert response.status_code == 200 and len(tiles(response)) == 2


def test_labeled_grid_shows_tags_labeler_and_time(review_url, labeled, reviewer_client):
    response = reviewer_client.get(review_url("labeled"))
    page = response.content.decode()
    assert len(tiles(response)) == 5
    assert page.count('class="chip c0">Cat<') == 5 and page.count("Labeled, awaiting review") == 5
    assert page.count("labeler · <time") == 5
    assert 'aria-pressed="false"' in page and 'class="tile-grid layout-12"' in page
    assert '<option value="12" selected>' in page  # the default layout shows in the filter form


def test_filters_live_in_the_query_string(review_url, project, labeled, labeler, labeler2, classes, reviewer_client):
    dogs = TaskFactory.create_batch(3, project=project, state=Task.State.LABELED, labeler=labeler2, labels=classes[1])
    url = review_url("labeled")
    assert len(tiles(reviewer_client.get(url, {"class": "Dog"}))) == 3
    assert len(tiles(reviewer_client.get(url, {"labeler": "labeler"}))) == 5
    assert len(tiles(reviewer_client.get(url, {"labeler": "labeler2", "class": "Cat"}))) == 0
    today = timezone.localdate().isoformat()
    assert len(tiles(reviewer_client.get(url, {"from": today, "to": today}))) >= 1
    assert len(tiles(reviewer_client.get(url, {"to": "2000-01-01"}))) == 0
    newest = tiles(reviewer_client.get(url, {"sort": "newest"}))
    oldest = tiles(reviewer_client.get(url, {"sort": "oldest"}))
    assert newest == oldest[::-1]
    # Paging: 4 per page, the next page by the cursor of the last image shown.
    first = reviewer_client.get(url, {"layout": 4})
    second = reviewer_client.get(next_link(first))
    assert len(tiles(first)) == 4 and len(tiles(second)) == 4 and not set(tiles(first)) & set(tiles(second))
    assert next_link(second) is None  # 8 in all
    # Garbage in the URL is ignored, not an error.
    assert (
        reviewer_client.get(url, {"class": "Nope", "from": "yesterday", "layout": 7, "after": "x"}).status_code == 200
    )
    assert dogs


def test_state_filter(review_url, project, labeled, labeler, reviewer, reviewer_client):
    from review.services import review_decide

    review_decide(project=project, reviewer=reviewer, decisions=[(labeled[0].item.uuid, 1)], decision="approve")
    review_decide(project=project, reviewer=reviewer, decisions=[(labeled[1].item.uuid, 1)], decision="reject")
    TaskFactory.create_batch(2, project=project, state=Task.State.SKIPPED, labeler=labeler)
    url = review_url("labeled")
    assert len(tiles(reviewer_client.get(url))) == 4
    assert len(tiles(reviewer_client.get(url, {"state": "awaiting"}))) == 3
    assert len(tiles(reviewer_client.get(url, {"state": "approved"}))) == 1
    assert len(tiles(reviewer_client.get(url, {"state": "rejected"}))) == 1
    assert len(tiles(reviewer_client.get(url, {"state": "skipped"}))) == 2


def test_htmx_filter_returns_fragment_and_pushes_canonical_url(review_url, labeled, reviewer_client):
    response = reviewer_client.get(
        review_url("labeled"), {"class": "Cat", "sort": "newest", "labeler": ""}, headers={"HX-Request": "true"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and body.lstrip().startswith('<section id="review-results"')
    assert "<html" not in body
    assert response["HX-Push-Url"].endswith("/review/?class=Cat")
    restore = reviewer_client.get(
        review_url("labeled"), headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in restore.content.decode()


def test_bulk_reject_via_htmx_removes_tiles_and_requeues(review_url, project, labeled, reviewer_client):
    chosen = [f"{t.item.uuid}:{t.version}" for t in labeled[:2]]
    response = reviewer_client.post(
        review_url("decide"),
        {"items": chosen, "decision": "reject", "reason": "blurry", "mode": "labeled", "next": ""},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Rejected: 2 images." in response.content.decode()
    assert len(tiles(response)) == 3
    assert Task.objects.filter(project=project, state=Task.State.UNLABELED, leased_to=None).count() == 2


def test_plain_post_approve_redirects_back_with_filters(review_url, labeled, reviewer_client):
    response = reviewer_client.post(
        review_url("decide"),
        {
            "items": f"{labeled[0].item.uuid}:1",
            "decision": "approve",
            "mode": "labeled",
            "next": "state=awaiting",
        },
    )
    assert response.status_code == 302 and response["Location"].endswith("/review/?state=awaiting")
    assert Task.objects.get(pk=labeled[0].pk).state == Task.State.APPROVED
    follow = reviewer_client.get(response["Location"])
    assert len(tiles(follow)) == 4 and "Approved: 1 image." in follow.content.decode()


def test_stale_version_answers_409_with_message_and_changes_nothing(
    review_url, project, labeled, labeler, classes, reviewer_client
):
    tasks_review(project, labeled[:1], decision="reject")  # another reviewer sends it back…
    tasks_label(project, labeled[:1], user=labeler, labels=classes[2])  # …and it is labeled again
    reviews = Review.objects.count()
    response = reviewer_client.post(
        review_url("decide"),
        {
            "items": [f"{labeled[0].item.uuid}:1", f"{labeled[1].item.uuid}:1"],
            "decision": "reject",
            "mode": "labeled",
        },
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "changed meanwhile" in response.content.decode() and "Nothing was changed" in response.content.decode()
    assert Review.objects.count() == reviews


def test_plain_post_conflict_shows_the_page_with_409(review_url, project, labeled, labeler, classes, reviewer_client):
    tasks_review(project, labeled[:1], decision="reject")  # another reviewer sends it back…
    tasks_label(project, labeled[:1], user=labeler, labels=classes[2])  # …and it is labeled again
    response = reviewer_client.post(
        review_url("decide"),
        {
            "items": f"{labeled[0].item.uuid}:1",
            "decision": "approve",
            "mode": "labeled",
            "next": "state=awaiting\r\nX: y",
        },
    )
    assert response.status_code == 409 and "<html" in response.content.decode()
    assert "changed meanwhile" in response.content.decode()
    item_page = reviewer_client.post(
        review_url("decide"), {"items": f"{labeled[0].item.uuid}:1", "decision": "reject", "mode": "item"}
    )
    assert item_page.status_code == 409 and "History" in item_page.content.decode()


def test_reason_required_422(review_url, project, labeled, reviewer_client):
    project.require_reject_reason = True
    project.save()
    response = reviewer_client.post(
        review_url("decide"),
        {"items": f"{labeled[0].item.uuid}:1", "decision": "reject", "mode": "labeled"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422 and "reason" in response.content.decode()
    assert Task.objects.get(pk=labeled[0].pk).state == Task.State.LABELED


def test_self_review_refused_403(review_url, project, manager, manager_client):
    mine = TaskFactory.create(project=project, state=Task.State.LABELED, labeler=manager)
    response = manager_client.post(
        review_url("decide"),
        {"items": f"{mine.item.uuid}:1", "decision": "approve", "mode": "labeled"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 403 and "someone else must review" in response.content.decode()
    page = manager_client.get(review_url("item", item=mine.item.uuid)).content.decode()
    assert "someone else must review it" in page
    grid = manager_client.get(review_url("labeled")).content.decode()
    assert grid.count(" data-own") == 1 and grid.count("your label") == 1


def test_item_page_shows_full_history_after_reject(review_url, project, labeled, labeler, classes, reviewer_client):
    task = labeled[0]
    reviewer_client.post(
        review_url("decide"),
        {"items": f"{task.item.uuid}:1", "decision": "reject", "reason": "a <b>dog</b>", "mode": "item"},
    )
    tasks_label(project, [task], user=labeler, labels=classes[1])
    page = reviewer_client.get(review_url("item", item=task.item.uuid)).content.decode()
    assert page.count('class="history-annotation"') == 2 and page.count('class="history-review"') == 1
    assert "a &lt;b&gt;dog&lt;/b&gt;" in page  # escaped
    assert "version 1" in page and ">Cat<" in page and ">Dog<" in page


def test_correct_and_approve_from_item_page(review_url, labeled, reviewer_client, reviewer, classes):
    task = labeled[0]
    response = reviewer_client.post(
        review_url("decide"), {"items": f"{task.item.uuid}:1", "decision": "correct", "labels": "Bird", "mode": "item"}
    )
    assert response.status_code == 302 and f"/items/{task.item.uuid}/" in response["Location"]
    current = Annotation.objects.get(task=task, is_current=True)
    assert current.source == "reviewer" and [c.name for c in current.labels.all()] == ["Bird"]
    assert Review.objects.get(task=task).decision == "corrected"


def test_queue_claim_shows_a_page_that_other_reviewers_do_not_get(
    review_url, labeled, reviewer_client, reviewer2, client_for
):
    assert tiles(reviewer_client.get(review_url("queue"))) == []
    response = reviewer_client.post(review_url("queue_claim"), {"layout": 4}, headers={"HX-Request": "true"})
    mine = tiles(response)
    assert len(mine) == 4
    other = client_for(reviewer2)
    other.post(review_url("queue_claim"), {"layout": 4})
    theirs = tiles(other.get(review_url("queue"), {"layout": 4}))
    assert len(theirs) == 1 and not set(theirs) & set(mine)
    # Deciding from the queue re-renders the queue page.
    response = reviewer_client.post(
        review_url("decide"),
        {"items": [f"{u}:{v}" for u, v in mine], "decision": "approve", "mode": "queue", "next": "layout=4"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and tiles(response) == [] and "Next to review" in response.content.decode()


def test_skipped_requeue_and_remove_pages(review_url, project, labeler, manager_client):
    skipped = TaskFactory.create_batch(3, project=project, state=Task.State.SKIPPED, labeler=labeler)
    response = manager_client.post(
        review_url("skipped_action"),
        {"items": f"{skipped[0].item.uuid}:{skipped[0].version}", "action": "requeue"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200 and len(tiles(response)) == 2
    response = manager_client.post(
        review_url("skipped_action"), {"items": [f"{t.item.uuid}:{t.version}" for t in skipped[1:]], "action": "remove"}
    )
    assert response.status_code == 302
    assert list(Task.objects.filter(project=project).values_list("state", flat=True)) == ["unlabeled"]


def test_giving_a_queue_page_back_frees_it_for_others(review_url, labeled, reviewer_client, reviewer2, client_for):
    reviewer_client.post(review_url("queue_claim"), {"layout": 20})
    other = client_for(reviewer2)
    other.post(review_url("queue_claim"), {"layout": 20})
    assert tiles(other.get(review_url("queue"), {"layout": 20})) == []
    response = reviewer_client.post(review_url("queue_release"))
    assert response.status_code == 302
    other.post(review_url("queue_claim"), {"layout": 20})
    assert len(tiles(other.get(review_url("queue"), {"layout": 20}))) == 5


def test_labeler_approval_and_rejection_rates(review_url, project, labeled, reviewer, reviewer_client):
    from review.selectors import labeler_rates
    from review.services import review_decide

    review_decide(
        project=project, reviewer=reviewer, decisions=[(t.item.uuid, 1) for t in labeled[:3]], decision="approve"
    )
    review_decide(project=project, reviewer=reviewer, decisions=[(labeled[3].item.uuid, 1)], decision="reject")
    [row] = labeler_rates(project)
    assert (row["labeled"], row["approved"], row["rejected"]) == (5, 3, 1)
    assert row["approval_rate"] == 0.75 and row["rejection_rate"] == 0.25
    page = reviewer_client.get(review_url("labeled")).content.decode()
    assert "<td>75 %</td>" in page and "<td>25 %</td>" in page


def test_paging_through_labeled_data_shows_every_task_once_in_order(
    review_url, project, labeled, labeler, classes, reviewer_client
):
    TaskFactory.create_batch(7, project=project, state=Task.State.LABELED, labeler=labeler, labels=classes[0])
    url = review_url("labeled")
    everything = tiles(reviewer_client.get(url, {"layout": 20}))
    response = reviewer_client.get(url, {"layout": 4})
    paged = tiles(response)
    while next_link(response):
        response = reviewer_client.get(next_link(response))
        paged += tiles(response)
    assert len(everything) == 12 and paged == everything  # later pages keep the newest-first order


def _labelers_row(body, username):
    table = re.search(r'<div id="labelers"[^>]*>(.*?)</div>', body, re.S)
    assert table, "no Labelers table"
    row = re.search(rf"<tr><td>{username}</td>(.*?)</tr>", table.group(1), re.S)
    return re.findall(r"<td>([^<]*)</td>", row.group(1))


def test_a_decision_updates_the_labelers_table_in_the_same_answer(review_url, labeled, labeler, reviewer_client):
    page = reviewer_client.get(review_url("labeled")).content.decode()
    assert _labelers_row(page, labeler.username)[:3] == ["5", "0", "0"]
    approve = reviewer_client.post(
        review_url("decide"),
        {
            "items": [f"{t.item.uuid}:{t.version}" for t in labeled[:2]],
            "decision": "approve",
            "mode": "labeled",
            "next": "",
        },
        headers={"HX-Request": "true"},
    )
    body = approve.content.decode()
    assert '<div id="labelers" hx-swap-oob="true">' in body
    assert _labelers_row(body, labeler.username)[:3] == ["5", "2", "0"]
    reject = reviewer_client.post(
        review_url("decide"),
        {
            "items": [f"{labeled[2].item.uuid}:{labeled[2].version}"],
            "decision": "reject",
            "mode": "labeled",
            "next": "",
        },
        headers={"HX-Request": "true"},
    )
    assert _labelers_row(reject.content.decode(), labeler.username)[:3] == ["5", "2", "1"]


def test_approve_with_nothing_selected_says_select_images_first(review_url, labeled, reviewer_client):
    htmx = reviewer_client.post(
        review_url("decide"), {"decision": "approve", "mode": "labeled", "next": ""}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 422 and "Select images first." in htmx.content.decode()
    plain = reviewer_client.post(review_url("decide"), {"decision": "reject", "mode": "labeled", "next": ""})
    assert plain.status_code == 422 and "Select images first." in plain.content.decode()
    assert Task.objects.filter(state=Task.State.LABELED).count() == 5
