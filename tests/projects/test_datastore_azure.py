"""Azure Blob datastores against a real Azurite: scanning, odd keys, SAS rules and signed image URLs."""

import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from projects import scanning
from projects import storage as ds
from projects.models import DataItem, Datastore, Dataset
from tests.projects.conftest import AZURITE_ACCOUNT, AZURITE_KEY, jpeg_bytes, make_datastore, png_bytes

pytestmark = pytest.mark.integration

ODD_KEYS = [
    "MultiClass - DogsCats/cat 1.jpg",
    "MultiClass - DogsCats/dog #2.png",
    "MultiClass - DogsCats/what?.jpg",
    "MultiClass - DogsCats/chat é ü 猫.jpg",
    "MultiClass - DogsCats/sub folder/cat 3.jpg",
]


def _fill(container):
    for key in ODD_KEYS:
        container.upload_blob(key, png_bytes() if key.endswith(".png") else jpeg_bytes())
    container.upload_blob("MultiClass - DogsCats/readme.txt", b"hello")
    container.upload_blob("elsewhere/other.jpg", jpeg_bytes())


def _key_store(workspace, endpoint, name):
    return make_datastore(
        workspace, name="azure", kind=Datastore.Kind.AZURE_BLOB, endpoint=endpoint, container=name,
        auth_type=Datastore.Auth.ACCOUNT_KEY, access_key_id=AZURITE_ACCOUNT, secret=AZURITE_KEY,
    )


def _container_sas(name, permission):
    return generate_container_sas(
        AZURITE_ACCOUNT, name, account_key=AZURITE_KEY, permission=permission,
        expiry=datetime.now(timezone.utc) + timedelta(hours=1),
    )


def _scan(dataset):
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    dataset.refresh_from_db()
    return {i.key: i for i in DataItem.objects.filter(dataset=dataset)}


def test_scan_registers_blobs_with_odd_names_exactly(workspace, azurite, azure_container):
    container, name = azure_container
    _fill(container)
    store = _key_store(workspace, azurite, name)
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    items = _scan(dataset)
    assert dataset.scan_state == Dataset.ScanState.DONE, dataset.scan_error
    assert set(items) == set(ODD_KEYS) | {"MultiClass - DogsCats/readme.txt"}
    assert all(items[k].state == DataItem.State.READY for k in ODD_KEYS)
    assert items["MultiClass - DogsCats/readme.txt"].state == DataItem.State.SKIPPED
    assert (dataset.scan_found, dataset.scan_registered, dataset.scan_skipped) == (6, 5, 1)


def test_scan_without_subfolders_skips_nested_blobs(workspace, azurite, azure_container):
    container, name = azure_container
    _fill(container)
    store = _key_store(workspace, azurite, name)
    dataset = Dataset.objects.create(
        workspace=workspace, name="flat", datastore=store, path="MultiClass - DogsCats", include_subfolders=False
    )
    items = _scan(dataset)
    assert "MultiClass - DogsCats/sub folder/cat 3.jpg" not in items
    assert len(items) == 5


def test_browse_lists_folders(workspace, azurite, azure_container):
    container, name = azure_container
    _fill(container)
    store = _key_store(workspace, azurite, name)
    assert ds.datastore_list(store, "") == (["MultiClass - DogsCats", "elsewhere"], [])
    folders, files = ds.datastore_list(store, "MultiClass - DogsCats")
    assert folders == ["sub folder"]
    assert "what?.jpg" in files and "dog #2.png" in files


def test_container_sas_with_read_and_list_scans_and_cannot_write(workspace, azurite, azure_container):
    container, name = azure_container
    _fill(container)
    sas = _container_sas(name, ContainerSasPermissions(read=True, list=True))
    store = make_datastore(
        workspace, name="sas", kind=Datastore.Kind.AZURE_BLOB, endpoint=azurite, container=name,
        auth_type=Datastore.Auth.SAS_TOKEN, secret=sas,
    )
    ds.datastore_check(store)
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    items = _scan(dataset)
    assert sum(i.state == DataItem.State.READY for i in items.values()) == 5
    # With only a SAS there is no key to sign per blob: the image URL is that blob's URL with the configured SAS.
    url = ds.signed_url(store, "MultiClass - DogsCats/what?.jpg")
    assert "what%3F.jpg?" in url and "sp=rl" in url
    with urllib.request.urlopen(url, timeout=10) as got:
        assert got.read() == container.download_blob("MultiClass - DogsCats/what?.jpg").readall()
    storage = ds.storage_for(store)
    with pytest.raises(Exception) as refused:
        storage.client.upload_blob("MultiClass - DogsCats/new.jpg", b"x")
    assert getattr(refused.value, "status_code", None) == 403


def test_wrong_key_gives_a_safe_message(workspace, azurite, azure_container):
    _, name = azure_container
    store = make_datastore(
        workspace, name="bad", kind=Datastore.Kind.AZURE_BLOB, endpoint=azurite, container=name,
        auth_type=Datastore.Auth.ACCOUNT_KEY, access_key_id=AZURITE_ACCOUNT, secret="CANARY" + AZURITE_KEY[6:],
    )
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(store)
    assert "refused the credentials" in error.value.message_text
    assert "CANARY" not in error.value.message_text


def test_image_url_is_a_short_lived_read_only_sas_for_one_blob(workspace, azurite, azure_container, manager_client, ws_url):
    container, name = azure_container
    _fill(container)
    store = _key_store(workspace, azurite, name)
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    items = _scan(dataset)
    item = items["MultiClass - DogsCats/what?.jpg"]
    response = manager_client.get(ws_url("item_image", item=item.uuid))
    assert response.status_code == 302
    url = response["Location"]
    assert "sp=r&" in url and "se=" in url
    with urllib.request.urlopen(url, timeout=10) as got:
        assert got.read() == container.download_blob("MultiClass - DogsCats/what?.jpg").readall()
    # The same signature neither reaches another blob nor writes.
    other = url.replace("what%3F.jpg", "cat%201.jpg")
    assert other != url
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(other, timeout=10)
    assert denied.value.code == 403
    put = urllib.request.Request(url, data=b"x", method="PUT", headers={"x-ms-blob-type": "BlockBlob"})
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(put, timeout=10)
    assert denied.value.code == 403


def test_thumbnails_are_made_from_blobs(workspace, azurite, azure_container, eager_celery, django_capture_on_commit_callbacks):
    container, name = azure_container
    _fill(container)
    store = _key_store(workspace, azurite, name)
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    with django_capture_on_commit_callbacks(execute=True):
        scanning.dataset_sync(dataset.pk, mode="scan")
    ready = DataItem.objects.filter(dataset=dataset, state=DataItem.State.READY)
    assert ready.count() == 5
    assert not ready.filter(thumbnail="").exists()
