"""Compact role/method matrices for datastores and datasets (incl. browse and delete) and label classes, constant
queries for the project list, tag errors."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.models import Datastore, LabelClass
from tests.factories import DatasetFactory, ProjectFactory

WS = "/api/v1/o/acme/vision/"
J = {"content_type": "application/json"}


@pytest.fixture
def world(workspace, other_workspace):
    dataset = DatasetFactory.create(workspace=workspace, items=2)
    used = ProjectFactory.create(
        workspace=workspace, dataset=DatasetFactory.create(workspace=workspace, name="used", items=1)
    ).dataset
    theirs = DatasetFactory.create(workspace=other_workspace, name="theirs", items=1)
    return {
        "ds": dataset.uuid,
        "used": used.uuid,
        "p": used.projects.get().uuid,
        "store": dataset.datastore.uuid,
        "their_ds": theirs.uuid,
        "their_store": theirs.datastore.uuid,
    }


@pytest.mark.parametrize(
    "who,method,path,body,expected",
    [
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
        ("manager_client", "delete", "datasets/{ds}/", None, 403),
        ("ws_admin_client", "delete", "datasets/{ds}/", None, 204),
        ("ws_admin_client", "delete", "datasets/{used}/", None, 409),
        ("outsider_client", "delete", "datasets/{ds}/", None, 404),
        ("ws_admin_client", "delete", "datasets/{their_ds}/", None, 404),
        ("manager_client", "patch", "datasets/{ds}/", {"name": "x"}, 405),
        ("ws_admin_client", "put", "datasets/{ds}/", {"name": "x"}, 405),
        ("ws_admin_client", "delete", "datastores/{store}/", None, 409),
        ("manager_client", "delete", "datastores/{store}/", None, 403),
        ("outsider_client", "delete", "datastores/{store}/", None, 404),
        ("ws_admin_client", "put", "datastores/{store}/", {"name": "x"}, 405),
        ("org_admin_client", "delete", "projects/{p}/", None, 405),  # projects are archived, never deleted
        ("manager_client", "get", "datastores/{store}/browse/", None, 502),  # its folder is outside the allowed roots
        ("manager_client", "get", "datastores/{store}/browse/?path=a/../../b", None, 400),
        ("reviewer_client", "get", "datastores/{store}/browse/", None, 403),
        ("outsider_client", "get", "datastores/{store}/browse/", None, 404),
        ("manager_client", "get", "datastores/{their_store}/browse/", None, 404),
        ("manager_client", "get", "datasets/{ds}/scan/", None, 405),
        ("ws_admin_client", "patch", "datastores/{store}/", {"secret_encrypted": "x"}, 400),
        ("ws_admin_client", "patch", "datastores/{store}/", {"kind": "azure_blob"}, 400),
        ("anon_client", "get", "datasets/", None, 403),
    ],
)
def test_data_matrix(request, world, who, method, path, body, expected):
    _check(request, who, method, path.format(**world), body, expected)


def _check(request, who, method, path, body, expected):
    client = request.getfixturevalue(who)
    url = WS + path
    response = getattr(client, method)(url, body, **J) if body is not None else getattr(client, method)(url)
    assert response.status_code == expected or (who == "anon_client" and response.status_code in (401, 403))
    if expected != 204:
        assert response["Content-Type"].startswith("application/json")
    if expected >= 400:
        assert set(response.json()) == {"code", "message", "errors"}


@pytest.fixture
def classes(workspace, other_workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=2)
    theirs = ProjectFactory.create(workspace=other_workspace, name="Theirs", dataset__items=1)
    return {
        "p": project.uuid,
        "c": LabelClass.objects.get(project=project, name="bird").uuid,
        "their_p": theirs.uuid,
        "their_c": theirs.label_classes.first().uuid,
    }


@pytest.mark.parametrize(
    "who,method,path,body,expected",
    [
        ("ws_admin_client", "post", "projects/{p}/label-classes/", {"name": "Fox"}, 201),
        ("org_admin_client", "post", "projects/{p}/label-classes/{c}/move/", {"direction": "up"}, 200),
        ("manager_client", "post", "projects/{p}/label-classes/{c}/remove/", {"tags": "requeue"}, 200),
        ("reviewer_client", "get", "projects/{p}/label-classes/", None, 200),
        ("labeler_client", "get", "projects/{p}/label-classes/{c}/", None, 200),
        ("outsider_client", "get", "projects/{p}/label-classes/", None, 404),
        ("outsider_client", "post", "projects/{p}/label-classes/", {"name": "Fox"}, 404),
        ("outsider_client", "post", "projects/{p}/label-classes/{c}/move/", {"direction": "up"}, 404),
        ("outsider_client", "post", "projects/{p}/label-classes/{c}/remove/", {"tags": "keep"}, 404),
        ("manager_client", "get", "projects/{their_p}/label-classes/", None, 404),
        ("manager_client", "post", "projects/{p}/label-classes/{their_c}/remove/", {"tags": "keep"}, 404),
        ("labeler_client", "post", "projects/{p}/label-classes/", {"name": "Fox"}, 403),
        ("reviewer_client", "post", "projects/{p}/label-classes/", {"name": "Fox"}, 403),
        ("labeler_client", "post", "projects/{p}/label-classes/{c}/move/", {"direction": "down"}, 403),
        ("labeler_client", "post", "projects/{p}/label-classes/{c}/remove/", {"tags": "keep"}, 403),
        ("manager_client", "post", "projects/{p}/label-classes/", {"name": "Fox", "removed": True}, 400),
        ("manager_client", "post", "projects/{p}/label-classes/{c}/remove/", {"tags": "keep", "id": "x"}, 400),
        (
            "manager_client",
            "patch",
            "projects/{p}/label-classes/{c}/",
            {"name": "Kitty"},
            405,
        ),  # the pages cannot rename
        (
            "manager_client",
            "delete",
            "projects/{p}/label-classes/{c}/",
            None,
            405,
        ),  # removing needs the keep/requeue choice
        ("manager_client", "put", "projects/{p}/label-classes/", {"name": "Fox"}, 405),
        ("manager_client", "get", "projects/{p}/label-classes/{c}/remove/", None, 405),
        ("anon_client", "get", "projects/{p}/label-classes/", None, 401),
    ],
)
def test_label_class_matrix(request, classes, who, method, path, body, expected):
    _check(request, who, method, path.format(**classes), body, expected)


def test_datastore_detail_never_shows_the_secret(ws_admin_client, workspace):
    store = Datastore.objects.create(
        workspace=workspace,
        name="S3",
        kind="s3",
        container="b",
        auth_type="access_key",
        access_key_id="AK",
        secret_encrypted="ciphertext-here",
    )
    body = ws_admin_client.get(f"{WS}datastores/{store.uuid}/").json()
    assert body["secret_set"] is True and "ciphertext-here" not in str(body) and "secret" not in body


def test_project_list_queries_do_not_grow_with_projects(labeler_client, workspace):
    def count():
        with CaptureQueriesContext(connection) as queries:
            assert labeler_client.get(WS + "projects/").status_code == 200
        return len(queries)

    ProjectFactory.create(workspace=workspace, name="P0", dataset__items=2)
    one = count()
    for i in range(1, 5):
        ProjectFactory.create(workspace=workspace, name=f"P{i}", dataset__items=2)
    assert count() == one


def test_tag_errors(labeler_client, workspace):
    project = ProjectFactory.create(workspace=workspace, dataset__items=3)
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
