"""ML assist over the API: status and metrics, runs, settings and Train now, per role; the disabled server."""

from __future__ import annotations

import pytest

from assist.models import MlRun
from assist.services import STAGES
from core import features
from projects.models import LabelingProject
from tests.assist.test_pages import finished_cycle

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def ml_installed(monkeypatch):
    monkeypatch.setattr(features, "ml_missing", lambda: ())


@pytest.fixture
def base(org, workspace, project):
    LabelingProject.objects.filter(pk=project.pk).update(ml_assisted=True)
    return f"/api/v1/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/ml/"


def test_status_carries_the_settings_metrics_and_the_latest_runs(manager_client, base, project):
    finished_cycle(project)
    body = manager_client.get(base).json()
    assert body["available"] and body["settings"] == {
        "ml_assisted": True,
        "ml_min_labels": 50,
        "ml_target_accuracy": 95,
        "ml_cluster": True,
        "ml_active_learning": False,
    }
    assert body["validation"]["accuracy_pct"] == 96.2 and body["validation"]["threshold"] == 0.87
    assert body["prelabeled"] == 1234 and body["clustered"] == 4321 and not body["active"]
    assert [run["kind"] for run in body["runs"]] == list(STAGES)
    runs = manager_client.get(base + "runs/").json()
    assert runs["count"] == len(STAGES) and {"state", "metrics", "seconds", "error"} <= set(runs["results"][0])


def test_train_now_answers_202_with_the_queued_runs_and_409_while_they_run(manager_client, base, project):
    first = manager_client.post(base + "train/")
    assert first.status_code == 202 and [r["state"] for r in first.json()["runs"]] == ["queued"] * len(STAGES)
    again = manager_client.post(base + "train/")
    assert again.status_code == 409 and again.json()["code"] == "ml_busy"


def test_settings_are_read_and_patched(manager_client, base, project):
    assert manager_client.get(base + "settings/").json()["ml_target_accuracy"] == 95
    response = manager_client.patch(
        base + "settings/", {"ml_target_accuracy": 90, "ml_active_learning": True}, content_type="application/json"
    )
    assert response.status_code == 200 and response.json()["ml_active_learning"]
    project.refresh_from_db()
    assert (project.ml_target_accuracy, project.ml_active_learning, project.ml_cluster) == (90, True, True)
    bad = manager_client.patch(base + "settings/", {"ml_target_accuracy": 101}, content_type="application/json")
    assert bad.status_code == 400 and "ml_target_accuracy" in bad.json()["errors"]
    unknown = manager_client.patch(base + "settings/", {"threshold": 0.5}, content_type="application/json")
    assert unknown.status_code == 400


def test_the_project_endpoint_carries_the_ml_settings_too(manager_client, org, workspace, project, base):
    url = f"/api/v1/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/"
    response = manager_client.patch(url, {"ml_min_labels": 200}, content_type="application/json")
    assert response.status_code == 200 and response.json()["ml_min_labels"] == 200


@pytest.mark.parametrize(
    "persona, read, write",
    [
        ("labeler", 403, 403),
        ("reviewer", 200, 403),
        ("manager", 200, 202),
        ("outsider", 404, 404),
    ],
)
def test_permission_matrix(request, persona, read, write, base):
    client = request.getfixturevalue(f"{persona}_client")
    assert client.get(base).status_code == read
    assert client.get(base + "runs/").status_code == read
    assert client.get(base + "settings/").status_code == read
    assert client.patch(base + "settings/", {"ml_cluster": False}, content_type="application/json").status_code == (
        200 if write == 202 else write
    )
    assert client.post(base + "train/").status_code == write
    assert MlRun.objects.exists() == (write == 202)


def test_anonymous_gets_401(anon_client, base):
    assert anon_client.get(base).status_code in (401, 403)


def test_a_server_without_the_ml_packages_refuses_with_the_reason(manager_client, base, monkeypatch):
    monkeypatch.setattr(features, "ml_missing", lambda: ("torch",))
    status = manager_client.get(base).json()
    assert not status["available"] and "requirements-ml.txt" in status["unavailable_reason"]
    train = manager_client.post(base + "train/")
    assert train.status_code == 409 and train.json()["code"] == "ml_unavailable"
    switch_on = manager_client.patch(base + "settings/", {"ml_assisted": True}, content_type="application/json")
    assert switch_on.status_code == 409


def test_projects_cannot_switch_ml_assist_on_where_the_server_cannot_run_it(
    manager_client, org, workspace, project, dataset, monkeypatch
):
    monkeypatch.setattr(features, "ml_missing", lambda: ("torch",))
    base = f"/api/v1/o/{org.slug}/{workspace.slug}/projects/"
    created = manager_client.post(
        base,
        {
            "name": "New",
            "task_type": "multiclass",
            "dataset": str(dataset.uuid),
            "label_classes": ["a", "b"],
            "ml_assisted": True,
        },
        content_type="application/json",
    )
    assert created.status_code == 409 and created.json()["code"] == "ml_unavailable"
    changed = manager_client.patch(f"{base}{project.uuid}/", {"ml_assisted": True}, content_type="application/json")
    assert changed.status_code == 409
    renamed = manager_client.patch(f"{base}{project.uuid}/", {"name": "Renamed"}, content_type="application/json")
    assert renamed.status_code == 200
