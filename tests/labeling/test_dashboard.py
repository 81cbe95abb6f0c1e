"""The progress dashboard: numbers from the maintained counters, charts drawn server-side, constant queries."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling import services, stats
from labeling.models import Task
from labeling.selectors import dashboard_stats_get, live_leases_count
from tests.factories import ProjectFactory, assert_counters_true, tasks_label, tasks_review, tasks_skip

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(ws_url, project):
    return ws_url("labeling:dashboard", project=project.uuid)


def test_numbers_by_state_class_and_labeler(reviewer_client, url, project, labeler, manager, reviewer):
    cat, dog = project.label_classes.get(name="cat"), project.label_classes.get(name="dog")
    tasks = list(Task.objects.filter(project=project).order_by("pk"))
    tasks_label(project, tasks[:6], user=labeler, labels=cat)
    tasks_review(project, tasks[:3], reviewer=reviewer, decision="approve")
    tasks_review(project, tasks[3:4], reviewer=reviewer, decision="reject")  # back in the queue
    tasks_label(project, tasks[6:8], user=manager, labels=dog)
    tasks_skip(project, tasks[8:9], user=labeler)
    # Two live leases and one expired: only the live ones are "in progress".
    Task.objects.filter(pk__in=[tasks[9].pk, tasks[10].pk]).update(
        leased_to=labeler, lease_expires=timezone.now() + timedelta(minutes=5)
    )
    Task.objects.filter(pk=tasks[11].pk).update(leased_to=labeler, lease_expires=timezone.now() - timedelta(minutes=5))

    response = reviewer_client.get(url)
    assert response.status_code == 200
    board = response.context["stats"]
    assert {bar.key: bar.count for bar in board.states} == {
        "unlabeled": 2,
        "in_progress": 2,
        "labeled": 4,
        "approved": 3,
        "skipped": 1,
    }
    assert (board.progress.labeled, board.total, board.progress.percent) == (7, 12, 58)
    assert {bar.label: bar.count for bar in board.classes} == {"cat": 5, "dog": 2, "bird": 0}
    rows = {row["user"]: row for row in board.labelers}
    assert (
        rows["labeler"]["labeled"] == 6
        and rows["labeler"]["approval_rate"] == 75
        and rows["labeler"]["rejection_rate"] == 25
    )
    assert rows["manager"]["labeled"] == 2 and rows["manager"]["approval_rate"] is None
    assert board.activity[-1].count == 8  # this hour
    page = response.content.decode()
    assert "<svg" in page and 'class="s-labeled" x="33.333" y="0" width="33.333"' in page
    assert "<script" not in page.split("</head>")[1] and "style=" not in page
    assert "Scanned" in page and "12 registered" in page
    assert_counters_true(project)


def test_activity_per_day(reviewer_client, url, project):
    stats.activity_counted(project_id=project.pk, labeled=5, when=timezone.now() - timedelta(days=2))
    stats.activity_counted(project_id=project.pk, labeled=7)
    response = reviewer_client.get(url + "?activity=day", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b'id="activity"' in response.content and b"<html" not in response.content
    assert response.content.count(b'class="a-bar"') == 30 and b"Last 30 days" in response.content
    assert "HX-Request" in response["Vary"]
    bars = dashboard_stats_get(project=project, activity="day").activity
    assert len(bars) == 30 and bars[-1].count == 7 and bars[-3].count == 5
    hours = dashboard_stats_get(project=project, activity="hour").activity
    assert (
        len(hours) == 48 and hours[-1].count == 7 and sum(b.count for b in hours) == 7
    )  # two days ago is older than 48 h


@pytest.mark.integration
def test_in_progress_is_counted_through_the_partial_lease_index(postgres, workspace, labeler, manager):
    """On PostgreSQL with a big project and fresh statistics, the planner serves the count from `task_live_lease`
    (only unlabeled tasks with a lease are in it) instead of reading the project's tasks."""
    project = ProjectFactory.create(workspace=workspace, dataset__items=10_000)
    ProjectFactory.create(workspace=workspace, dataset__items=1_000)  # another project's tasks share the table
    services.tasks_claim(project=project, user=labeler, size=20)
    services.tasks_claim(project=project, user=manager, size=20)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_task")
    with CaptureQueriesContext(connection) as queries:
        assert live_leases_count(project) == 40
    (query,) = queries.captured_queries
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN " + query["sql"])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert re.search(
        r"Index (Only )?Scan using task_live_lease on labeling_task|Bitmap Index Scan on task_live_lease", plan
    ), plan
    assert "Seq Scan" not in plan, plan


def test_in_progress_never_exceeds_unlabeled(project, labeler):
    Task.objects.filter(project=project).update(leased_to=labeler, lease_expires=timezone.now() + timedelta(minutes=5))
    assert live_leases_count(project) == 12
    board = dashboard_stats_get(project=project)
    assert {b.key: b.count for b in board.states}["in_progress"] == 12


def _dashboard_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_dashboard_costs_a_constant_number_of_queries(reviewer_client, workspace, ws_url, labeler):
    reviewer_client.get(ws_url("workspace"))  # a workspace's first page reads its datastores' image origins (cached)
    counts = []
    for n in (10, 2000):
        project = ProjectFactory.create(workspace=workspace, name=f"p{n}", dataset__items=n)
        tasks_label(project, Task.objects.filter(project=project)[: n // 2], user=labeler)
        counts.append(_dashboard_queries(reviewer_client, ws_url("labeling:dashboard", project=project.uuid)))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 16, counts  # 8 for session, access and the top bar; 1 project; 6 counters
