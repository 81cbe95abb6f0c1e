"""Object keys are data, never paths: hostile keys next to a normal image on Azurite, moto and a local folder.

A key such as `../sibling/secret.jpg` must never make the product read another container, bucket or
folder; it is registered as Refused with its reason, the normal image beside it is registered and
served, and the only files written are the product's own thumbnails.
"""

import http.client
import os
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
import urllib3
from azure.storage.blob import (
    AccountSasPermissions,
    BlobServiceClient,
    ContainerSasPermissions,
    ResourceTypes,
    generate_account_sas,
    generate_container_sas,
)
from django.core.files.storage import default_storage

from projects.datastores import scanning
from projects.datastores import storage as ds
from projects.models import DataItem, Dataset, Datastore
from tests.factories import DatastoreFactory
from tests.projects.conftest import AZURITE_ACCOUNT, AZURITE_KEY, jpeg_bytes

pytestmark = pytest.mark.integration
OVERLONG = "deep/" + "x" * 1100 + ".jpg"  # 1,109 characters: more than the key column holds
SECRET = jpeg_bytes((20, 10), color=(1, 2, 3))
NORMAL = "pets/cat.jpg"


def hostile_keys(sibling: str) -> list[str]:
    return [
        f"../{sibling}/secret.jpg",
        f"a/../../{sibling}/secret.jpg",
        "/etc/passwd",
        "..",
        "new\nline.jpg",
        "pets/./cat.jpg",
        "pets./cat.jpg",
        OVERLONG,
    ]


@pytest.fixture
def requests_seen(monkeypatch):
    """(host:port, path) of every HTTP request the product sends, as it goes on the wire (after urllib3)."""
    seen = []
    original = urllib3.connectionpool.HTTPConnectionPool.urlopen

    def spy(pool, method, url, *args, **kwargs):
        seen.append((f"{pool.host}:{pool.port}", urlsplit(url).path))
        return original(pool, method, url, *args, **kwargs)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", spy)
    return seen


def _scan_with_thumbnails(dataset, capture):
    with capture(execute=True):
        scanning.dataset_sync(dataset.pk, mode="scan")
    dataset.refresh_from_db()
    return {item.key: item for item in DataItem.objects.filter(dataset=dataset)}


def _assert_refused_and_normal_served(dataset, items, hostile, manager_client, ws_url):
    assert dataset.scan_state == Dataset.ScanState.DONE, dataset.scan_error
    normal = items[NORMAL]
    assert normal.state == DataItem.State.READY and normal.thumbnail
    for key in hostile:
        item = items[ds.stored_key(key)]
        assert item.state == DataItem.State.REFUSED and item.reason and not item.thumbnail, (key, item.reason)
        assert manager_client.get(ws_url("item_image", item=item.uuid)).status_code == 404
        with pytest.raises(ds.DatastoreError):
            ds.signed_url(dataset.datastore, key)
    assert items[ds.stored_key(OVERLONG)].reason.startswith("The name is 1,109 characters long")
    assert (dataset.scan_found, dataset.scan_registered, dataset.scan_skipped) == (len(items), 1, len(items) - 1)
    # The dataset page lists them with the reason.
    page = manager_client.get(ws_url("dataset", dataset=dataset.uuid)).content.decode()
    assert page.count("<td>Refused</td>") == len(hostile)
    assert "The name has a &#x27;.&#x27; or &#x27;..&#x27; path segment" in page
    assert "The name contains a control character" in page and "The name starts with a slash" in page
    assert "A folder or file name in it ends with a dot" in page
    # The normal image reaches the browser (a manager browsing the dataset) without dot segments in any link.
    response = manager_client.get(ws_url("item_image", item=normal.uuid))
    return response


def _only_thumbnails_written(root: Path, dataset):
    written = {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}
    item = DataItem.objects.get(dataset=dataset, key=NORMAL)
    assert written == {f"media/thumbnails/{dataset.uuid}/{item.uuid}.jpg"}
    with default_storage.open(item.thumbnail) as handle:
        assert handle.read()


# --- Azure ---------------------------------------------------------------------------------------


def _service(endpoint):
    return BlobServiceClient.from_connection_string(
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};BlobEndpoint={endpoint}"
    )


