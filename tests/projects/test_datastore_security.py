"""Datastore safety: SSRF-style endpoints, local path escapes, encrypted rotatable secrets."""

import os

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import SuspiciousFileOperation

from projects.datastores import crypto, scanning
from projects.datastores import storage as ds
from projects.models import DataItem, Dataset, Datastore
from tests.factories import DatastoreFactory
from tests.projects.conftest import jpeg_bytes


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://169.254.169.254/latest/meta-data",
        "https://169.254.169.254",
        "https://127.0.0.1:10999/devstoreaccount1",
        "https://localhost",
        "https://10.0.0.8",
        "https://192.168.1.10",
        "https://[::1]",
        "https://[fd00:ec2::254]",
        "https://[::ffff:127.0.0.1]",
        "https://0.0.0.0",
        "https://100.100.100.200",
        "https://user:pw@example.com",
        "ftp://example.com",
        "file:///etc/passwd",
        "not a url",
    ],
)
def test_private_loopback_link_local_and_metadata_endpoints_are_refused(endpoint):
    with pytest.raises(ds.DatastoreError):
        ds.check_endpoint(endpoint)


def test_allow_list_permits_a_local_emulator_only_on_its_port(settings):
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = ["127.0.0.1:10100"]
    ds.check_endpoint("http://127.0.0.1:10100/devstoreaccount1")
    with pytest.raises(ds.DatastoreError):
        ds.check_endpoint("http://127.0.0.1:6379/")


@pytest.mark.parametrize(
    "endpoint, entry, reason",
    [
        ("http://127.0.0.1:10000/devstoreaccount1", "127.0.0.1:10000", "must use https"),
        ("http://minio.internal/bucket", "minio.internal", "must use https"),
        ("https://127.0.0.1:9000", "127.0.0.1:9000", "private, loopback"),
    ],
)
def test_a_refused_endpoint_says_exactly_how_an_operator_allows_it(endpoint, entry, reason, settings):
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = []
    with pytest.raises(ds.DatastoreError) as refused:
        ds.check_endpoint(endpoint)
    message = refused.value.message_text
    assert reason in message
    assert f"add {entry} to LABELSITE_DATASTORE_ALLOWED_HOSTS" in message and ".env" in message and "restart" in message
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [entry]  # doing what it says is enough
    if "minio" not in entry:
        ds.check_endpoint(endpoint)


def test_endpoints_are_checked_again_at_connect_time(workspace, settings):
    # A row written around the form (or an allow-list that changed since) is refused when used.
    store = DatastoreFactory.create(
        workspace=workspace,
        name="sneaky",
        kind=Datastore.Kind.S3,
        endpoint="https://169.254.169.254",
        container="b",
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="k",
        secret="s",
    )
    with pytest.raises(ds.DatastoreError, match="private, loopback"):
        ds.storage_for(store)
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=store, path="")
    scanning.dataset_sync(dataset.pk, mode="scan")
    dataset.refresh_from_db()
    assert dataset.scan_state == Dataset.ScanState.FAILED and "private" in dataset.scan_error


def test_s3_never_falls_back_to_the_servers_own_credentials(workspace):
    store = DatastoreFactory.create(
        workspace=workspace,
        name="anon",
        kind=Datastore.Kind.S3,
        container="b",
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="",
        secret="",
    )
    with pytest.raises(ds.DatastoreError, match="access key"):
        ds.storage_for(store)


def test_local_folders_must_be_inside_an_allowed_root(tmp_path, local_root):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    with pytest.raises(ds.DatastoreError, match="allowed datastore roots"):
        ds.local_root(str(outside))
    with pytest.raises(ds.DatastoreError):
        ds.local_root(str(local_root / ".." / "elsewhere"))
    link = local_root / "link-out"
    os.symlink(outside, link)
    with pytest.raises(ds.DatastoreError, match="allowed datastore roots"):
        ds.local_root(str(link))
    (local_root / "inside").mkdir()
    assert ds.local_root("inside") == os.path.realpath(local_root / "inside")


def test_symlinks_and_dot_dot_never_leave_the_datastore(tmp_path, workspace, local_datastore, pets_folder):
    secret_file = tmp_path / "secret.jpg"
    secret_file.write_bytes(jpeg_bytes())
    os.symlink(secret_file, pets_folder / "escape.jpg")
    os.symlink(tmp_path, pets_folder / "escape-dir")
    storage = ds.storage_for(local_datastore)
    with pytest.raises(SuspiciousFileOperation):
        storage.path("MultiClass - DogsCats/escape.jpg")
    with pytest.raises(SuspiciousFileOperation):
        storage.path("../../secret.jpg")
    keys = [key for key, _ in ds.iter_objects(local_datastore, "MultiClass - DogsCats", recursive=True)]
    assert not any("escape" in key for key in keys)
    folders, files = ds.datastore_list(local_datastore, "MultiClass - DogsCats")
    assert "escape-dir" not in folders and "escape.jpg" not in files
    # A key planted in the database cannot reach outside either.
    dataset = Dataset.objects.create(workspace=workspace, name="d", datastore=local_datastore, path="")
    item = DataItem.objects.create(
        dataset=dataset, key="MultiClass - DogsCats/escape.jpg", state="ready", image_format="JPEG"
    )
    with pytest.raises(ds.DatastoreError):
        ds.read_object(local_datastore, storage, item.key)


def test_secrets_are_encrypted_at_rest_and_keys_rotate(settings, workspace):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.LABELSITE_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt("CANARY-s3cr3t-9f1e")
    assert "CANARY" not in token
    settings.LABELSITE_ENCRYPTION_KEYS = [new, old]  # rotation: the new key first, the old one still decrypts
    assert crypto.decrypt(token) == "CANARY-s3cr3t-9f1e"
    rotated = crypto.rotate(token)
    settings.LABELSITE_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt(rotated) == "CANARY-s3cr3t-9f1e"
    with pytest.raises(ValueError) as error:  # noqa: PT011 — what matters is what the message does NOT say
        crypto.decrypt(token)
    assert token not in str(error.value)
