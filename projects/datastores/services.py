"""Writes to datastores and datasets: settings checked and secrets encrypted, scans and refreshes asked for,
and deletes refused while something still uses them."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from projects.datastores import crypto, storage
from projects.datastores.paths import path_clean
from projects.datastores.tasks import dataset_refresh_task, dataset_scan_task, dataset_thumbnails_delete_task
from projects.guards import InUse, name_unique, names_listed, perm_check
from projects.models import DATASTORE_NAME_TAKEN, DataItem, Dataset, Datastore, Workspace

Kind, Auth = Datastore.Kind, Datastore.Auth


# The settings a datastore is created with and changed by (its workspace is set apart: only admin moves one).
DATASTORE_SETTINGS = ("name", "kind", "endpoint", "container", "local_path", "region", "auth_type", "access_key_id")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,40}[a-z0-9]")


def split_container_url(url: str) -> tuple[str, str]:
    """Azure portals hand out container URLs (https://ACCOUNT.blob.core.windows.net/CONTAINER): split them.

    Emulators put the account in the path (http://127.0.0.1:10000/ACCOUNT/CONTAINER), so the container
    is the last segment only when the host is Azure's or the path has two segments."""
    parts = urlsplit(url.strip())
    segments = [p for p in parts.path.split("/") if p]
    azure_host = (parts.hostname or "").endswith(".blob.core.windows.net")
    if (azure_host and len(segments) == 1) or len(segments) >= 2:
        endpoint = urlunsplit((parts.scheme, parts.netloc, "/" + "/".join(segments[:-1]), "", "")).rstrip("/")
        return endpoint, segments[-1]
    return url.strip(), ""


def datastore_settings_clean(*, values: dict, secret: str = "", current: Datastore | None = None) -> dict:
    """A datastore's settings checked and completed (an Azure container URL split, no authentication for a local
    folder, the local root and the endpoint's address allowed); ValidationError({field: [messages]}) names every
    problem. `current` is the stored datastore when changing one: its secret stays unless the authentication
    changes. Django admin's form shows these errors beside its fields; the services check again when saving."""
    data = dict(values)
    errors: dict[str, list[str]] = {}

    def refuse(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    def check(rule, value, field: str) -> None:
        try:
            rule(value)
        except storage.DatastoreError as error:
            refuse(field, error.message_text)

    kind, auth = data.get("kind"), data.get("auth_type")
    has_secret = bool(secret) or (current is not None and bool(current.secret_encrypted) and auth == current.auth_type)
    if kind == Kind.LOCAL:
        data["auth_type"] = Auth.NONE
        try:
            data["local_path"] = path_clean(data.get("local_path", ""), field=None, absolute=True)
        except ValidationError as error:
            refuse("local_path", error.messages[0])
        else:
            check(storage.local_root, data["local_path"], "local_path")
    elif kind in (Kind.AZURE_BLOB, Kind.S3):
        if kind == Kind.AZURE_BLOB and data.get("endpoint") and not data.get("container"):
            data["endpoint"], data["container"] = split_container_url(data["endpoint"])
        if not data.get("container"):
            refuse("container", "Give the container or bucket name.")
        if kind == Kind.AZURE_BLOB and not data.get("endpoint"):
            refuse("endpoint", "Give the account URL, such as https://<account>.blob.core.windows.net.")
        if data.get("endpoint"):
            check(storage.check_endpoint, data["endpoint"].strip().rstrip("/"), "endpoint")
        allowed = (Auth.SAS_TOKEN, Auth.ACCOUNT_KEY) if kind == Kind.AZURE_BLOB else (Auth.ACCESS_KEY,)
        if auth not in allowed:
            refuse("auth_type", f"Choose {' or '.join(str(a.label) for a in allowed)}.")
        elif not has_secret:
            refuse("secret", "Enter the secret for this authentication.")
        if kind == Kind.S3 and not data.get("access_key_id"):
            refuse("access_key_id", "Give the access key ID.")
        if data.get("region") and not _REGION.fullmatch(data["region"]):
            refuse("region", "A region looks like eu-west-1.")
    if errors:
        raise ValidationError(errors)
    return data


@sensitive_variables("secret")
def _datastore_save(datastore: Datastore, *, values: dict, secret: str, current: Datastore | None) -> Datastore:
    """Check the settings, store a new secret encrypted (a blank one keeps the stored one), save under a free name."""
    for field, value in datastore_settings_clean(values=values, secret=secret, current=current).items():
        setattr(datastore, field, value)
    if secret:
        datastore.secret_encrypted = crypto.encrypt(secret.strip())
        datastore.secret_changed_at = timezone.now()
    same_name = Datastore.objects.filter(workspace=datastore.workspace, name__iexact=datastore.name)
    if same_name.exclude(pk=datastore.pk).exists():
        raise ValidationError({NON_FIELD_ERRORS: [DATASTORE_NAME_TAKEN]})
    with name_unique("uniq_datastore_name", DATASTORE_NAME_TAKEN):
        datastore.save()
    _image_origins_changed(datastore.workspace_id)
    return datastore


def _image_origins_changed(*workspace_ids: int) -> None:
    """Pages allow their workspace's image origins (cached): forget them now and again once committed."""
    storage.workspace_image_origins_forget(*workspace_ids)
    transaction.on_commit(lambda: storage.workspace_image_origins_forget(*workspace_ids))


@sensitive_variables("secret")
@transaction.atomic
def datastore_create(
    *,
    workspace: Workspace,
    actor,
    name: str,
    kind: str,
    endpoint: str = "",
    container: str = "",
    local_path: str = "",
    region: str = "",
    auth_type: str = Datastore.Auth.NONE,
    access_key_id: str = "",
    secret: str = "",
) -> Datastore:
    """A datastore of the workspace (Django admin and the API); the secret is stored encrypted, never returned."""
    perm_check(actor, workspace, "projects.add_datastore")
    values = {
        "name": name,
        "kind": kind,
        "endpoint": endpoint,
        "container": container,
        "local_path": local_path,
        "region": region,
        "auth_type": auth_type,
        "access_key_id": access_key_id,
    }
    return _datastore_save(Datastore(workspace=workspace, created_by=actor), values=values, secret=secret, current=None)


@sensitive_variables("secret")
@transaction.atomic
def datastore_update(
    *, datastore: Datastore, actor, workspace: Workspace | None = None, secret: str = "", **changes
) -> Datastore:
    """Change the given settings (DATASTORE_SETTINGS; the others stay) and, unless `secret` is blank, the secret.
    `workspace` moves the datastore to another workspace (Django admin offers that)."""
    unknown = set(changes) - set(DATASTORE_SETTINGS)
    if unknown:
        raise TypeError(f"datastore_update() got unknown settings: {', '.join(sorted(unknown))}")
    stored = Datastore.objects.select_for_update().get(pk=datastore.pk)
    perm_check(actor, stored.workspace, "projects.change_datastore")
    if workspace is not None and workspace.pk != stored.workspace_id:
        perm_check(actor, workspace, "projects.add_datastore")
        _image_origins_changed(stored.workspace_id)  # its images leave the pages of the workspace it leaves
        stored.workspace = workspace
    values = {field: getattr(stored, field) for field in DATASTORE_SETTINGS} | changes
    return _datastore_save(stored, values=values, secret=secret, current=stored)


@transaction.atomic
def dataset_create(
    *, workspace, name: str, description: str = "", datastore, path: str, include_subfolders: bool = True, actor=None
):
    """A dataset on a folder of a datastore of the same workspace; its scan starts after commit."""
    if datastore.workspace_id != workspace.pk:
        raise ValidationError({"datastore": "Choose a datastore of this workspace."})
    taken = {"name": "A dataset with this name already exists in the workspace."}
    if Dataset.objects.filter(workspace=workspace, name__iexact=name).exists():
        raise ValidationError(taken)
    path = path_clean(path)
    with name_unique("uniq_dataset_name", taken):
        dataset = Dataset.objects.create(
            workspace=workspace,
            name=name,
            description=description,
            datastore=datastore,
            path=path,
            include_subfolders=include_subfolders,
            created_by=actor,
        )
    dataset_scan(dataset=dataset, actor=actor)
    return dataset


def _requester(actor) -> int | None:
    """Who asked, by id (a Celery message carries ids): they are told if the work fails."""
    return actor.pk if actor is not None and actor.is_authenticated else None


def dataset_scan(*, dataset, actor=None) -> None:
    """(Re)scan the whole path in the background; the page shows progress, and `actor` is told if it fails."""
    Dataset.objects.filter(pk=dataset.pk).exclude(scan_state=Dataset.ScanState.SCANNING).update(
        scan_state=Dataset.ScanState.PENDING
    )
    requested_by = _requester(actor)
    transaction.on_commit(lambda: dataset_scan_task.delay(dataset.pk, requested_by=requested_by))


def dataset_refresh(*, dataset, actor=None) -> None:
    """Add the files that appeared since the last scan, in the background ("Refresh now"). The dataset page shows
    the refresh waiting for a worker, then running, until it ends; `actor` is told if it fails."""
    Dataset.objects.filter(pk=dataset.pk).update(refresh_requested_at=Now())
    requested_by = _requester(actor)
    transaction.on_commit(lambda: dataset_refresh_task.delay(dataset.pk, requested_by=requested_by))


def datastore_delete_check(*, datastore) -> None:
    """Raise InUse when deleting the datastore would be refused (asked before confirming; the delete asks again)."""
    if datastore.datasets.exists():
        raise InUse(
            f"Datastore “{datastore.name}” is used by the datasets {names_listed(datastore.datasets.all())}; "
            "delete them first."
        )


@transaction.atomic
def datastore_delete(*, datastore, actor) -> None:
    """Delete a datastore (and its stored secret) that no dataset uses."""
    perm_check(actor, datastore.workspace, "projects.delete_datastore")
    locked = Datastore.objects.select_for_update().get(pk=datastore.pk)
    datastore_delete_check(datastore=locked)
    locked.delete()
    _image_origins_changed(locked.workspace_id)


def dataset_delete_check(*, dataset) -> None:
    """Raise InUse when deleting the dataset would be refused (asked before confirming; the delete asks again)."""
    if dataset.projects.exists():
        raise InUse(
            f"Dataset “{dataset.name}” is used by the projects {names_listed(dataset.projects.all())}, "
            "which keep their dataset even when archived."
        )
    if Dataset.objects.filter(pk=dataset.pk, busy_until__gt=Now()).exists():  # the lease runs on the database's clock
        raise InUse(f"Dataset “{dataset.name}” is being scanned or refreshed; delete it when that has finished.")


ITEM_DELETE_BATCH = 5000


@transaction.atomic
def dataset_delete(*, dataset, actor) -> None:
    """Delete a dataset that no project uses, with its items; their thumbnails are removed in the background.

    Projects are archived, never deleted, so a dataset stays as long as any project (even an archived one) uses it.
    """
    perm_check(actor, dataset.workspace, "projects.delete_dataset")
    # The row lock makes a scan or refresh that starts now find no dataset (it leaves quietly).
    locked = Dataset.objects.select_for_update().get(pk=dataset.pk)
    dataset_delete_check(dataset=locked)
    items = DataItem.objects.filter(dataset=locked)
    # In batches: one delete of a million items would hold them all in memory.
    while batch := list(items.values_list("pk", flat=True)[:ITEM_DELETE_BATCH]):
        DataItem.objects.filter(pk__in=batch).delete()
    dataset_uuid = str(locked.uuid)
    locked.delete()
    transaction.on_commit(lambda: dataset_thumbnails_delete_task.delay(dataset_uuid))
