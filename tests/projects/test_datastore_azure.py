"""Azure Blob datastores against a real Azurite: scanning, odd keys, SAS rules and signed image URLs."""

import re
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from labeling.models import Task
from projects.datastores import scanning
from projects.datastores import storage as ds
from projects.models import DataItem, Dataset, Datastore
from tests.factories import DatastoreFactory, ProjectFactory, tasks_label
from tests.projects.conftest import AZURITE_ACCOUNT, AZURITE_KEY, jpeg_bytes, png_bytes

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
    return DatastoreFactory.create(
        workspace=workspace,
        name="azure",
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=endpoint,
        container=name,
        auth_type=Datastore.Auth.ACCOUNT_KEY,
        access_key_id=AZURITE_ACCOUNT,
        secret=AZURITE_KEY,
    )


def _container_sas(name, permission):
    return generate_container_sas(
        AZURITE_ACCOUNT,
        name,
        account_key=AZURITE_KEY,
        permission=permission,
        expiry=datetime.now(UTC) + timedelta(hours=1),
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
    store = DatastoreFactory.create(
        workspace=workspace,
        name="sas",
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=azurite,
        container=name,
        auth_type=Datastore.Auth.SAS_TOKEN,
        secret=sas,
    )
    ds.datastore_check(store)
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    items = _scan(dataset)
    assert sum(i.state == DataItem.State.READY for i in items.values()) == 5
    storage = ds.storage_for(store)
    with pytest.raises(HttpResponseError) as refused:
        storage.client.upload_blob("MultiClass - DogsCats/new.jpg", b"x")
    assert getattr(refused.value, "status_code", None) == 403


def _sas_world(workspace, azurite, azure_container, labeler):
    """A SAS-token datastore (read + list on the container), its scanned dataset, and a project with one
    task labeled by `labeler` (so the review pages show it)."""
    container, name = azure_container
    _fill(container)
    sas = _container_sas(name, ContainerSasPermissions(read=True, list=True))
    store = DatastoreFactory.create(
        workspace=workspace,
        name="sas",
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=azurite,
        container=name,
        auth_type=Datastore.Auth.SAS_TOKEN,
        secret=sas,
    )
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    items = _scan(dataset)
    project = ProjectFactory.create(workspace=workspace, dataset=dataset)  # a task per ready item
    tasks_label(
        project, Task.objects.filter(project=project, item__key="MultiClass - DogsCats/cat 1.jpg"), user=labeler
    )
    return container, sas, items, project


def _secret_parts(sas):
    """The whole token and its signature, raw and URL-encoded as they could appear anywhere."""
    from urllib.parse import parse_qs, quote

    sig = parse_qs(sas)["sig"][0]
    return [sas, sig, quote(sig, safe=""), quote(sig)]


def _assert_no_secret(sas, *responses):
    parts = _secret_parts(sas)
    for response in responses:
        headers = "\n".join(f"{k}: {v}" for k, v in response.items())
        body = b"".join(response.streaming_content) if response.streaming else response.content
        for part in parts:
            assert part not in headers and part.encode() not in body, response


def test_sas_datastore_images_are_streamed_and_the_token_never_leaves(
    workspace, azurite, azure_container, labeler, labeler_client, manager_client, reviewer_client, ws_url
):
    container, sas, items, project = _sas_world(workspace, azurite, azure_container, labeler)
    key = "MultiClass - DogsCats/what?.jpg"
    blob = container.get_blob_client(key)
    image = manager_client.get(ws_url("item_image", item=items[key].uuid))
    assert image.status_code == 200 and image.streaming
    body = b"".join(image.streaming_content)
    assert body == blob.download_blob().readall()
    properties = blob.get_blob_properties()
    assert image["Content-Type"] == "image/jpeg" and image["Content-Length"] == str(len(body))
    assert image["ETag"] == properties.etag and image["Last-Modified"].endswith(" GMT")
    assert image["Cache-Control"] == "private, max-age=300" and image["X-Content-Type-Options"] == "nosniff"
    assert image["Content-Disposition"].startswith("inline;")
    # A browser revalidating its copy gets 304 and no body.
    again = manager_client.get(ws_url("item_image", item=items[key].uuid), headers={"If-None-Match": image["ETag"]})
    assert again.status_code == 304 and again["ETag"] == image["ETag"] and again.content == b""
    # Every page and API answer that carries image URLs, as each role that sees them.
    grid = labeler_client.get(ws_url("labeling:grid", project=project.uuid))
    tiles = re.findall(r'data-full="([^"]+)"', grid.content.decode())
    assert len(tiles) == 4
    held = [labeler_client.get(url) for url in tiles]
    assert {r.status_code for r in held} == {200} and all(r.streaming for r in held)
    api = "/api/v1/o/acme/vision"
    listed = manager_client.get(f"{api}/datasets/{items[key].dataset.uuid}/items/")
    claimed = labeler_client.post(
        f"{api}/projects/{project.uuid}/tasks/claim/", {"size": 5}, content_type="application/json"
    )
    reviewed_api = reviewer_client.get(f"{api}/projects/{project.uuid}/review/items/")
    assert claimed.status_code == listed.status_code == reviewed_api.status_code == 200
    review_page = reviewer_client.get(ws_url("review:labeled", project=project.uuid))
    reviewed = re.findall(r'data-full="([^"]+)"', review_page.content.decode())
    assert len(reviewed) == 1
    review_image = reviewer_client.get(reviewed[0])
    assert review_image.status_code == 200
    thumbnail = manager_client.get(ws_url("item_thumbnail", item=items[key].uuid))
    _assert_no_secret(
        sas, image, again, grid, listed, claimed, reviewed_api, review_page, review_image, thumbnail, *held
    )
    # The server never builds a URL with the stored SAS for these datastores.
    with pytest.raises(ds.DatastoreError):
        ds.signed_url(items[key].dataset.datastore, key)


def test_sas_stream_reads_in_chunks_refuses_oversized_blobs_and_stops_on_a_replaced_one(
    workspace, azurite, azure_container, labeler, manager_client, ws_url, settings, monkeypatch
):
    container, sas, items, _ = _sas_world(workspace, azurite, azure_container, labeler)
    key = "MultiClass - DogsCats/cat 1.jpg"
    url = ws_url("item_image", item=items[key].uuid)
    original = container.download_blob(key).readall()
    monkeypatch.setattr(ds, "STREAM_CHUNK", 100)
    response = manager_client.get(url)
    chunks = list(response.streaming_content)
    assert b"".join(chunks) == original and len(chunks) == -(-len(original) // 100)
    # A blob that grew past the image limit since the scan is refused before a byte is sent.
    settings.LABELSITE_MAX_IMAGE_BYTES = len(original) - 1
    too_big = manager_client.get(url)
    assert too_big.status_code == 502 and b"larger than the image limit" in too_big.content
    _assert_no_secret(sas, too_big)
    settings.LABELSITE_MAX_IMAGE_BYTES = 50 * 1024 * 1024
    # Replaced while streaming: the rest of the old file no longer matches its ETag, so the stream ends short
    # (the browser sees fewer bytes than Content-Length) instead of splicing two files.
    response = manager_client.get(url)
    stream = iter(response.streaming_content)
    first = next(stream)
    container.upload_blob(key, jpeg_bytes(color=(1, 2, 3)), overwrite=True)
    rest = b"".join(stream)
    assert first == original[:100] and len(first + rest) < int(response["Content-Length"])


def test_wrong_key_gives_a_safe_message(workspace, azurite, azure_container):
    _, name = azure_container
    store = DatastoreFactory.create(
        workspace=workspace,
        name="bad",
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=azurite,
        container=name,
        auth_type=Datastore.Auth.ACCOUNT_KEY,
        access_key_id=AZURITE_ACCOUNT,
        secret="CANARY" + AZURITE_KEY[6:],
    )
    with pytest.raises(ds.DatastoreError) as error:
        ds.datastore_check(store)
    assert "refused the credentials" in error.value.message_text
    assert "CANARY" not in error.value.message_text


def test_image_url_is_a_short_lived_read_only_sas_for_one_blob(
    workspace, azurite, azure_container, manager_client, ws_url, settings
):
    container, name = azure_container
    _fill(container)
    store = _key_store(workspace, azurite, name)
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    items = _scan(dataset)
    item = items["MultiClass - DogsCats/what?.jpg"]
    response = manager_client.get(ws_url("item_image", item=item.uuid))
    assert response.status_code == 302
    url = response["Location"]
    assert "sp=r&" in url and "se=" in url and AZURITE_KEY not in url
    with urllib.request.urlopen(url, timeout=10) as got:
        assert got.read() == container.download_blob("MultiClass - DogsCats/what?.jpg").readall()
    # The same signature neither reaches another blob, nor lists the container, nor writes.
    other = url.replace("what%3F.jpg", "cat%201.jpg")
    assert other != url
    listing = f"{azurite}/{name}?restype=container&comp=list&{url.split('?', 1)[1]}"
    container_sas = _container_sas(name, ContainerSasPermissions(read=True, list=True))
    with urllib.request.urlopen(
        listing.split("&sv=")[0].split("comp=list&")[0] + "comp=list&" + container_sas, timeout=10
    ) as got:
        assert got.status == 200  # the listing URL is right: a container SAS may list, the blob's SAS may not
    for refused in (other, listing):
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(refused, timeout=10)
        assert denied.value.code == 403, refused
    put = urllib.request.Request(url, data=b"x", method="PUT", headers={"x-ms-blob-type": "BlockBlob"})
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(put, timeout=10)
    assert denied.value.code == 403
    # And it expires: a URL minted to live two seconds opens now and is refused once they are over.
    settings.LABELSITE_SIGNED_URL_TTL = 2
    short = manager_client.get(ws_url("item_image", item=item.uuid))["Location"]
    with urllib.request.urlopen(short, timeout=10) as got:
        assert got.status == 200
    time.sleep(3)
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(short, timeout=10)
    assert expired.value.code == 403


def test_thumbnails_are_made_from_blobs(
    workspace, azurite, azure_container, celery_eager, django_capture_on_commit_callbacks
):
    container, name = azure_container
    _fill(container)
    store = _key_store(workspace, azurite, name)
    dataset = Dataset.objects.create(workspace=workspace, name="pets", datastore=store, path="MultiClass - DogsCats")
    with django_capture_on_commit_callbacks(execute=True):
        scanning.dataset_sync(dataset.pk, mode="scan")
    ready = DataItem.objects.filter(dataset=dataset, state=DataItem.State.READY)
    assert ready.count() == 5
    assert not ready.filter(thumbnail="").exists()
