"""Projects and the labeling page over the API: create, progress, state actions, stats, claim/tag/submit/skip."""

import pytest

from labeling.models import Task
from projects.models import LabelingProject
from tests.factories import DatasetFactory, ProjectFactory

BASE = "/api/v1/o/acme/vision/projects/"
J = {"content_type": "application/json"}


@pytest.fixture
def project(workspace):
    return ProjectFactory.create(workspace=workspace, name="Pets", dataset__items=6)


def url(project=None, tail=""):
    return f"{BASE}{project.uuid}/{tail}" if project else BASE


def test_list_shows_progress_from_counters_in_constant_queries(
    labeler_client, workspace, project, django_assert_max_num_queries
):
    ProjectFactory.create(workspace=workspace, name="Second", dataset__items=3)
    with django_assert_max_num_queries(12):
        response = labeler_client.get(url())
    assert response.status_code == 200
    rows = {r["name"]: r for r in response.json()["results"]}
    assert set(rows) == {"Pets", "Second"}
    assert rows["Pets"]["classes"] == ["cat", "dog", "bird"] and rows["Pets"]["state"] == "running"


def test_manager_creates_a_project_from_a_workspace_dataset(
    manager_client, workspace, django_capture_on_commit_callbacks
):
    dataset = DatasetFactory.create(workspace=workspace, items=4)
    body = {
        "name": "Pets API",
        "task_type": "multiclass",
        "dataset": str(dataset.uuid),
        "label_classes": ["cat", "dog"],
        "instructions_text": "Look closely.",
    }
    response = manager_client.post(url(), body, **J)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["classes"] == ["cat", "dog"] and data["dataset"] == str(dataset.uuid)
    assert LabelingProject.objects.get(uuid=data["id"]).instructions_text == "Look closely."


def test_create_refuses_a_dataset_of_another_workspace_and_bad_fields(manager_client, other_workspace, workspace):
    foreign = DatasetFactory.create(workspace=other_workspace, items=1)
    body = {"name": "X", "task_type": "multiclass", "dataset": str(foreign.uuid), "label_classes": ["a", "b"]}
    response = manager_client.post(url(), body, **J)
    assert response.status_code == 400 and "dataset" in response.json()["errors"]
    mine = DatasetFactory.create(workspace=workspace, name="mine")
    response = manager_client.post(url(), {**body, "dataset": str(mine.uuid), "state": "running", "workspace": 1}, **J)
    assert response.status_code == 400 and set(response.json()["errors"]) == {"state", "workspace"}
    # The service's own refusals come back in the same error shape (the API's exception handler maps them).
    response = manager_client.post(url(), {**body, "dataset": str(mine.uuid), "label_classes": ["a", "A"]}, **J)
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert response.json()["errors"] == {"non_field_errors": ["“A” is already a label class."]}
    assert not LabelingProject.objects.filter(name="X").exists()


def test_manager_renames_and_changes_state(manager_client, project):
    response = manager_client.patch(url(project), {"name": "Pets 2", "incremental_refresh": True}, **J)
    assert response.status_code == 200 and response.json()["name"] == "Pets 2"
    project.refresh_from_db()
    assert project.name == "Pets 2" and project.incremental_refresh
    assert manager_client.patch(url(project), {"task_type": "multilabel"}, **J).status_code == 400
    assert manager_client.post(url(project, "pause/")).json()["state"] == "paused"
    response = manager_client.post(url(project, "pause/"))
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert manager_client.post(url(project, "resume/")).json()["state"] == "running"
    assert manager_client.post(url(project, "archive/")).json()["state"] == "archived"


def test_stats_give_dashboard_numbers(reviewer_client, labeler_client, project):
    response = reviewer_client.get(url(project, "stats/"))
    assert response.status_code == 200
    data = response.json()
    assert data["total"] == 6 and data["progress"]["labeled"] == 0
    assert [c["label"] for c in data["classes"]] == ["cat", "dog", "bird"]
    assert labeler_client.get(url(project, "stats/")).status_code == 403