def _put_exact(port, container, key, data):
    """Upload a blob under exactly `key`, bypassing the SDK, whose URLs urllib3 would normalize."""
    segments = ["%2E" * len(s) if s in (".", "..") else quote(s, safe="") for s in key.lstrip("/").split("/")]
    path = ("%2F" if key.startswith("/") else "") + "/".join(segments)
    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        container,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(write=True, create=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request(
        "PUT",
        f"/{AZURITE_ACCOUNT}/{container}/{path}?{sas}",
        body=data,
        headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06"},
    )
    response = connection.getresponse()
    assert response.status == 201, (key, response.status, response.read())


def test_azure_hostile_blob_names_are_refused_and_nothing_outside_the_container_is_read(
    workspace,
    azurite,
    azure_container,
    celery_eager,
    django_capture_on_commit_callbacks,
    requests_seen,
    manager_client,
    ws_url,
    tmp_path,
):
    container, name = azure_container
    port = urlsplit(azurite).port
    sibling = f"s{uuid.uuid4().hex[:12]}"
    _service(azurite).create_container(sibling)
    _service(azurite).get_container_client(sibling).upload_blob("secret.jpg", SECRET)
    hostile = hostile_keys(sibling)
    container.upload_blob(NORMAL, jpeg_bytes())
    for key in hostile:
        _put_exact(port, name, key, SECRET)
    assert {b.name for b in container.list_blobs()} == {NORMAL, *hostile}
    # An account SAS reaches every container: the case where a resolved "../" would read the sibling's file.
    sas = generate_account_sas(
        AZURITE_ACCOUNT,
        AZURITE_KEY,
        ResourceTypes(container=True, object=True),
        AccountSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    store = DatastoreFactory.create(
        workspace=workspace,
        name="azure",
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=azurite,
        container=name,
        auth_type=Datastore.Auth.SAS_TOKEN,
        secret=sas,
    )
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=store, path="")
    requests_seen.clear()
    items = _scan_with_thumbnails(dataset, django_capture_on_commit_callbacks)

    response = _assert_refused_and_normal_served(dataset, items, hostile, manager_client, ws_url)
    # A SAS-token datastore's images are streamed by the app (its SAS never reaches a browser).
    assert response.status_code == 200 and b"".join(response.streaming_content) == jpeg_bytes()
    ours = [path for host, path in requests_seen if host == f"127.0.0.1:{port}"]
    assert ours and all(
        path == f"/{AZURITE_ACCOUNT}/{name}" or path.startswith(f"/{AZURITE_ACCOUNT}/{name}/") for path in ours
    ), ours
    assert not any(sibling in path or "/../" in path or path.endswith("/..") for path in ours), ours
    _only_thumbnails_written(tmp_path, dataset)
    _service(azurite).delete_container(sibling)


# --- S3 ------------------------------------------------------------------------------------------


def test_s3_hostile_keys_are_refused_and_nothing_outside_the_bucket_is_read(
    workspace,
    moto,
    s3_bucket,
    celery_eager,
    django_capture_on_commit_callbacks,
    requests_seen,
    manager_client,
    ws_url,
    tmp_path,
):
    client, bucket = s3_bucket
    sibling = f"s{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=sibling)
    client.put_object(Bucket=sibling, Key="secret.jpg", Body=SECRET)
    # moto answers 404 to a key with a newline; a tab is the control character it stores.
    hostile = [key.replace("\n", "\t") for key in hostile_keys(sibling)]
    client.put_object(Bucket=bucket, Key=NORMAL, Body=jpeg_bytes())
    for key in hostile:
        client.put_object(Bucket=bucket, Key=key, Body=SECRET)
    store = DatastoreFactory.create(
        workspace=workspace,
        name="s3",
        kind=Datastore.Kind.S3,
        endpoint=moto,
        container=bucket,
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="testing",
        secret="testing",
        region="us-east-1",
    )
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=store, path="")
    requests_seen.clear()
    items = _scan_with_thumbnails(dataset, django_capture_on_commit_callbacks)

    response = _assert_refused_and_normal_served(dataset, items, hostile, manager_client, ws_url)
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert location.path == f"/{bucket}/pets/cat.jpg"
    with urllib.request.urlopen(response["Location"], timeout=10) as got:
        assert got.read() == jpeg_bytes()
    ours = [path for host, path in requests_seen if host.endswith(f":{urlsplit(moto).port}")]
    assert ours and all(path == f"/{bucket}" or path.startswith(f"/{bucket}/") for path in ours), ours
    assert not any(sibling in path or "/../" in path or path.endswith("/..") for path in ours), ours
    assert f"/{bucket}/pets/cat.jpg" in ours  # the normal image was read, by its exact key
    _only_thumbnails_written(tmp_path, dataset)


