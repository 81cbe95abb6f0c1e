"""Compact role/method matrix for datastores and datasets, constant queries for the project list, tag errors."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling import stats
from projects.models import Datastore
from tests.labeling.factories import labeling_project
from tests.project_fixtures import make_dataset

WS = "/api/v1/o/acme/vision/"
J = {"content_type": "application/json"}


@pytest.fixture
def world(workspace, other_workspace):
    dataset = make_dataset(workspace, items=2)
    theirs = make_dataset(other_workspace, name="theirs", items=1)
    return {"ds": dataset.uuid, "store": dataset.datastore.uuid, "their_ds": theirs.uuid, "their_store": theirs.datastore.uuid}


@pytest.mark.parametrize("who,method,path,body,expected", [
    ("manager_client", "get", "datasets/", None, 200),
    ("manager_client", "get", "datasets/{ds}/", None, 200),
    ("manager_client", "get", "datasets/{ds}/items/", None, 200),
    ("manager_client", "get", "datasets/{their_ds}/", None, 404),
    ("manager_client", "get", "datastores/{their_store}/", None, 404),
    ("outsider_client", "get", "datasets/{ds}/", None, 404),
    ("outsider_client", "get", "datastores/", None, 404),
    ("labeler_client", "get", "datasets/", None, 403),
    ("reviewer_client", "get", "datastores/", None, 403),
    ("reviewer_client", "post", "datasets/{ds}/refresh/", {}, 403),
    ("manager_client", "patch", "datastores/{store}/", {"name": "x"}, 403),
    ("manager_client", "delete", "datasets/{ds}/", None, 405),
    ("manager_client", "patch", "datasets/{ds}/", {"name": "x"}, 405),
    ("ws_admin_client", "delete", "datastores/{store}/", None, 405),
    ("manager_client", "get", "datasets/{ds}/scan/", None, 405),
    ("ws_admin_client", "patch", "datastores/{store}/", {"secret_encrypted": "x"}, 400),
    ("ws_admin_client", "patch", "datastores/{store}/", {"kind": "azure_blob"}, 400),
    ("anon_client", "get", "datasets/", None, 403),
])
def test_data_matrix(request, world, who, method, path, body, expected):
    client = request.getfixturevalue(who)
    url = WS + path.format(**world)
    response = getattr(client, method)(url, body, **J) if body is not None else getattr(client, method)(url)
    assert response.status_code == expected or (who == "anon_client" and response.status_code == 401)
    assert response["Content-Type"].startswith("application/json")


def test_datastore_detail_never_shows_the_secret(ws_admin_client, workspace):
    store = Datastore.objects.create(workspace=workspace, name="S3", kind="s3", container="b", auth_type="access_key",
                                     access_key_id="AK", secret_encrypted="ciphertext-here")
    body = ws_admin_client.get(f"{WS}datastores/{store.uuid}/").json()
    assert body["secret_set"] is True and "ciphertext-here" not in str(body) and "secret" not in body


def test_project_list_queries_do_not_grow_with_projects(labeler_client, workspace):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert labeler_client.get(WS + "projects/").status_code == 200
        return len(queries)

    project = labeling_project(workspace, items=2, name="P0")
    stats.stats_rebuild(project=project)
    one = count()
    for i in range(1, 5):
        stats.stats_rebuild(project=labeling_project(workspace, items=2, name=f"P{i}"))
    assert count() == one


def test_tag_errors(labeler_client, workspace):
    project = labeling_project(workspace, items=3)
    p = f"{WS}projects/{project.uuid}/tasks/"
    ids = [t["id"] for t in labeler_client.post(p + "claim/", {"size": 2}, **J).json()["tasks"]]
    assert labeler_client.post(p + "tags/", {"tasks": ids, "labels": ["cat", "dog"]}, **J).status_code == 400
    assert labeler_client.post(p + "tags/", {"tasks": ids, "labels": ["zebra"]}, **J).status_code == 400
    other = "00000000-0000-4000-8000-000000000000"
    assert labeler_client.post(p + "tags/", {"tasks": [other], "labels": ["cat"]}, **J).status_code == 400
    assert labeler_client.post(p + "tags/", {"tasks": ids, "labels": ["cat"], "as": "x"}, **J).status_code == 400
    removed = labeler_client.post(p + "tags/", {"tasks": ids[:1], "labels": ["cat"], "mode": "apply"}, **J)
    assert removed.status_code == 200 and removed.json()["tasks"][0]["draft"] == ["cat"]
    assert labeler_client.post(p + "skip/", {"task": other}, **J).status_code == 400
