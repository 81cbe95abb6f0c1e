"""The progress dashboard: numbers from the maintained counters, charts drawn server-side, constant queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from labeling import stats
from labeling.models import Task
from labeling.selectors import dashboard_stats_get, live_leases_count
from projects.models import LabelingProject
from tests.project_fixtures import add_items, label_tasks, make_dataset, make_project
from tests.project_fixtures import celery_eager, dataset, project  # noqa: F401  (fixtures; they shadow the grid's `project`)

pytestmark = pytest.mark.django_db


@pytest.fixture
def url(ws_url, project):
    return ws_url("labeling:dashboard", project=project.uuid)


def test_numbers_by_state_class_and_labeler(reviewer_client, url, project, labeler, manager):
    cat, dog = project.label_classes.get(name="Cat"), project.label_classes.get(name="Dog")
    tasks = list(Task.objects.filter(project=project).order_by("pk"))
    label_tasks(project, tasks[:4], cat, labeler)
    label_tasks(project, tasks[4:5], dog, labeler, state="skipped")
    label_tasks(project, tasks[5:7], dog, manager, state="approved")
    stats.labeler_counted(project_id=project.pk, user_id=labeler.pk, approved=3, rejected=1)
    # Two live leases and one expired: only the live ones are "in progress".
    Task.objects.filter(pk__in=[tasks[8].pk, tasks[9].pk]).update(leased_to=labeler, lease_expires=timezone.now() + timedelta(minutes=5))
    Task.objects.filter(pk=tasks[10].pk).update(leased_to=labeler, lease_expires=timezone.now() - timedelta(minutes=5))

    response = reviewer_client.get(url)
    assert response.status_code == 200
    board = response.context["stats"]
    assert {bar.key: bar.count for bar in board.states} == {
        "unlabeled": 3, "in_progress": 2, "labeled": 4, "approved": 2, "skipped": 1}
    assert (board.progress.labeled, board.total, board.progress.percent) == (6, 12, 50)
    assert {bar.label: bar.count for bar in board.classes} == {"Cat": 4, "Dog": 3, "Uncertain": 0}
    rows = {row["user"]: row for row in board.labelers}
    assert rows["labeler"]["labeled"] == 5 and rows["labeler"]["approval_rate"] == 75 and rows["labeler"]["rejection_rate"] == 25
    assert rows["manager"]["approval_rate"] is None
    assert board.activity[-1].count == 7  # this hour
    page = response.content.decode()
    assert "<svg" in page and 'class="s-labeled" x="41.667" y="0" width="33.333"' in page
    assert "<script" not in page.split("</head>")[1] and "style=" not in page
    assert "Scanned" in page and "12 registered" in page


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
    assert len(hours) == 48 and hours[-1].count == 7 and sum(b.count for b in hours) == 7  # two days ago is older than 48 h


def test_in_progress_uses_the_partial_lease_index():
    index = next(i for i in Task._meta.indexes if i.name == "task_live_lease")
    assert index.fields == ["project", "lease_expires"] and index.condition is not None


def test_in_progress_never_exceeds_unlabeled(project, labeler):
    Task.objects.filter(project=project).update(leased_to=labeler, lease_expires=timezone.now() + timedelta(minutes=5))
    assert live_leases_count(project) == 12
    board = dashboard_stats_get(project=project)
    assert {b.key: b.count for b in board.states}["in_progress"] == 12


def _dashboard_queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx)


def test_dashboard_costs_a_constant_number_of_queries(reviewer_client, workspace, ws_url, labeler, celery_eager, django_user_model):
    from labeling.services import project_tasks_sync

    reviewer_client.get(ws_url("workspace"))  # a workspace's first page reads its datastores' image origins (cached)
    counts = []
    for n in (10, 2000):
        dataset = make_dataset(workspace, name=f"d{n}")
        add_items(dataset, n)
        project = make_project(workspace, dataset, name=f"p{n}", state=LabelingProject.State.INITIALIZING)
        project_tasks_sync(project=project)
        tasks = list(Task.objects.filter(project=project)[: n // 2])
        label_tasks(project, tasks, project.label_classes.first(), labeler)
        counts.append(_dashboard_queries(reviewer_client, ws_url("labeling:dashboard", project=project.uuid)))
    assert counts[0] == counts[1], counts
    assert counts[0] <= 16, counts  # 8 for session, access and the top bar; 1 project; 6 counters