# --- local folders -------------------------------------------------------------------------------


def test_local_newline_and_overlong_names_are_refused_and_the_scan_goes_on(
    workspace, local_datastore, local_root, celery_eager, django_capture_on_commit_callbacks, manager_client, ws_url
):
    folder = local_root / "pets"
    (folder / "pets").mkdir()
    (folder / NORMAL).write_bytes(jpeg_bytes())
    (folder / "new\nline.jpg").write_bytes(SECRET)
    deep = folder
    for part in ("d" * 200, "e" * 200, "f" * 200, "g" * 200, "h" * 200):
        deep = deep / part
    deep.mkdir(parents=True)
    (deep / ("i" * 120 + ".jpg")).write_bytes(SECRET)
    (folder / bytes.fromhex("ff").decode("utf-8", "surrogateescape")).write_bytes(SECRET)  # not UTF-8
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path="")
    items = _scan_with_thumbnails(dataset, django_capture_on_commit_callbacks)
    assert dataset.scan_state == Dataset.ScanState.DONE, dataset.scan_error
    assert items[NORMAL].state == DataItem.State.READY and items[NORMAL].thumbnail
    refused = {key: item.reason for key, item in items.items() if item.state == DataItem.State.REFUSED}
    assert len(refused) == 3, refused
    assert refused["new\nline.jpg"] == "The name contains a control character (such as a newline)."
    assert refused["\\xff"] == "The name is not valid UTF-8 text or contains a NUL character."
    [(long_key, reason)] = [(k, r) for k, r in refused.items() if k.startswith("dddd")]
    length = len(deep.relative_to(folder).as_posix()) + 125
    assert reason.startswith(f"The name is {length:,} characters long") and len(long_key) == 1024
    # A second scan finds the same files: nothing is added twice or marked missing.
    scanning.dataset_sync(dataset.pk, mode="refresh", thumbnails=False)
    assert dict(DataItem.objects.filter(dataset=dataset).values_list("key", "state")) == {
        key: item.state for key, item in items.items()
    }
    assert os.listdir(folder) and manager_client.get(ws_url("dataset", dataset=dataset.uuid)).status_code == 200


# --- items registered before the rules ----------------------------------------------------------


def test_migration_refuses_items_registered_with_unsafe_keys_before(workspace, local_datastore, manager_client, ws_url):
    import importlib

    from django.apps import apps

    refuse = importlib.import_module("projects.migrations.0009_refuse_unsafe_item_keys").refuse
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path="")
    unsafe = [
        "../other/secret.jpg",
        "a/../../b.jpg",
        "/etc/passwd",
        "..",
        "a/./b.jpg",
        "new\nline.jpg",
        "a\\..\\b.jpg",
        "dir./x.jpg",
        "x/.../y.jpg",
    ]
    safe = ["pets/cat.jpg", "v1.0/x.jpg", "a/...b.jpg", "..jpg", "x/.hidden.jpg", "x/y.jpg"]
    for key in unsafe + safe:
        DataItem.objects.create(
            dataset=dataset,
            key=key,
            state=DataItem.State.READY,
            image_format="JPEG",
            thumbnail=f"thumbnails/{dataset.uuid}/{uuid.uuid4()}.jpg",
        )
    refuse(apps, None)
    items = {item.key: item for item in DataItem.objects.filter(dataset=dataset)}
    for key in unsafe:
        assert (items[key].state, items[key].thumbnail) == (DataItem.State.REFUSED, ""), key
        assert items[key].reason == ds.key_refusal(key)
        assert manager_client.get(ws_url("item_image", item=items[key].uuid)).status_code == 404
    assert all(items[key].state == DataItem.State.READY and items[key].thumbnail for key in safe)


def test_thumbnail_step_never_reads_an_unsafe_key_registered_before(workspace, local_datastore, local_root):
    (local_root / "pets" / "b.jpg").write_bytes(SECRET)  # what "a/../b.jpg" would resolve to
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path="")
    item = DataItem.objects.create(dataset=dataset, key="a/../b.jpg", state=DataItem.State.READY, image_format="JPEG")
    scanning.thumbnails_batch(dataset.pk)
    item.refresh_from_db()
    assert (item.state, item.thumbnail) == (DataItem.State.REFUSED, "")
    assert item.reason == "The name has a '.' or '..' path segment, which could address another object."