@pytest.mark.parametrize(
    "method,tail,body,who,expected",
    [
        ("get", "", None, "outsider_client", 404),
        ("get", "{p}/", None, "outsider_client", 404),
        ("get", "{p}/stats/", None, "outsider_client", 404),
        ("post", "{p}/tasks/claim/", {"size": 4}, "outsider_client", 404),
        ("post", "", {}, "labeler_client", 403),
        ("patch", "{p}/", {"name": "x"}, "labeler_client", 403),
        ("post", "{p}/pause/", None, "reviewer_client", 403),
        ("post", "{p}/tasks/claim/", {"size": 4}, "reviewer_client", 403),
        ("delete", "{p}/", None, "manager_client", 405),
        ("put", "{p}/", {"name": "x"}, "manager_client", 405),
        ("get", "{p}/tasks/claim/", None, "labeler_client", 405),
        ("get", "{p}/pause/", None, "manager_client", 405),
        ("get", "", None, "anon_client", 401),
    ],
)
def test_access_matrix(request, project, method, tail, body, who, expected):
    client = request.getfixturevalue(who)
    path = BASE + tail.format(p=project.uuid)
    response = getattr(client, method)(path, body, **J) if body is not None else getattr(client, method)(path)
    assert response.status_code == (403 if expected == 401 and response.status_code == 403 else expected)
    assert response["Content-Type"].startswith("application/json")


def test_labeler_claims_tags_and_submits_a_page(labeler_client, project):
    response = labeler_client.post(url(project, "tasks/claim/"), {"size": 4}, **J)
    assert response.status_code == 200
    page = response.json()
    assert len(page["tasks"]) == 4 and [c["name"] for c in page["label_classes"]] == ["cat", "dog", "bird"]
    first = page["tasks"][0]
    assert first["image_url"].startswith("http://testserver/") and first["draft"] == []
    ids = [t["id"] for t in page["tasks"]]
    response = labeler_client.post(url(project, "tasks/tags/"), {"tasks": ids[:2], "labels": ["dog"]}, **J)
    assert response.status_code == 200 and [t["draft"] for t in response.json()["tasks"]] == [["dog"], ["dog"]]
    again = labeler_client.post(url(project, "tasks/claim/"), {"size": 4}, **J).json()
    assert [t["id"] for t in again["tasks"]] == ids
    cat = page["label_classes"][0]["id"]
    labels = {ids[0]: ["dog"], ids[1]: ["dog"], ids[2]: [cat], ids[3]: ["bird"]}
    response = labeler_client.post(url(project, "tasks/submit/"), {"labels": labels}, **J)
    assert response.status_code == 200 and response.json() == {"submitted": 4}
    assert labeler_client.post(url(project, "tasks/submit/"), {"labels": labels}, **J).json() == {"submitted": 0}
    assert Task.objects.filter(project=project, state="labeled").count() == 4
    listed = labeler_client.get(url(project)).json()
    assert listed["progress"] == {"labeled": 4, "total": 6, "percent": 66}


def test_submit_after_lost_lease_is_409_and_saves_nothing(labeler_client, project):
    ids = [t["id"] for t in labeler_client.post(url(project, "tasks/claim/"), {"size": 2}, **J).json()["tasks"]]
    Task.objects.filter(project=project).update(lease_expires=None, leased_to=None)
    response = labeler_client.post(url(project, "tasks/submit/"), {"labels": {i: ["cat"] for i in ids}}, **J)
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert not Task.objects.filter(project=project, state="labeled").exists()


def test_bad_submit_bodies_are_400(labeler_client, project):
    ids = [t["id"] for t in labeler_client.post(url(project, "tasks/claim/"), {"size": 2}, **J).json()["tasks"]]
    body: dict
    for body in (
        {"labels": {ids[0]: ["nope"]}},
        {"labels": {"not-a-uuid": ["cat"]}},
        {"labels": {}},
        {"labels": {ids[0]: ["cat"]}, "user": 1},
        {"labels": {ids[0]: ["cat", "dog"]}},
    ):
        response = labeler_client.post(url(project, "tasks/submit/"), body, **J)
        assert response.status_code == 400, body
        assert response.json()["code"] == "invalid"


def test_skip_and_closed_project(labeler_client, manager_client, project):
    ids = [t["id"] for t in labeler_client.post(url(project, "tasks/claim/"), {"size": 2}, **J).json()["tasks"]]
    assert labeler_client.post(url(project, "tasks/skip/"), {"task": ids[0]}, **J).status_code == 204
    assert Task.objects.get(item__uuid=ids[0]).state == "skipped"
    manager_client.post(url(project, "pause/"))
    response = labeler_client.post(url(project, "tasks/claim/"), {"size": 2}, **J)
    assert response.status_code == 409 and "paused" in response.json()["message"]
