"""Datastores and datasets over the API: secrets never come back, datasets scan real images, items are paged."""

import io
from datetime import timedelta

import pytest
from PIL import Image

from projects.models import DataItem, Dataset, Datastore
from tests.factories import DatasetFactory, ProjectFactory

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
    s3 = {
        "name": "Bucket",
        "kind": "s3",
        "container": "b",
        "auth_type": "access_key",
        "access_key_id": "AK",
        "secret": "TOP-SECRET-VALUE",
        "region": "eu-west-1",
    }
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
    extra = ws_admin_client.post(
        BASE + "datastores/", {"name": "X", "kind": "local", "local_path": "pets", "secret_encrypted": "x"}, **J
    )
    assert extra.status_code == 400 and set(extra.json()["errors"]) == {"secret_encrypted"}
    assert manager_client.get(BASE + "datastores/").status_code == 200
    assert (
        manager_client.post(BASE + "datastores/", {"name": "Y", "kind": "local", "local_path": "pets"}, **J).status_code
        == 403
    )
    assert outsider_client.get(f"{BASE}datastores/{datastore.uuid}/").status_code == 404
    assert manager_client.delete(f"{BASE}datastores/{datastore.uuid}/").status_code == 403  # deleting is for admins
    test = manager_client.post(f"{BASE}datastores/{datastore.uuid}/test/")
    assert test.status_code == 200 and test.json()["ok"] is True


