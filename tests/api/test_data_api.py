"""Datastores and datasets over the API: secrets never come back, datasets scan real images, items are paged."""

import io

import pytest
from PIL import Image

from projects.models import Datastore, Dataset
from tests.project_fixtures import celery_eager  # noqa: F401  (fixture)

BASE = "/api/v1/o/acme/vision/"
J = {"content_type": "application/json"}


@pytest.fixture
def local_root(settings, tmp_path):
    root = tmp_path / "roots"
    (root / "pets" / "cats").mkdir(parents=True)
    for i, colour in enumerate(["red", "green", "blue"]):
        out = io.BytesIO()
        Image.new("RGB", (40, 30), colour).save(out, "JPEG")
        (root / "pets" / "cats" / f"c{i}.jpg").write_bytes(out.getvalue())
    (root / "pets" / "notes.txt").write_text("not an image")
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(root)]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return root


@pytest.fixture
def datastore(workspace, local_root):
    return Datastore.objects.create(workspace=workspace, name="Local", kind="local", local_path=str(local_root))


def test_admin_creates_a_datastore_and_the_secret_never_comes_back(ws_admin_client, local_root):
    response = ws_admin_client.post(BASE + "datastores/", {"name": "Disk", "kind": "local", "local_path": "pets"}, **J)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["secret_set"] is False and "secret" not in data and "secret_encrypted" not in data
    s3 = {"name": "Bucket", "kind": "s3", "container": "b", "auth_type": "access_key", "access_key_id": "AK",
          "secret": "TOP-SECRET-VALUE", "region": "eu-west-1"}
    response = ws_admin_client.post(BASE + "datastores/", s3, **J)
    assert response.status_code == 201, response.json()
    assert response.json()["secret_set"] is True and response.json()["secret_changed_at"]
    listed = ws_admin_client.get(BASE + "datastores/")
    assert b"TOP-SECRET-VALUE" not in listed.content and listed.json()["count"] == 2
    store = Datastore.objects.get(name="Bucket")
    assert store.secret_encrypted and "TOP-SECRET-VALUE" not in store.secret_encrypted
    changed = ws_admin_client.patch(f"{BASE}datastores/{store.uuid}/", {"name": "Bucket 2"}, **J)
    assert changed.status_code == 200 and changed.json()["secret_set"] is True


def test_datastore_validation_and_roles(ws_admin_client, manager_client, outsider_client, datastore):
    outside = ws_admin_client.post(BASE + "datastores/", {"name": "X", "kind": "local", "local_path": "/etc"}, **J)
    assert outside.status_code == 400 and "local_path" in outside.json()["errors"]
    extra = ws_admin_client.post(BASE + "datastores/", {"name": "X", "kind": "local", "local_path": "pets", "secret_encrypted": "x"}, **J)
    assert extra.status_code == 400 and set(extra.json()["errors"]) == {"secret_encrypted"}
    assert manager_client.get(BASE + "datastores/").status_code == 200
    assert manager_client.post(BASE + "datastores/", {"name": "Y", "kind": "local", "local_path": "pets"}, **J).status_code == 403
    assert outsider_client.get(f"{BASE}datastores/{datastore.uuid}/").status_code == 404
    assert ws_admin_client.delete(f"{BASE}datastores/{datastore.uuid}/").status_code == 405
    test = manager_client.post(f"{BASE}datastores/{datastore.uuid}/test/")
    assert test.status_code == 200 and test.json()["ok"] is True


def test_manager_creates_a_dataset_that_scans_and_lists_items(manager_client, datastore, celery_eager, django_capture_on_commit_callbacks):  # noqa: F811
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(BASE + "datasets/", {"name": "Pets", "datastore": str(datastore.uuid), "path": "pets"}, **J)
    assert response.status_code == 201, response.json()
    dataset = response.json()["id"]
    detail = manager_client.get(f"{BASE}datasets/{dataset}/").json()
    assert detail["scan_state"] == "done" and detail["scan_registered"] == 3
    items = manager_client.get(f"{BASE}datasets/{dataset}/items/?state=ready").json()
    assert items["count"] == 3 and items["results"][0]["image_url"].startswith("http://testserver/")
    image = manager_client.get(items["results"][0]["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert manager_client.get(f"{BASE}datasets/{dataset}/items/?state=bogus").status_code == 400
    skipped = manager_client.get(f"{BASE}datasets/{dataset}/items/?state=skipped").json()
    assert skipped["count"] == 1 and skipped["results"][0]["image_url"] is None
    with django_capture_on_commit_callbacks(execute=True):
        whole = manager_client.post(BASE + "datasets/", {"name": "Everything", "datastore": str(datastore.uuid)}, **J)
        assert whole.status_code == 201 and whole.json()["path"] == ""
        assert manager_client.post(f"{BASE}datasets/{dataset}/refresh/").status_code == 202
        assert manager_client.post(f"{BASE}datasets/{dataset}/scan/").status_code == 202


def test_dataset_roles_and_fields(manager_client, labeler_client, outsider_client, other_workspace, datastore):
    foreign = Datastore.objects.create(workspace=other_workspace, name="Theirs", kind="local", local_path="/x")
    bad = manager_client.post(BASE + "datasets/", {"name": "D", "datastore": str(foreign.uuid), "path": ""}, **J)
    assert bad.status_code == 400 and "datastore" in bad.json()["errors"]
    extra = manager_client.post(BASE + "datasets/", {"name": "D", "datastore": str(datastore.uuid), "scan_state": "done"}, **J)
    assert extra.status_code == 400 and set(extra.json()["errors"]) == {"scan_state"}
    dots = manager_client.post(BASE + "datasets/", {"name": "D", "datastore": str(datastore.uuid), "path": "../x"}, **J)
    assert dots.status_code == 400 and not Dataset.objects.exists()
    assert labeler_client.get(BASE + "datasets/").status_code == 403
    assert outsider_client.get(BASE + "datasets/").status_code == 404
    assert manager_client.put(BASE + "datasets/", {}, **J).status_code == 405
