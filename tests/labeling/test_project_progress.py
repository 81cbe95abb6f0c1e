"""A project being prepared shows its progress live (tasks so far, its dataset's scan) and its dashboard turns into
the running project's when it is ready, without a reload."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling import services
from projects.definition.services import project_state_set
from projects.models import Dataset, LabelingProject
from tests.factories import DatasetFactory, ProjectFactory, items_add, owner

HTMX = {"HX-Request": "true"}


@pytest.fixture
def initializing(workspace):
    return ProjectFactory.create(workspace=workspace, dataset__items=12, state=LabelingProject.State.INITIALIZING)


def test_the_dashboard_of_a_project_being_prepared_asks_for_its_progress_and_waits_to_turn(
    manager_client, grid_url, initializing
):
    page = manager_client.get(grid_url("dashboard", initializing)).content.decode()
    assert 'id="project-progress"' in page and 'hx-trigger="load, every 2s"' in page
    assert grid_url("progress", initializing) in page
    assert 'hx-trigger="project-ready from:body" hx-select="#main" hx-target="#main"' in page
    assert "refresh the page" not in page


def test_the_fragment_counts_tasks_so_far_then_stops_and_announces_the_project_ready(
    manager_client, grid_url, initializing
):
    url = grid_url("progress", initializing)
    services._sync_batch(initializing.pk, 0)  # the first batch is in; the project is still initializing
    running = manager_client.get(url, headers=HTMX)
    html = running.content.decode()
    assert running.status_code == 200 and "<html" not in html and "HX-Trigger" not in running
    assert 'Creating this project\'s tasks: <strong data-count="tasks">12</strong> so far' in html
    assert 'hx-trigger="every 2s"' in html
    services.project_tasks_sync(project=initializing)
    ready = manager_client.get(url, headers=HTMX)
    html = ready.content.decode()
    assert ready.status_code == 286 and "hx-trigger" not in html
    assert 'The project is ready: <strong data-count="tasks">12</strong> tasks to label.' in html
    assert json.loads(ready["HX-Trigger"]).keys() == {"project-ready"}


def test_the_dashboard_turns_into_the_running_projects_page_when_asked_for_its_main(
    manager_client, grid_url, initializing
):
    services.project_tasks_sync(project=initializing)
    # What the page's listener asks for: the whole page, to select its <main> from (not the activity fragment).
    turned = manager_client.get(grid_url("dashboard", initializing), headers={**HTMX, "HX-Target": "main"})
    html = turned.content.decode()
    assert turned.status_code == 200 and '<main id="main"' in html and "HX-Request" in turned["Vary"]
    assert 'id="project-progress"' not in html and "project-ready" not in html
    assert "Label data" in html and "<strong>0</strong> of 12 items labeled" in html


def test_a_running_project_whose_dataset_is_scanning_shows_the_scan(manager_client, grid_url, workspace):
    dataset = DatasetFactory.create(workspace=workspace)
    Dataset.objects.filter(pk=dataset.pk).update(scan_state=Dataset.ScanState.SCANNING, scan_registered=340)
    project = ProjectFactory.create(workspace=workspace, dataset=dataset)
    page = manager_client.get(grid_url("dashboard", project)).content.decode()
    assert 'id="project-progress"' in page
    fragment = manager_client.get(grid_url("progress", project), headers=HTMX).content.decode()
    assert 'is being scanned: <span data-count="registered">340</span> images registered so far' in fragment
    Dataset.objects.filter(pk=dataset.pk).update(scan_state=Dataset.ScanState.DONE)
    assert manager_client.get(grid_url("progress", project), headers=HTMX).status_code == 286


def test_a_poll_reads_counters_only_whatever_the_project_size(manager_client, grid_url, workspace):
    dataset = DatasetFactory.create(workspace=workspace, items=10)
    project = ProjectFactory.create(workspace=workspace, dataset=dataset, state=LabelingProject.State.INITIALIZING)
    url = grid_url("progress", project)

    def queries():
        services._sync_batch(project.pk, 0)
        with CaptureQueriesContext(connection) as captured:
            assert manager_client.get(url, headers=HTMX).status_code == 200
        return [q["sql"] for q in captured.captured_queries]

    queries()  # the first page of a workspace also reads its datastores' image origins (then cached)
    small = queries()
    items_add(dataset, 3000)
    large = queries()
    assert len(small) == len(large)
    assert not any("COUNT(" in sql.upper() for sql in large)


def test_every_role_sees_the_progress_and_outsiders_get_404(
    request, grid_url, initializing, outsider_client, anon_client
):
    url = grid_url("progress", initializing)
    for persona in ("labeler_client", "reviewer_client", "manager_client"):
        assert request.getfixturevalue(persona).get(url, headers=HTMX).status_code == 200
    assert outsider_client.get(url, headers=HTMX).status_code == 404
    assert anon_client.get(url).status_code == 302
    assert request.getfixturevalue("manager_client").post(url).status_code == 405


def test_running_and_paused_projects_do_not_poll(manager_client, grid_url, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=3)
    assert 'id="project-progress"' not in manager_client.get(grid_url("dashboard", project)).content.decode()
    project_state_set(project=project, actor=owner(), action="pause")
    page = manager_client.get(grid_url("dashboard", project)).content.decode()
    assert "project-progress" not in page and "This project is paused" in page