def test_manager_creates_a_dataset_that_scans_and_lists_items(
    manager_client, datastore, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(
            BASE + "datasets/", {"name": "Pets", "datastore": str(datastore.uuid), "path": "pets"}, **J
        )
    assert response.status_code == 201, response.json()
    dataset = response.json()["id"]
    detail = manager_client.get(f"{BASE}datasets/{dataset}/").json()
    assert detail["scan_state"] == "done" and detail["scan_registered"] == 3
    items = manager_client.get(f"{BASE}datasets/{dataset}/items/?state=ready").json()
    assert len(items["results"]) == 3 and items["results"][0]["image_url"].startswith("http://testserver/")
    image = manager_client.get(items["results"][0]["image_url"])
    assert image.status_code == 200 and image["Content-Type"] == "image/jpeg"
    assert manager_client.get(f"{BASE}datasets/{dataset}/items/?state=bogus").status_code == 400
    skipped = manager_client.get(f"{BASE}datasets/{dataset}/items/?state=skipped").json()
    assert len(skipped["results"]) == 1 and skipped["results"][0]["image_url"] is None
    with django_capture_on_commit_callbacks(execute=True):
        whole = manager_client.post(BASE + "datasets/", {"name": "Everything", "datastore": str(datastore.uuid)}, **J)
        assert whole.status_code == 201 and whole.json()["path"] == ""
        assert manager_client.post(f"{BASE}datasets/{dataset}/refresh/").status_code == 202
        assert manager_client.post(f"{BASE}datasets/{dataset}/scan/").status_code == 202


def test_dataset_roles_and_fields(manager_client, labeler_client, outsider_client, other_workspace, datastore):
    foreign = Datastore.objects.create(workspace=other_workspace, name="Theirs", kind="local", local_path="/x")
    bad = manager_client.post(BASE + "datasets/", {"name": "D", "datastore": str(foreign.uuid), "path": ""}, **J)
    assert bad.status_code == 400 and "datastore" in bad.json()["errors"]
    extra = manager_client.post(
        BASE + "datasets/", {"name": "D", "datastore": str(datastore.uuid), "scan_state": "done"}, **J
    )
    assert extra.status_code == 400 and set(extra.json()["errors"]) == {"scan_state"}
    dots = manager_client.post(BASE + "datasets/", {"name": "D", "datastore": str(datastore.uuid), "path": "../x"}, **J)
    assert dots.status_code == 400 and not Dataset.objects.exists()
    assert labeler_client.get(BASE + "datasets/").status_code == 403
    assert outsider_client.get(BASE + "datasets/").status_code == 404
    assert manager_client.put(BASE + "datasets/", {}, **J).status_code == 405


def test_browse_walks_the_folders_of_a_datastore(manager_client, datastore):
    top = manager_client.get(f"{BASE}datastores/{datastore.uuid}/browse/")
    assert top.status_code == 200
    assert top.json() == {
        "path": "",
        "parent": None,
        "folders": [{"name": "pets", "path": "pets"}],
        "files": [],
        "truncated": False,
        "limit": 2000,
    }
    pets = manager_client.get(f"{BASE}datastores/{datastore.uuid}/browse/", {"path": "pets"}).json()
    assert pets["parent"] == "" and pets["folders"] == [{"name": "cats", "path": "pets/cats"}]
    assert pets["files"] == [{"name": "notes.txt", "key": "pets/notes.txt", "image": False}]
    cats = manager_client.get(f"{BASE}datastores/{datastore.uuid}/browse/", {"path": "/pets//cats/"}).json()
    assert cats["path"] == "pets/cats" and cats["parent"] == "pets" and cats["folders"] == []
    assert [(f["key"], f["image"]) for f in cats["files"]] == [(f"pets/cats/c{i}.jpg", True) for i in range(3)]


def test_browse_is_capped_like_the_page(manager_client, datastore, monkeypatch):
    from projects.datastores import storage

    monkeypatch.setattr(storage, "BROWSE_LIMIT", 2)
    capped = manager_client.get(f"{BASE}datastores/{datastore.uuid}/browse/", {"path": "pets/cats"}).json()
    assert len(capped["files"]) == 2 and capped["truncated"] is True and capped["limit"] == 2


@pytest.mark.parametrize("path", ["../", "pets/../../etc", "..", "pets\\..\\..", "pets/\x00", "x" * 1025])
def test_browse_refuses_paths_that_leave_the_datastore(manager_client, datastore, path):
    response = manager_client.get(f"{BASE}datastores/{datastore.uuid}/browse/", {"path": path})
    assert response.status_code == 400 and "path" in response.json()["errors"]


def test_browse_reports_an_unreachable_datastore_as_a_json_502(manager_client, workspace, datastore, local_root):
    missing = manager_client.get(f"{BASE}datastores/{datastore.uuid}/browse/", {"path": "pets/dogs"})
    assert missing.status_code == 502
    assert missing.json() == {"code": "datastore_error", "message": "The folder or file does not exist.", "errors": {}}
    (local_root / "gone").mkdir()
    gone = Datastore.objects.create(workspace=workspace, name="Gone", kind="local", local_path=str(local_root / "gone"))
    (local_root / "gone").rmdir()
    response = manager_client.get(f"{BASE}datastores/{gone.uuid}/browse/")
    assert response.status_code == 502 and response.json()["message"] == "The folder does not exist on the server."
    s3 = Datastore.objects.create(workspace=workspace, name="No key", kind="s3", container="b", auth_type="access_key")
    response = manager_client.get(f"{BASE}datastores/{s3.uuid}/browse/")
    assert response.status_code == 502 and "access key" in response.json()["message"]
    assert manager_client.post(f"{BASE}datastores/{s3.uuid}/test/").json()["ok"] is False  # the same verdict


def test_browse_roles(labeler_client, outsider_client, ws_admin_client, datastore):
    browse = f"{BASE}datastores/{datastore.uuid}/browse/"
    assert ws_admin_client.get(browse).status_code == 200
    assert labeler_client.get(browse).status_code == 403
    assert outsider_client.get(browse).status_code == 404
    assert ws_admin_client.post(browse, {}, **J).status_code == 405


def _scanned(client, datastore, name, capture):
    with capture(execute=True):
        response = client.post(
            BASE + "datasets/", {"name": name, "datastore": str(datastore.uuid), "path": "pets"}, **J
        )
    assert response.status_code == 201, response.json()
    return Dataset.objects.get(uuid=response.json()["id"])


def test_admin_deletes_a_dataset_with_its_items_and_thumbnails(
    ws_admin_client, datastore, local_root, celery_eager, django_capture_on_commit_callbacks
):
    dataset = _scanned(ws_admin_client, datastore, "Pets", django_capture_on_commit_callbacks)
    thumbnails = local_root.parent / "media" / "thumbnails" / str(dataset.uuid)
    assert len(list(thumbnails.iterdir())) == 3 and dataset.items.count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        response = ws_admin_client.delete(f"{BASE}datasets/{dataset.uuid}/")
    assert response.status_code == 204
    assert (
        not Dataset.objects.filter(pk=dataset.pk).exists()
        and not DataItem.objects.filter(dataset_id=dataset.pk).exists()
    )
    assert not thumbnails.exists()
    assert ws_admin_client.get(f"{BASE}datasets/{dataset.uuid}/").status_code == 404
    assert (local_root / "pets" / "cats" / "c0.jpg").exists()  # the datastore's own files stay


def test_a_dataset_used_by_a_project_or_being_scanned_is_not_deleted(ws_admin_client, workspace, datastore):
    from django.utils import timezone

    dataset = DatasetFactory.create(workspace=workspace, name="Used", items=2, datastore=datastore)
    ProjectFactory.create(workspace=workspace, dataset=dataset, name="Cats <3", state="archived")
    ProjectFactory.create(workspace=workspace, dataset=dataset, name="Dogs")
    response = ws_admin_client.delete(f"{BASE}datasets/{dataset.uuid}/")
    assert response.status_code == 409 and response.json()["code"] == "conflict"
    assert (
        response.json()["message"]
        == "Dataset “Used” is used by the projects “Cats <3”, “Dogs”, which keep their dataset even when archived."
    )
    busy = DatasetFactory.create(workspace=workspace, name="Busy", items=1, datastore=datastore)
    Dataset.objects.filter(pk=busy.pk).update(busy_until=timezone.now() + timedelta(minutes=5))
    response = ws_admin_client.delete(f"{BASE}datasets/{busy.uuid}/")
    assert response.status_code == 409 and "being scanned" in response.json()["message"]
    assert Dataset.objects.filter(name__in=["Used", "Busy"]).count() == 2 and DataItem.objects.count() == 3


def test_a_datastore_is_deleted_only_when_no_dataset_uses_it(ws_admin_client, workspace, datastore):
    for i in range(7):
        DatasetFactory.create(workspace=workspace, name=f"Set {i}", datastore=datastore)
    response = ws_admin_client.delete(f"{BASE}datastores/{datastore.uuid}/")
    assert response.status_code == 409
    assert response.json()["message"] == (
        "Datastore “Local” is used by the datasets “Set 0”, “Set 1”, “Set 2”, “Set 3”, "
        "“Set 4” and 2 more; delete them first."
    )
    for dataset in Dataset.objects.all():
        assert ws_admin_client.delete(f"{BASE}datasets/{dataset.uuid}/").status_code == 204
    assert ws_admin_client.delete(f"{BASE}datastores/{datastore.uuid}/").status_code == 204
    assert not Datastore.objects.filter(pk=datastore.pk).exists()
    assert ws_admin_client.delete(f"{BASE}datastores/{datastore.uuid}/").status_code == 404


def test_items_page_by_cursor_in_key_order_each_item_once(manager_client, datastore):
    from projects.models import DataItem, Dataset

    dataset = Dataset.objects.create(workspace=datastore.workspace, name="Many", datastore=datastore, path="")
    keys = [f"img/{n:03}.jpg" for n in range(23)] + ["img/ü odd name.png", "img/a%2F..b.jpg"]
    DataItem.objects.bulk_create([DataItem(dataset=dataset, key=key, state="ready") for key in keys])
    seen, url = [], f"{BASE}datasets/{dataset.uuid}/items/?page_size=10"
    while url:
        page = manager_client.get(url)
        assert page.status_code == 200 and len(page.json()["results"]) <= 10
        seen += [row["key"] for row in page.json()["results"]]
        url = page.json()["next"]
    assert seen == sorted(keys)
    garbled = manager_client.get(f"{BASE}datasets/{dataset.uuid}/items/?cursor=%%%not-base64")
    assert garbled.status_code == 400 and "cursor" in garbled.json()["errors"]
