"""Datastores are created and changed through projects' services, which Django admin and the API both call."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from projects.datastores import crypto
from projects.datastores import services as datastore_services
from projects.models import Datastore

S3 = {"kind": "s3", "container": "bucket", "auth_type": "access_key", "access_key_id": "AKIDEXAMPLE"}
AZURITE = "http://127.0.0.1:10100/devstoreaccount1"


@pytest.fixture(autouse=True)
def emulator_allowed(settings):
    """No test here reaches a server; the endpoint checks (SSRF) still run, with the emulators' port allowed."""
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = ["127.0.0.1:10100"]


def _errors(call) -> dict:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.message_dict


def test_create_checks_the_settings_and_keeps_the_secret_encrypted(workspace, ws_admin, local_root):
    store = datastore_services.datastore_create(
        workspace=workspace,
        actor=ws_admin,
        name="Bucket",
        endpoint="http://127.0.0.1:10100",
        secret=" CANARY-9f1e ",
        **S3,
    )
    store.refresh_from_db()
    assert store.created_by == ws_admin and store.secret_changed_at is not None
    assert "CANARY" not in store.secret_encrypted and crypto.decrypt(store.secret_encrypted) == "CANARY-9f1e"
    local = datastore_services.datastore_create(
        workspace=workspace,
        actor=ws_admin,
        name="Disk",
        kind="local",
        local_path=str(local_root),
        auth_type="sas_token",
    )
    assert local.auth_type == Datastore.Auth.NONE  # a local folder has no authentication


def test_create_refuses_what_the_admin_form_refuses_and_saves_nothing(workspace, ws_admin, tmp_path):
    errors = _errors(
        lambda: datastore_services.datastore_create(
            workspace=workspace, actor=ws_admin, name="Bad", kind="s3", auth_type="sas_token", region="EU West"
        )
    )
    assert errors == {
        "container": ["Give the container or bucket name."],
        "auth_type": ["Choose Access key + secret."],
        "access_key_id": ["Give the access key ID."],
        "region": ["A region looks like eu-west-1."],
    }
    assert "private, loopback" in str(
        _errors(
            lambda: datastore_services.datastore_create(
                workspace=workspace,
                actor=ws_admin,
                name="Metadata",
                endpoint="https://169.254.169.254",
                secret="s",
                **S3,
            )
        )
    )
    assert "allowed datastore roots" in str(
        _errors(
            lambda: datastore_services.datastore_create(
                workspace=workspace, actor=ws_admin, name="Elsewhere", kind="local", local_path=str(tmp_path)
            )
        )
    )
    assert _errors(
        lambda: datastore_services.datastore_create(workspace=workspace, actor=ws_admin, name="No secret", **S3)
    ) == {"secret": ["Enter the secret for this authentication."]}
    assert not Datastore.objects.filter(workspace=workspace).exists()


def test_an_azure_container_url_is_split(workspace, ws_admin):
    store = datastore_services.datastore_create(
        workspace=workspace,
        actor=ws_admin,
        name="Open images",
        kind="azure_blob",
        auth_type="sas_token",
        endpoint=AZURITE + "/openimages/",
        secret="sv=1&sig=x",
    )
    assert (store.endpoint, store.container) == (AZURITE, "openimages")


def test_update_keeps_a_blank_secret_rotates_a_new_one_and_asks_again_when_the_auth_changes(workspace, ws_admin):
    store = datastore_services.datastore_create(
        workspace=workspace, actor=ws_admin, name="Bucket", secret="first", **S3
    )
    stored, changed_at = store.secret_encrypted, store.secret_changed_at
    store = datastore_services.datastore_update(datastore=store, actor=ws_admin, container="other", secret="")
    assert (store.container, store.secret_encrypted, store.secret_changed_at) == ("other", stored, changed_at)
    store = datastore_services.datastore_update(datastore=store, actor=ws_admin, secret="second")
    assert crypto.decrypt(store.secret_encrypted) == "second" and store.secret_changed_at > changed_at
    azure = datastore_services.datastore_create(
        workspace=workspace,
        actor=ws_admin,
        name="Blob",
        kind="azure_blob",
        endpoint=AZURITE,
        container="c",
        auth_type="sas_token",
        secret="sv=1",
    )
    assert _errors(
        lambda: datastore_services.datastore_update(datastore=azure, actor=ws_admin, auth_type="account_key")
    ) == {"secret": ["Enter the secret for this authentication."]}
    assert Datastore.objects.get(pk=azure.pk).auth_type == "sas_token"


def test_names_are_unique_in_the_workspace_ignoring_case(workspace, ws_admin, local_root):
    datastore_services.datastore_create(
        workspace=workspace, actor=ws_admin, name="Disk", kind="local", local_path=str(local_root)
    )
    assert _errors(
        lambda: datastore_services.datastore_create(
            workspace=workspace, actor=ws_admin, name="DISK", kind="local", local_path=str(local_root)
        )
    ) == {"__all__": ["A datastore with this name already exists in the workspace."]}


def test_only_those_allowed_in_the_workspace_create_or_change_datastores(
    workspace, other_workspace, ws_admin, manager, labeler, outsider, local_root
):
    for actor in (manager, labeler, outsider):
        with pytest.raises(PermissionDenied):
            datastore_services.datastore_create(
                workspace=workspace, actor=actor, name="Disk", kind="local", local_path=str(local_root)
            )
    store = datastore_services.datastore_create(
        workspace=workspace, actor=ws_admin, name="Disk", kind="local", local_path=str(local_root)
    )
    with pytest.raises(PermissionDenied):
        datastore_services.datastore_update(datastore=store, actor=outsider, name="Mine")
    with pytest.raises(PermissionDenied):  # nor into a workspace of another organization
        datastore_services.datastore_update(datastore=store, actor=ws_admin, workspace=other_workspace)
    assert Datastore.objects.get(pk=store.pk).name == "Disk"
