"""S3 datastores against a real moto server: scanning, odd keys, browse and presigned image URLs."""

import urllib.request

import pytest

from projects.datastores import scanning
from projects.datastores import storage as ds
from projects.models import DataItem, Dataset, Datastore
from tests.factories import DatastoreFactory
from tests.projects.conftest import jpeg_bytes, png_bytes

pytestmark = pytest.mark.integration

ODD_KEYS = [
    "MultiClass - DogsCats/cat 1.jpg",
    "MultiClass - DogsCats/dog #2.png",
    "MultiClass - DogsCats/what?.jpg",
    "MultiClass - DogsCats/chat é 猫.jpg",
    "MultiClass - DogsCats/sub/cat 3.jpg",
]


@pytest.fixture
def filled(s3_bucket):
    client, bucket = s3_bucket
    for key in ODD_KEYS:
        client.put_object(Bucket=bucket, Key=key, Body=png_bytes() if key.endswith(".png") else jpeg_bytes())
    client.put_object(Bucket=bucket, Key="MultiClass - DogsCats/readme.txt", Body=b"hi")
    client.put_object(Bucket=bucket, Key="MultiClass - DogsCats/empty.jpg", Body=b"")
    return client, bucket


def _store(workspace, moto, bucket, secret="testing"):
    return DatastoreFactory.create(
        workspace=workspace,
        name="s3",
        kind=Datastore.Kind.S3,
        endpoint=moto,
        container=bucket,
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="testing",
        secret=secret,
        region="us-east-1",
    )


def test_scan_keeps_odd_keys_exactly(workspace, moto, filled):
    _client, bucket = filled
    dataset = Dataset.objects.create(
        workspace=workspace, name="pets", datastore=_store(workspace, moto, bucket), path="MultiClass - DogsCats"
    )
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    items = {i.key: i for i in DataItem.objects.filter(dataset=dataset)}
    assert set(ODD_KEYS) <= set(items)
    assert all(items[k].state == DataItem.State.READY for k in ODD_KEYS), {k: items[k].reason for k in ODD_KEYS}
    assert items["MultiClass - DogsCats/readme.txt"].state == DataItem.State.SKIPPED
    assert items["MultiClass - DogsCats/empty.jpg"].state == DataItem.State.UNREADABLE


def test_scan_without_subfolders(workspace, moto, filled):
    _, bucket = filled
    dataset = Dataset.objects.create(
        workspace=workspace,
        name="flat",
        datastore=_store(workspace, moto, bucket),
        path="MultiClass - DogsCats",
        include_subfolders=False,
    )
    scanning.dataset_sync(dataset.pk, mode="scan", thumbnails=False)
    keys = set(DataItem.objects.filter(dataset=dataset).values_list("key", flat=True))
    assert "MultiClass - DogsCats/sub/cat 3.jpg" not in keys
    assert "MultiClass - DogsCats/cat 1.jpg" in keys


def test_browse_and_wrong_secret(workspace, moto, filled):
    _, bucket = filled
    folders, _ = ds.datastore_list(_store(workspace, moto, bucket), "MultiClass - DogsCats")
    assert "sub" in folders


def test_presigned_image_url_reads_one_object_only(
    workspace, moto, filled, manager_client, ws_url, celery_eager, django_capture_on_commit_callbacks
):
    client, bucket = filled
    dataset = Dataset.objects.create(
        workspace=workspace, name="pets", datastore=_store(workspace, moto, bucket), path="MultiClass - DogsCats"
    )
    with django_capture_on_commit_callbacks(execute=True):
        scanning.dataset_sync(dataset.pk, mode="scan")
    item = DataItem.objects.get(dataset=dataset, key="MultiClass - DogsCats/dog #2.png")
    assert item.thumbnail
    response = manager_client.get(ws_url("item_image", item=item.uuid))
    assert response.status_code == 302
    url = response["Location"]
    assert "X-Amz-Expires=300" in url
    with urllib.request.urlopen(url, timeout=10) as got:
        assert got.read() == client.get_object(Bucket=bucket, Key=item.key)["Body"].read()
    # One object, GET only, signed (moto does not verify signatures, so the shape is what we can check).
    assert f"/{bucket}/MultiClass%20-%20DogsCats/dog%20%232.png?" in url
    assert "X-Amz-Signature=" in url and "testing" not in url.split("X-Amz-Credential=")[0]
