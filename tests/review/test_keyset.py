"""Keyset paging of labeled data: every matching task exactly once, in order, forward and back, on the
page and in the API; ties on labeled_at and tasks without one; broken cursors; links that keep the cursor."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling.models import Annotation, Task
from labeling.services import project_missing_items_withdraw
from projects.models import DataItem
from review.models import Review
from review.selectors import Cursor, LabeledFilters, labeled_page
from review.services import review_decide
from tests.factories import REJECTED, TaskFactory, tasks_label

NEVER = datetime.min.replace(tzinfo=UTC)


@pytest.fixture
def mixed(project, labeler, labeler2, reviewer, classes):
    """Labeled, approved, rejected and skipped tasks, with ties on labeled_at and some without one."""
    now = timezone.now().replace(microsecond=0)
    TaskFactory.create_batch(
        5,
        project=project,
        state=Task.State.LABELED,
        labeler=labeler,
        labels=classes[0],
        labeled_at=now - timedelta(hours=3),
        step=timedelta(minutes=1),
    )
    tied = now - timedelta(hours=2)
    dogs = TaskFactory.create_batch(
        4, project=project, state=Task.State.LABELED, labeler=labeler2, labels=classes[1], labeled_at=tied
    )
    TaskFactory.create_batch(
        3, project=project, state=Task.State.APPROVED, labeler=labeler, labels=classes[1], labeled_at=tied
    )
    # Rejected: back in the queue without labeled_at; one of them labeled again since.
    review_decide(
        project=project, reviewer=reviewer, decisions=[(t.item.uuid, t.version) for t in dogs[:3]], decision="reject"
    )
    tasks_label(project, dogs[:1], user=labeler, labels=classes[0])
    TaskFactory.create_batch(3, project=project, state=Task.State.SKIPPED, labeler=labeler, labeled_at=tied)
    # Set aside without a time: rejected, then their files vanished, so they left the queue as skipped (history kept).
    never = TaskFactory.create_batch(2, project=project, state=REJECTED, labeler=labeler)
    DataItem.objects.filter(pk__in=[t.item_id for t in never]).update(state=DataItem.State.MISSING)
    assert project_missing_items_withdraw(project=project) == 2
    TaskFactory.create_batch(2, project=project, state=Task.State.UNLABELED)
    return project


def expected(project, state="", label=None, labeler=None, newest_first=True):
    """The filter and the order written out in Python, independently of the selector."""
    rejected = set(Review.objects.filter(decision=Review.Decision.REJECTED).values_list("task_id", flat=True))
    tagged = (
        set(
            Annotation.labels.through.objects.filter(annotation__is_current=True, labelclass=label).values_list(
                "annotation__task_id", flat=True
            )
        )
        if label
        else set()
    )
    states = {"": {"labeled", "approved"}, "awaiting": {"labeled"}, "skipped": {"skipped"}}.get(state)
    tasks = [
        t
        for t in Task.objects.filter(project=project)
        if (t.pk in rejected if state == "rejected" else t.state in states)
        and (label is None or t.pk in tagged)
        and (labeler is None or t.labeled_by_id == labeler.pk)
    ]
    tasks.sort(key=lambda t: (t.labeled_at or NEVER, t.pk), reverse=newest_first)
    return [t.pk for t in tasks]


def walk(project, filters, classes, size):
    """Follow next cursors to the end, then previous cursors back to the start: (forward, backward) ids."""
    page = labeled_page(project=project, filters=filters, classes=classes, size=size)
    assert page.first and page.previous_cursor is None
    forward = [t.pk for t in page.tasks]
    while page.next_cursor:
        page = labeled_page(project=project, filters=filters, classes=classes, size=size, after=page.next_cursor)
        assert 0 < len(page.tasks) <= size and not page.first
        forward += [t.pk for t in page.tasks]
    backward = [t.pk for t in page.tasks]
    while page.previous_cursor:
        page = labeled_page(project=project, filters=filters, classes=classes, size=size, before=page.previous_cursor)
        assert len(page.tasks) == size
        backward = [t.pk for t in page.tasks] + backward
    assert page.first
    return forward, backward


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("size", [1, 2, 4, 50])
@pytest.mark.parametrize("state", ["", "awaiting", "rejected", "skipped"])
def test_every_matching_task_once_in_order_forward_and_back(mixed, classes, state, size, newest_first):
    filters = LabeledFilters(state=state, newest_first=newest_first)
    forward, backward = walk(mixed, filters, classes, size)
    want = expected(mixed, state, newest_first=newest_first)
    assert forward == want and backward == want
    if state in ("rejected", "skipped"):
        untimed = {"rejected": 4, "skipped": 2}[state]  # back in the queue, or withdrawn after a rejection
        assert Task.objects.filter(pk__in=want, labeled_at=None).count() == untimed  # untimed tasks are in the walk


@pytest.mark.parametrize("newest_first", [True, False])
def test_class_and_labeler_filters_page_the_same_way(mixed, classes, labeler, newest_first):
    for filters, want in (
        (
            LabeledFilters(label_class=classes[1], newest_first=newest_first),
            expected(mixed, label=classes[1], newest_first=newest_first),
        ),
        (
            LabeledFilters(labeler=labeler, state="awaiting", newest_first=newest_first),
            expected(mixed, "awaiting", labeler=labeler, newest_first=newest_first),
        ),
    ):
        forward, backward = walk(mixed, filters, classes, 2)
        assert forward == backward == want and want


@pytest.mark.parametrize("newest_first", [True, False])
def test_class_filter_pages_alike_whether_its_class_is_common_or_rare(mixed, classes, labeler, newest_first):
    """A common class is walked in time order probing each task's tags, a rare one read from its tags first:
    the same tasks in the same order either way, ties on labeled_at included."""
    tied = Task.objects.filter(project=mixed, state=Task.State.APPROVED).values_list("labeled_at", flat=True)[0]
    TaskFactory.create_batch(
        20, project=mixed, state=Task.State.APPROVED, labeler=labeler, labels=classes[0], labeled_at=tied
    )
    TaskFactory.create_batch(
        50, project=mixed, state=Task.State.LABELED, labeler=labeler, labels=classes[0]
    )  # common enough to walk
    for label, common in ((classes[0], True), (classes[1], False)):
        filters = LabeledFilters(label_class=label, newest_first=newest_first)
        with CaptureQueriesContext(connection) as queries:
            forward, backward = walk(mixed, filters, classes, 4)
        assert forward == backward == expected(mixed, label=label, newest_first=newest_first)
        pages = [q["sql"] for q in queries if 'FROM "labeling_task"' in q["sql"] and "LIMIT" in q["sql"]]
        # A walk probes each task's tags with a scalar subquery; a rare class's tags are read first (on
        # PostgreSQL into an array, so that the planner cannot make a walk of it again).
        assert pages and all(("LIMIT 1) IS NOT NULL" in sql) == common for sql in pages)
        if connection.vendor == "postgresql":
            assert all(("= ANY(ARRAY(SELECT" in sql) != common for sql in pages)


def test_a_cursor_is_a_position_not_a_row(mixed, classes, reviewer):
    """Deciding the rows around a cursor moves nothing else: the next page still starts right after it."""
    filters = LabeledFilters(state="awaiting")
    first = labeled_page(project=mixed, filters=filters, classes=classes, size=3)
    review_decide(
        project=mixed, reviewer=reviewer, decisions=[(t.item.uuid, t.version) for t in first.tasks], decision="approve"
    )
    following = labeled_page(project=mixed, filters=filters, classes=classes, size=3, after=first.next_cursor)
    assert [t.pk for t in following.tasks] == expected(mixed, "awaiting")[:3]
    # Going back from there: the newer rows are gone, so Previous shows the (now) first page, full.
    back = labeled_page(project=mixed, filters=filters, classes=classes, size=3, before=following.previous_cursor)
    assert back.first and [t.pk for t in back.tasks] == expected(mixed, "awaiting")[:3]


def test_cursor_tokens_are_opaque_and_signed():
    at = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    for cursor in (Cursor(at, 42), Cursor(None, 7)):
        assert Cursor.from_token(cursor.token) == cursor
        assert "2024" not in cursor.token and re.fullmatch(r"[\w.-]+", cursor.token)
    forged = signing.Signer(salt="something else", sep=".").sign_object([0, 1])
    for bad in ("", "x", "abc.def", Cursor(at, 42).token[:-2] + "AA", forged, "a" * 500):
        with pytest.raises(ValueError):  # noqa: PT011 — each bad token fails in its own way
            Cursor.from_token(bad)


# --- The page -----------------------------------------------------------------------------------


def tiles(response):
    return re.findall(r'name="items" value="([0-9a-f-]{36}):\d+"', response.content.decode())


def link(response, rel):
    found = re.search(rf'<a href="([^"]+)"[^>]* rel="{rel}"', response.content.decode())
    return unescape(found.group(1)) if found else None


def test_next_and_previous_links_visit_every_image_once_keeping_the_filters(
    mixed, labeler, review_url, reviewer_client
):
    url = review_url("labeled")
    query = {"state": "awaiting", "labeler": "labeler", "sort": "oldest", "layout": 1}
    response = reviewer_client.get(url, query)
    assert "First page" not in response.content.decode() and link(response, "prev") is None
    assert "Showing 1 image, oldest first" in response.content.decode()
    seen = tiles(response)
    while next_url := link(response, "next"):
        assert (
            "state=awaiting" in next_url
            and "labeler=labeler" in next_url
            and "sort=oldest" in next_url
            and "after=" in next_url
        )
        response = reviewer_client.get(next_url)
        assert response.status_code == 200 and "First page" in response.content.decode()
        seen += tiles(response)
    want = [
        str(Task.objects.get(pk=pk).item.uuid)
        for pk in expected(mixed, "awaiting", labeler=labeler, newest_first=False)
    ]
    assert seen == want and len(want) == 6
    back = tiles(response)
    while prev_url := link(response, "prev"):
        assert "before=" in prev_url and "after=" not in prev_url
        response = reviewer_client.get(prev_url)
        back = tiles(response) + back
    assert back == want


def test_htmx_paging_pushes_the_cursor_url(mixed, review_url, reviewer_client):
    first = reviewer_client.get(review_url("labeled"), {"layout": 4})
    response = reviewer_client.get(link(first, "next"), headers={"HX-Request": "true"})
    assert "<html" not in response.content.decode() and "after=" in response["HX-Push-Url"]
    assert response["HX-Push-Url"].endswith(link(first, "next").split("/review/")[1])


def test_back_to_a_cursor_page_htmx_no_longer_holds_is_the_whole_page_with_its_filters(
    mixed, review_url, reviewer_client
):
    """The browser's Back on a page missing from htmx's history cache asks the server: the same images, and
    the filter form showing that page's filters (not the defaults), so changing one more keeps the rest."""
    second_url = link(
        reviewer_client.get(review_url("labeled"), {"class": "Dog", "sort": "oldest", "layout": 1}), "next"
    )
    restore = reviewer_client.get(second_url, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"})
    body = restore.content.decode()
    assert "<html" in body and tiles(restore) == tiles(reviewer_client.get(second_url)) != []
    for selected in ('value="Dog" selected', 'value="oldest" selected', 'value="1" selected'):
        assert re.search(rf"<option {selected}>", body), selected


@pytest.mark.parametrize(
    "cursor", ["after=garbage", "before=xyz.abc", "after=WzAsMV0.forged-signature-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]
)
def test_broken_cursor_shows_the_first_page_with_a_message(cursor, mixed, review_url, reviewer_client):
    url = f"{review_url('labeled')}?state=awaiting&{cursor}"
    response = reviewer_client.get(url)
    assert response.status_code == 200
    assert "This page link is broken or out of date. Showing the first page." in response.content.decode()
    assert tiles(response) == [str(Task.objects.get(pk=pk).item.uuid) for pk in expected(mixed, "awaiting")]
    fragment = reviewer_client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment["HX-Push-Url"].endswith("/review/?state=awaiting")


def test_after_and_before_together_fall_back_to_the_first_page(mixed, review_url, reviewer_client):
    token = Cursor(timezone.now(), 1).token
    response = reviewer_client.get(review_url("labeled"), {"after": token, "before": token})
    assert response.status_code == 200 and "Give after or before, not both." in response.content.decode()


def test_outsider_and_labeler_cannot_page(mixed, review_url, outsider_client, labeler_client, reviewer_client):
    next_url = link(reviewer_client.get(review_url("labeled"), {"layout": 4}), "next")
    assert outsider_client.get(next_url).status_code == 404
    assert labeler_client.get(next_url).status_code == 403


def test_bulk_decisions_keep_the_cursor_and_filters(mixed, review_url, reviewer_client):
    first = reviewer_client.get(review_url("labeled"), {"state": "awaiting", "layout": 1})
    second_url = link(first, "next")
    second = reviewer_client.get(second_url)
    query = second_url.split("?", 1)[1]
    assert f'name="next" value="{query}"' in unescape(second.content.decode())
    [item] = tiles(second)
    task = Task.objects.get(item__uuid=item)
    # htmx: the page at the same cursor comes back, the approved image gone, the one after it in its place.
    response = reviewer_client.post(
        review_url("decide"),
        {"items": f"{item}:{task.version}", "decision": "approve", "mode": "labeled", "next": query},
        headers={"HX-Request": "true"},
    )
    after = expected(mixed, "awaiting")
    assert response.status_code == 200 and tiles(response) == [str(Task.objects.get(pk=after[1]).item.uuid)]
    # Plain HTTP: back to the same page.
    [item] = tiles(response)
    task = Task.objects.get(item__uuid=item)
    response = reviewer_client.post(
        review_url("decide"),
        {"items": f"{item}:{task.version}", "decision": "approve", "mode": "labeled", "next": query},
    )
    assert response.status_code == 302 and response["Location"] == f"{review_url('labeled')}?{query}"


def test_item_page_returns_to_the_page_it_came_from(mixed, review_url, reviewer_client):
    second_url = link(reviewer_client.get(review_url("labeled"), {"class": "Cat", "layout": 1}), "next")
    query = second_url.split("?", 1)[1]
    page = reviewer_client.get(second_url)
    detail = unescape(re.search(r'class="tile-open" href="([^"]+)"', page.content.decode()).group(1))
    assert "next=" in detail
    item_page = reviewer_client.get(detail)
    back = unescape(re.search(r'<a href="([^"]+)" data-esc-back>', item_page.content.decode()).group(1))
    assert back == second_url and f'name="next" value="{query}"' in unescape(item_page.content.decode())
    # A decision there comes back to the item, which still knows the way back.
    [item] = tiles(page)
    task = Task.objects.get(item__uuid=item)
    response = reviewer_client.post(
        review_url("decide"), {"items": f"{item}:{task.version}", "decision": "approve", "mode": "item", "next": query}
    )
    assert response.status_code == 302 and response["Location"] == detail
    # The way back is only ever a query string on the labeled-data page, never a URL of its own.
    item_page = reviewer_client.get(review_url("item", item=item), {"next": "https://evil.example/?x=1"})
    back = unescape(re.search(r'<a href="([^"]+)" data-esc-back>', item_page.content.decode()).group(1))
    assert back.startswith(review_url("labeled") + "?") and "//evil" not in back


def test_skipped_items_page_by_cursor(mixed, review_url, manager_client):
    response = manager_client.get(review_url("skipped"), {"layout": 1})
    seen = tiles(response)
    while next_url := link(response, "next"):
        response = manager_client.get(next_url)
        seen += tiles(response)
    assert seen == [str(Task.objects.get(pk=pk).item.uuid) for pk in expected(mixed, "skipped")] and len(seen) == 5


# --- The API ------------------------------------------------------------------------------------


@pytest.fixture
def items_url(project):
    return f"/api/v1/o/acme/vision/projects/{project.uuid}/review/items/"


def test_api_pages_by_cursor_forward_and_back(mixed, items_url, reviewer_client, monkeypatch):
    from review.api import LabeledCursorPagination

    monkeypatch.setattr(LabeledCursorPagination, "page_size", 2)
    body = reviewer_client.get(items_url, {"state": "rejected", "sort": "oldest"}).json()
    assert body["previous"] is None and "count" not in body
    seen = [i["item"] for i in body["results"]]
    while body["next"]:
        assert "state=rejected" in body["next"] and "sort=oldest" in body["next"]
        body = reviewer_client.get(body["next"]).json()
        seen += [i["item"] for i in body["results"]]
    back = [i["item"] for i in body["results"]]
    while body["previous"]:
        assert "before=" in body["previous"] and "after=" not in body["previous"]
        body = reviewer_client.get(body["previous"]).json()
        back = [i["item"] for i in body["results"]] + back
    want = [str(Task.objects.get(pk=pk).item.uuid) for pk in expected(mixed, "rejected", newest_first=False)]
    assert seen == back == want and len(want) == 5


@pytest.mark.parametrize(
    "query",
    [
        {"after": "garbage"},
        {"before": "WzAsMV0.nope"},
        {"after": Cursor(None, 1).token, "before": Cursor(None, 2).token},
    ],
)
def test_api_broken_cursor_is_a_clear_400(query, mixed, items_url, reviewer_client, manager_client):
    response = reviewer_client.get(items_url, query)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and set(body["errors"]) & {"after", "before"}
    skipped = manager_client.get(items_url.replace("/items/", "/skipped/"), query)
    assert skipped.status_code == 400 and set(skipped.json()["errors"]) & {"after", "before"}


def test_api_cursor_for_outsiders_is_404(mixed, items_url, outsider_client, labeler_client):
    query = {"after": Cursor(timezone.now(), 1).token}
    assert outsider_client.get(items_url, query).status_code == 404
    assert labeler_client.get(items_url, query).status_code == 403
