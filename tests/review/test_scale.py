"""The labeled-data page costs the same number of queries at 10,000+ items, whatever the filters or page."""

import pytest

from labeling.models import Task
from review.selectors import Cursor
from tests.factories import TaskFactory

# Access (session, user, the access statement, the role's permissions), project, classes, labeler
# rates (also the labeler filter's choices), the page's tasks (a second segment when a filter can
# include tasks without labeled_at; the class counters first under a class filter), tags, the
# workspace menu, the notification bell's unread ones. Earlier rejections come with the tasks (a maintained flag).
MAX_QUERIES = 12
# Claiming adds the short transaction: held leases, candidates, take-over, insert, the page.
MAX_CLAIM_QUERIES = 24


@pytest.fixture
def big_project(project, labeler, labeler2, classes):
    TaskFactory.create_batch(6000, project=project, state=Task.State.LABELED, labeler=labeler, labels=classes[0])
    TaskFactory.create_batch(4100, project=project, state=Task.State.APPROVED, labeler=labeler2, labels=classes[1])
    return project


def middle():
    """The cursor of a task halfway down the newest-first order (a deep page)."""
    return Cursor.of(Task.objects.order_by("-labeled_at", "-pk")[5050]).token


QUERIES: list[dict] = [
    {},
    {"after": middle},
    {"before": middle},
    {"class": "Dog", "sort": "oldest"},
    {"labeler": "labeler", "state": "awaiting", "layout": 20},
    {"state": "rejected"},
    {"state": "skipped", "after": middle},
    {"from": "2000-01-01", "to": "2100-01-01", "after": middle},
]


def test_labeled_page_query_count_is_flat(big_project, review_url, reviewer_client, django_assert_max_num_queries):
    assert Task.objects.filter(project=big_project).count() == 10100
    for given in QUERIES:
        query = {name: value() if callable(value) else value for name, value in given.items()}
        with django_assert_max_num_queries(MAX_QUERIES):
            response = reviewer_client.get(review_url("labeled"), query)
        assert response.status_code == 200
        if query.get("state") not in ("rejected", "skipped"):
            assert response.content.decode().count('name="items"') == query.get("layout", 12), query
    with django_assert_max_num_queries(MAX_QUERIES):
        response = reviewer_client.get(review_url("labeled"), {"layout": 20}, headers={"HX-Request": "true"})
    assert response.status_code == 200


def test_queue_claim_query_count_is_flat(big_project, review_url, reviewer_client, django_assert_max_num_queries):
    with django_assert_max_num_queries(MAX_CLAIM_QUERIES):
        response = reviewer_client.post(review_url("queue_claim"), {"layout": 20}, headers={"HX-Request": "true"})
    assert response.content.decode().count('name="items"') == 20
