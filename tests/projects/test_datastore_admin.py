"""Datastores in Django admin: kind-specific forms, write-only secrets, Test connection, Browse,
tenant scoping, and the canary: a secret never appears in any response or log."""

import base64
import socket
import urllib.parse

import pytest
from django.urls import reverse

from projects.datastores import crypto, scanning
from projects.models import Dataset, Datastore
from tests.factories import DatastoreFactory
from tests.projects.conftest import CANARY

ADD = "admin:projects_datastore_add"


def _form(**fields):
    base = {
        "workspace": "",
        "name": "",
        "kind": "",
        "endpoint": "",
        "container": "",
        "local_path": "",
        "region": "",
        "auth_type": "none",
        "access_key_id": "",
        "secret": "",
    }
    base.update(fields)
    return base


def test_org_admin_adds_a_local_datastore(org_admin_client, workspace, local_root):
    (local_root / "images").mkdir()
    response = org_admin_client.post(
        reverse(ADD), _form(workspace=workspace.pk, name="images", kind="local", local_path=str(local_root / "images"))
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Datastore.objects.get(name="images").workspace == workspace


def test_refused_paths_and_endpoints_show_form_errors(org_admin_client, workspace, tmp_path):
    outside = org_admin_client.post(
        reverse(ADD), _form(workspace=workspace.pk, name="x", kind="local", local_path=str(tmp_path))
    )
    assert outside.status_code == 200 and "allowed datastore roots" in outside.content.decode()
    metadata = org_admin_client.post(
        reverse(ADD),
        _form(
            workspace=workspace.pk,
            name="x",
            kind="s3",
            endpoint="https://169.254.169.254",
            container="b",
            auth_type="access_key",
            access_key_id="AK",
            secret="sk",
        ),
    )
    assert "private, loopback, link-local or metadata" in metadata.content.decode()
    assert not Datastore.objects.filter(name="x").exists()


@pytest.mark.integration
def test_azure_datastore_secret_is_write_only(org_admin_client, workspace, azurite):
    response = org_admin_client.post(
        reverse(ADD),
        _form(
            workspace=workspace.pk,
            name="azure",
            kind="azure_blob",
            endpoint=azurite,
            container="images",
            auth_type="sas_token",
            secret=CANARY,
        ),
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    store = Datastore.objects.get(name="azure")
    assert CANARY not in store.secret_encrypted and crypto.decrypt(store.secret_encrypted) == CANARY
    change = org_admin_client.get(reverse("admin:projects_datastore_change", args=[store.pk])).content.decode()
    assert "Set, last changed" in change
    # Saving without a new value keeps the secret.
    fields = _form(
        workspace=workspace.pk,
        name="azure",
        kind="azure_blob",
        endpoint=azurite,
        container="images",
        auth_type="sas_token",
    )
    assert org_admin_client.post(reverse("admin:projects_datastore_change", args=[store.pk]), fields).status_code == 302
    store.refresh_from_db()
    assert crypto.decrypt(store.secret_encrypted) == CANARY


def test_outsider_admin_cannot_see_our_datastores(outsider_client, workspace, local_root):
    (local_root / "mine").mkdir()
    store = DatastoreFactory.create(workspace=workspace, name="ours", kind="local", local_path=str(local_root / "mine"))
    changelist = outsider_client.get(reverse("admin:projects_datastore_changelist"))
    assert "ours" not in changelist.content.decode()
    assert outsider_client.get(reverse("admin:projects_datastore_change", args=[store.pk])).status_code in (302, 404)
    assert outsider_client.get(reverse("admin:projects_datastore_browse", args=[store.pk])).status_code == 404


def test_test_connection_and_browse_in_admin(org_admin_client, local_datastore, pets_folder):
    response = org_admin_client.post(
        reverse("admin:projects_datastore_changelist"),
        {"action": "test_connection", "_selected_action": [local_datastore.pk]},
        follow=True,
    )
    assert "Connection to pets works (1 folders, 0 files at the top)." in response.content.decode()
    browse = org_admin_client.get(
        reverse("admin:projects_datastore_browse", args=[local_datastore.pk]), {"path": "MultiClass - DogsCats"}
    ).content.decode()
    assert "more cats/" in browse and "Create a dataset from this folder" in browse


def test_dataset_added_in_admin_is_scanned(
    org_admin_client, workspace, local_datastore, pets_folder, celery_eager, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = org_admin_client.post(
            reverse("admin:projects_dataset_add"),
            {
                "workspace": workspace.pk,
                "name": "cats-n-dogs",
                "description": "",
                "datastore": local_datastore.pk,
                "path": "MultiClass - DogsCats",
                "include_subfolders": "on",
            },
        )
    assert response.status_code == 302, response.content.decode()[:3000]
    dataset = Dataset.objects.get(name="cats-n-dogs")
    assert dataset.scan_state == Dataset.ScanState.DONE and dataset.scan_registered == 4


def _forms_of(secret):
    return [
        secret,
        base64.b64encode(secret.encode()).decode(),
        urllib.parse.quote(secret),
        urllib.parse.quote_plus(secret),
        base64.urlsafe_b64encode(secret.encode()).decode(),
    ]


@pytest.mark.integration
def test_canary_secret_never_appears_anywhere(
    org_admin_client,
    manager_client,
    ws_url,
    workspace,
    azurite,
    caplog,
    settings,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS += [f"127.0.0.1:{closed}"]
    sas = f"sv=2023-11-03&sp=rl&sig={CANARY}"
    failing = DatastoreFactory.create(
        workspace=workspace,
        name="azure-canary",
        kind="azure_blob",
        endpoint=azurite,
        container="nope",
        auth_type="sas_token",
        secret=sas,
    )
    key_store = DatastoreFactory.create(
        workspace=workspace,
        name="key-canary",
        kind="azure_blob",
        endpoint=azurite,
        container="nope",
        auth_type="account_key",
        access_key_id="devstoreaccount1",
        secret=base64.b64encode(CANARY.encode()).decode(),
    )
    unreachable = DatastoreFactory.create(
        workspace=workspace,
        name="s3-canary",
        kind="s3",
        endpoint=f"http://127.0.0.1:{closed}",
        container="b",
        auth_type="access_key",
        access_key_id="AK",
        secret=CANARY,
    )
    pages = [reverse("admin:projects_datastore_changelist")]
    for store in (failing, key_store, unreachable):
        dataset = Dataset.objects.create(workspace=workspace, name=f"ds-{store.name}", datastore=store, path="x")
        with django_capture_on_commit_callbacks(execute=True):
            scanning.dataset_sync(dataset.pk, mode="scan")
            scanning.dataset_sync(dataset.pk, mode="refresh")
        dataset.refresh_from_db()
        assert dataset.scan_state == Dataset.ScanState.FAILED and dataset.last_refresh_error
        pages += [
            reverse("admin:projects_datastore_change", args=[store.pk]),
            reverse("admin:projects_datastore_history", args=[store.pk]),
            reverse("admin:projects_datastore_browse", args=[store.pk]),
            reverse("admin:projects_dataset_change", args=[dataset.pk]),
            ws_url("datastore_browse", datastore=store.uuid),
            ws_url("dataset", dataset=dataset.uuid),
            ws_url("dataset_progress", dataset=dataset.uuid),
        ]
    responses = [
        org_admin_client.post(
            reverse("admin:projects_datastore_changelist"),
            {"action": "test_connection", "_selected_action": [failing.pk, key_store.pk, unreachable.pk]},
            follow=True,
        )
    ]
    assert "Connection to azure-canary failed: The datastore refused the credentials" in responses[0].content.decode()
    responses += [org_admin_client.get(url) for url in pages] + [
        manager_client.get(url) for url in pages if "/o/" in url
    ]
    responses.append(org_admin_client.get(reverse("admin:projects_dataset_changelist")))
    for response in responses:
        assert response.status_code in (200, 286), response.request["PATH_INFO"]
        body = response.content.decode() if not getattr(response, "streaming", False) else ""
        headers = str(response.headers)
        for form in _forms_of(CANARY) + _forms_of(sas):
            assert form not in body and form not in headers, f"secret leaked in {response.request['PATH_INFO']}"
    for form in _forms_of(CANARY):
        assert form not in caplog.text


@pytest.mark.integration
def test_azure_container_url_from_the_portal_is_split(org_admin_client, workspace, azurite):
    from projects.datastores.services import split_container_url

    assert split_container_url("https://azureopendatastorage.blob.core.windows.net/openimagescontainer") == (
        "https://azureopendatastorage.blob.core.windows.net",
        "openimagescontainer",
    )
    assert split_container_url("https://acct.blob.core.windows.net") == ("https://acct.blob.core.windows.net", "")
    response = org_admin_client.post(
        reverse(ADD),
        _form(
            workspace=workspace.pk,
            name="tutorial",
            kind="azure_blob",
            endpoint=f"{azurite}/openimagescontainer",
            auth_type="sas_token",
            secret="?sv=2019-02-02&sp=rl&sig=abc",
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    store = Datastore.objects.get(name="tutorial")
    assert (store.endpoint, store.container) == (azurite, "openimagescontainer")


def test_error_reports_hide_the_posted_secret(org_admin_client, workspace):
    from django.views.debug import SafeExceptionReporterFilter

    response = org_admin_client.post(reverse(ADD), _form(workspace=workspace.pk, name="x", kind="s3", secret=CANARY))
    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert shown["secret"] != CANARY and shown["name"] == "x"
