"""Writes to tenancy data (sign-up, workspaces, invitations, roles) and to labeling projects."""

from __future__ import annotations

import re
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Now
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from core.errors import Conflict, Refused
from projects import crypto, storage
from projects.access import Access
from projects.api_auth import TOKEN_PREFIX, token_hash
from projects.models import (
    DATASTORE_NAME_TAKEN, ApiToken, DataItem, Dataset, Datastore, Invitation, LabelClass, LabelingProject, Membership,
    Organization,
    OrganizationMember, Workspace,
)
from projects.roles import WORKSPACE_ADMIN
from projects.signals import project_created
from projects.tasks import dataset_refresh_task, dataset_scan_task, dataset_thumbnails_delete_task

User = get_user_model()
Kind, Auth = Datastore.Kind, Datastore.Auth
INVITATION_SALT = "labelsite.invitation"


def _unique_slug(base: str, taken) -> str:
    base = slugify(base)[:50] or "org"
    slug, n = base, 1
    while taken(slug):
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def organization_signup(*, username: str, email: str, password: str, organization_name: str) -> User:
    """A new account with its own organization (they are its admin) and a first workspace. Django admin access
    comes with it only where the operator allows it (LABELSITE_SIGNUP_ADMIN_ACCESS): a sign-up is anyone on the internet."""
    user = User.objects.create_user(username=username, email=email, password=password,
                                    is_staff=settings.LABELSITE_SIGNUP_ADMIN_ACCESS)
    organization = Organization.objects.create(
        name=organization_name,
        slug=_unique_slug(organization_name, lambda s: Organization.objects.filter(slug=s).exists()),
    )
    OrganizationMember.objects.create(organization=organization, user=user, is_admin=True)
    workspace_create(organization=organization, name="Default", actor=user)
    return user


def user_admin_access_set(*, user, enabled: bool) -> None:
    """Grant or take away Django admin access (is_staff), which only organization admins may hold: admin shows
    them their own organizations' workspaces, members and datastores."""
    if enabled and not user.is_superuser and not OrganizationMember.objects.admins().filter(user=user).exists():
        raise ValidationError(f"{user.get_username()} is not an organization admin.", code="not_org_admin")
    user.is_staff = enabled
    user.save(update_fields=["is_staff"])


def workspace_create(*, organization: Organization, name: str, actor) -> Workspace:
    if not OrganizationMember.objects.filter(organization=organization, user=actor, is_admin=True).exists():
        raise Refused("Only organization admins create workspaces.")
    slug = _unique_slug(name, lambda s: Workspace.objects.filter(organization=organization, slug=s).exists())
    workspace = Workspace.objects.create(organization=organization, name=name, slug=slug)
    return workspace


def _check_grant(access: Access, group: Group) -> None:
    if not access.can_grant(group):
        raise Refused("You cannot grant a role with more rights than your own.")


def invitation_create(*, access: Access, email: str, group: Group, request=None) -> Invitation:
    _check_grant(access, group)
    email = User.objects.normalize_email(email).strip()
    invitation = Invitation.objects.create(workspace=access.workspace, email=email, group=group, invited_by=access.user)
    link = invitation_link(invitation, request)
    transaction.on_commit(
        lambda: send_mail(
            f"You are invited to {access.workspace} on Labelsite",
            f"{access.user} invited you to join the workspace {access.workspace.name} "
            f"of {access.organization.name} as {group.name}.\n\nAccept here (the link expires in "
            f"{settings.LABELSITE_INVITATION_MAX_AGE // 86400} days):\n{link}\n",
            None,
            [email],
        )
    )
    return invitation


def invitation_token(invitation: Invitation) -> str:
    return signing.dumps(str(invitation.uuid), salt=INVITATION_SALT)


def invitation_link(invitation: Invitation, request=None) -> str:
    path = reverse("accept_invitation", args=[invitation_token(invitation)])
    return request.build_absolute_uri(path) if request is not None else path


def invitation_from_token(token: str) -> Invitation:
    """The open invitation behind a link, or ValidationError with a message a person can act on."""
    try:
        value = signing.loads(token, salt=INVITATION_SALT, max_age=settings.LABELSITE_INVITATION_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationError("This invitation has expired. Ask for a new one.")
    except signing.BadSignature:
        raise ValidationError("This invitation link is not valid.")
    invitation = Invitation.objects.select_related("workspace__organization", "group").filter(uuid=value).first()
    if invitation is None or invitation.revoked_at:
        raise ValidationError("This invitation has been withdrawn.")
    if invitation.accepted_at:
        raise ValidationError("This invitation has already been used.")
    return invitation


def invitation_for_account(*, invitation: Invitation, user) -> bool:
    """An invitation is for the address it was sent to (compared ignoring case), nobody else's account."""
    return bool(user.email) and user.email.strip().casefold() == invitation.email.strip().casefold()


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user) -> tuple[Membership, bool]:
    """Join the workspace with the invited role: (membership, joined). Someone already in the workspace keeps
    their role (joined is False) and the invitation is used up, so it cannot hand out that role later; roles
    change only on the Members page."""
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at or invitation.revoked_at:
        raise ValidationError("This invitation has already been used.", code="used")
    if not invitation_for_account(invitation=invitation, user=user):
        raise ValidationError("This invitation was sent to a different email address.", code="wrong_account")
    OrganizationMember.objects.get_or_create(organization=invitation.workspace.organization, user=user)
    membership, joined = Membership.objects.select_related("group").get_or_create(
        workspace=invitation.workspace, user=user,
        defaults={"group": invitation.group, "created_by": invitation.invited_by},
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership, joined


@transaction.atomic
def invitation_accept_new_user(*, invitation: Invitation, username: str, password: str) -> User:
    try:
        with transaction.atomic():
            user = User.objects.create_user(username=username, email=invitation.email, password=password)
    except IntegrityError:
        raise ValidationError("That username is taken.")
    invitation_accept(invitation=invitation, user=user)
    return user


def invitation_revoke(*, access: Access, invitation: Invitation) -> None:
    if not access.can("projects.delete_invitation"):
        raise Refused()
    invitation.revoked_at = timezone.now()
    invitation.save(update_fields=["revoked_at"])


def _guard_member_change(access: Access, membership: Membership) -> None:
    if membership.workspace_id != access.workspace.pk:
        raise Refused()
    if membership.user_id == access.user.pk and not access.is_org_admin:
        raise Refused("You cannot change your own role.")
    # A workspace admin may not demote or remove someone whose role is above their own.
    _check_grant(access, membership.group)


def membership_set_role(*, access: Access, membership: Membership, group: Group) -> Membership:
    _guard_member_change(access, membership)
    _check_grant(access, group)
    membership.group = group
    membership.save(update_fields=["group"])
    return membership


def membership_revoke(*, access: Access, membership: Membership) -> None:
    _guard_member_change(access, membership)
    membership.delete()


def workspace_admin_group() -> Group:
    return Group.objects.get(name=WORKSPACE_ADMIN)


def api_token_create(*, user, name: str) -> tuple[ApiToken, str]:
    """A new personal token; the returned key is shown once and never stored in clear."""
    import secrets

    prefix = secrets.token_hex(5)
    key = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, key_hash=token_hash(key))
    return token, key


def api_token_revoke(*, user, token: ApiToken) -> None:
    if token.user_id != user.pk:
        raise Refused()
    token.revoked_at = timezone.now()
    token.save(update_fields=["revoked_at"])


# ---- Labeling projects -------------------------------------------------------------------------

MAX_LABEL_CLASSES = 50


def label_names_clean(names) -> list[str]:
    """Trimmed names in order; blanks and duplicates (ignoring case) refused with a message."""
    cleaned, seen = [], set()
    for raw in names:
        name = " ".join((raw or "").split())
        if not name:
            raise ValidationError("A label class needs a name.")
        if len(name) > 100:
            raise ValidationError(f"“{name[:20]}…” is longer than 100 characters.")
        if name.casefold() in seen:
            raise ValidationError(f"“{name}” is already a label class.")
        seen.add(name.casefold())
        cleaned.append(name)
    if len(cleaned) > MAX_LABEL_CLASSES:
        raise ValidationError(f"At most {MAX_LABEL_CLASSES} label classes.")
    return cleaned


@contextmanager
def name_unique(constraint: str, message):
    """Run a write whose name the service has just checked is free. Two requests at once can both pass that
    check; the database's unique constraint then refuses the later one, which gets the same message as
    the check gives instead of an error page. (A savepoint keeps the caller's transaction usable.)"""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as error:
        if constraint not in str(error):
            raise
        raise ValidationError(message) from error


def project_name_taken(*, workspace: Workspace, name: str, exclude: LabelingProject | None = None) -> bool:
    found = LabelingProject.objects.for_workspace(workspace).filter(name__iexact=name.strip())
    if exclude is not None:
        found = found.exclude(pk=exclude.pk)
    return found.exists()


def _check_project_perm(actor, workspace, perm: str) -> None:
    if not actor.has_perm(perm, workspace):
        raise Refused(f"You need the {perm!r} permission in this workspace.")


@transaction.atomic
def project_create(
    *, workspace: Workspace, actor, name: str, task_type: str, dataset: Dataset, incremental_refresh: bool,
    label_names: list[str], instructions_url: str = "", instructions_text: str = "", ml_assisted: bool = False,
) -> LabelingProject:
    """A project in state Initializing with its label classes; labeling creates its tasks after commit."""
    _check_project_perm(actor, workspace, "projects.add_labelingproject")
    if dataset.workspace_id != workspace.pk:
        raise ValidationError("That dataset belongs to another workspace.")
    name = name.strip()
    taken = f"A project named “{name}” already exists in this workspace."
    if project_name_taken(workspace=workspace, name=name):
        raise ValidationError(taken)
    names = label_names_clean(label_names)
    if len(names) < 2:
        raise ValidationError("Add at least two label classes.")
    with name_unique("uniq_project_name", taken):
        project = LabelingProject.objects.create(
            workspace=workspace, name=name, task_type=task_type, dataset=dataset,
            incremental_refresh=incremental_refresh, instructions_url=instructions_url,
            instructions_text=instructions_text, ml_assisted=ml_assisted,
            state=LabelingProject.State.INITIALIZING, created_by=actor,
        )
    LabelClass.objects.bulk_create(
        LabelClass(project=project, name=label, position=i, color=i % LabelClass.PALETTE_SIZE)
        for i, label in enumerate(names)
    )
    project_created.send(sender=LabelingProject, project=project)
    return project


def project_update(
    *, project: LabelingProject, actor, name: str, incremental_refresh: bool,
    instructions_url: str, instructions_text: str, ml_assisted: bool,
) -> LabelingProject:
    _check_project_perm(actor, project.workspace, "projects.change_labelingproject")
    name = name.strip()
    taken = f"A project named “{name}” already exists in this workspace."
    if project_name_taken(workspace=project.workspace, name=name, exclude=project):
        raise ValidationError(taken)
    project.name, project.incremental_refresh, project.ml_assisted = name, incremental_refresh, ml_assisted
    project.instructions_url, project.instructions_text = instructions_url, instructions_text
    with name_unique("uniq_project_name", taken):
        project.save(update_fields=["name", "incremental_refresh", "ml_assisted", "instructions_url", "instructions_text"])
    return project


# Which state each action leads to, and from which states it is allowed.
PROJECT_ACTIONS = {
    "pause": (LabelingProject.State.PAUSED, {LabelingProject.State.RUNNING}),
    "resume": (LabelingProject.State.RUNNING, {LabelingProject.State.PAUSED}),
    "archive": (
        LabelingProject.State.ARCHIVED,
        {LabelingProject.State.RUNNING, LabelingProject.State.PAUSED, LabelingProject.State.INITIALIZING},
    ),
}


@transaction.atomic
def project_state_set(*, project: LabelingProject, actor, action: str) -> LabelingProject:
    """Pause, resume or archive; a conditional UPDATE so two clicks cannot both win."""
    _check_project_perm(actor, project.workspace, "projects.change_labelingproject")
    if action not in PROJECT_ACTIONS:
        raise ValidationError("Unknown action.")
    target, allowed = PROJECT_ACTIONS[action]
    changed = LabelingProject.objects.filter(pk=project.pk, state__in=allowed).update(state=target)
    if not changed:
        raise Conflict(f"A project that is {project.get_state_display().lower()} cannot {action}.",
                       data={"state": project.state, "action": action})
    project.state = target
    return project


def _active_classes(project: LabelingProject):
    return LabelClass.objects.filter(project=project).active()


def label_classes_renumber(*, project: LabelingProject, ordered: list[LabelClass]) -> None:
    """Positions 0..n-1 in the given order (keys 1–9 follow the position)."""
    for i, label_class in enumerate(ordered):
        if label_class.position != i:
            label_class.position = i
            label_class.save(update_fields=["position"])


@transaction.atomic
def label_class_add(*, project: LabelingProject, actor, name: str) -> LabelClass:
    """A new class at the end; re-adding a removed class's name brings it (and its kept tags) back."""
    _check_project_perm(actor, project.workspace, "projects.add_labelclass")
    LabelingProject.objects.select_for_update().filter(pk=project.pk).first()
    active = list(_active_classes(project))
    [name] = label_names_clean([name])
    names = label_names_clean([c.name for c in active] + [name])  # raises on a duplicate
    if len(names) > MAX_LABEL_CLASSES:
        raise ValidationError(f"At most {MAX_LABEL_CLASSES} label classes.")
    removed = LabelClass.objects.filter(project=project, name__iexact=name).exclude(removed_at=None).first()
    if removed is not None:
        removed.removed_at, removed.position, removed.name = None, len(active), name
        removed.save(update_fields=["removed_at", "position", "name"])
        return removed
    used = set(LabelClass.objects.filter(project=project).values_list("color", flat=True))
    color = next((c for c in range(LabelClass.PALETTE_SIZE) if c not in used), len(active) % LabelClass.PALETTE_SIZE)
    with name_unique("uniq_label_class_name", f"“{name}” is already a label class."):
        return LabelClass.objects.create(project=project, name=name, position=len(active), color=color)


@transaction.atomic
def label_class_move(*, project: LabelingProject, actor, label_class: LabelClass, offset: int) -> None:
    _check_project_perm(actor, project.workspace, "projects.change_labelclass")
    ordered = list(_active_classes(project).select_for_update())
    index = next((i for i, c in enumerate(ordered) if c.pk == label_class.pk), None)
    if index is None:
        raise Conflict("That label class was removed.")
    target = max(0, min(len(ordered) - 1, index + offset))
    ordered.insert(target, ordered.pop(index))
    label_classes_renumber(project=project, ordered=ordered)
# --- datastores and datasets ---------------------------------------------------------------------

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
        check(storage.local_root, data.get("local_path", ""), "local_path")
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
    return datastore


@sensitive_variables("secret")
@transaction.atomic
def datastore_create(*, workspace: Workspace, actor, name: str, kind: str, endpoint: str = "", container: str = "",
                     local_path: str = "", region: str = "", auth_type: str = Datastore.Auth.NONE,
                     access_key_id: str = "", secret: str = "") -> Datastore:
    """A datastore of the workspace (Django admin and the API); the secret is stored encrypted, never returned."""
    _check_project_perm(actor, workspace, "projects.add_datastore")
    values = {"name": name, "kind": kind, "endpoint": endpoint, "container": container, "local_path": local_path,
              "region": region, "auth_type": auth_type, "access_key_id": access_key_id}
    return _datastore_save(Datastore(workspace=workspace, created_by=actor), values=values, secret=secret, current=None)


@sensitive_variables("secret")
@transaction.atomic
def datastore_update(*, datastore: Datastore, actor, workspace: Workspace | None = None, secret: str = "",
                     **changes) -> Datastore:
    """Change the given settings (DATASTORE_SETTINGS; the others stay) and, unless `secret` is blank, the secret.
    `workspace` moves the datastore to another workspace (Django admin offers that)."""
    unknown = set(changes) - set(DATASTORE_SETTINGS)
    if unknown:
        raise TypeError(f"datastore_update() got unknown settings: {', '.join(sorted(unknown))}")
    stored = Datastore.objects.select_for_update().get(pk=datastore.pk)
    _check_project_perm(actor, stored.workspace, "projects.change_datastore")
    if workspace is not None and workspace.pk != stored.workspace_id:
        _check_project_perm(actor, workspace, "projects.add_datastore")
        stored.workspace = workspace
    values = {field: getattr(stored, field) for field in DATASTORE_SETTINGS} | changes
    return _datastore_save(stored, values=values, secret=secret, current=stored)


def dataset_path_clean(path: str) -> str:
    """A datastore folder as `a/b` (no empty or `.` parts); ValidationError on `..`."""
    parts = [p for p in (path or "").replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ValidationError({"path": "The path may not contain '..'."})
    return "/".join(parts)


@transaction.atomic
def dataset_create(*, workspace, name: str, description: str = "", datastore, path: str,
                   include_subfolders: bool = True, actor=None):
    """A dataset on a folder of a datastore of the same workspace; its scan starts after commit."""
    if datastore.workspace_id != workspace.pk:
        raise ValidationError({"datastore": "Choose a datastore of this workspace."})
    taken = {"name": "A dataset with this name already exists in the workspace."}
    if Dataset.objects.filter(workspace=workspace, name__iexact=name).exists():
        raise ValidationError(taken)
    path = dataset_path_clean(path)
    with name_unique("uniq_dataset_name", taken):
        dataset = Dataset.objects.create(
            workspace=workspace, name=name, description=description, datastore=datastore,
            path=path, include_subfolders=include_subfolders, created_by=actor,
        )
    dataset_scan(dataset=dataset, actor=actor)
    return dataset


def dataset_scan(*, dataset, actor=None) -> None:
    """(Re)scan the whole path in the background; the page shows progress."""
    Dataset.objects.filter(pk=dataset.pk).exclude(scan_state=Dataset.ScanState.SCANNING).update(
        scan_state=Dataset.ScanState.PENDING
    )
    transaction.on_commit(lambda: dataset_scan_task.delay(dataset.pk))


def dataset_refresh(*, dataset, actor=None) -> None:
    """Add the files that appeared since the last scan, in the background ("Refresh now")."""
    transaction.on_commit(lambda: dataset_refresh_task.delay(dataset.pk))


class InUse(Conflict):
    """The object cannot be deleted: something still uses it (the message names what)."""


def _names(queryset, limit: int = 5) -> str:
    names = list(queryset.order_by("name").values_list("name", flat=True)[:limit + 1])
    shown = ", ".join(f"“{name}”" for name in names[:limit])
    return shown + (f" and {queryset.count() - limit} more" if len(names) > limit else "")


def datastore_delete_check(*, datastore) -> None:
    """Raise InUse when deleting the datastore would be refused (asked before confirming; the delete asks again)."""
    if datastore.datasets.exists():
        raise InUse(f"Datastore “{datastore.name}” is used by the datasets {_names(datastore.datasets.all())}; "
                    "delete them first.")


@transaction.atomic
def datastore_delete(*, datastore, actor) -> None:
    """Delete a datastore (and its stored secret) that no dataset uses."""
    _check_project_perm(actor, datastore.workspace, "projects.delete_datastore")
    locked = Datastore.objects.select_for_update().get(pk=datastore.pk)
    datastore_delete_check(datastore=locked)
    locked.delete()


def dataset_delete_check(*, dataset) -> None:
    """Raise InUse when deleting the dataset would be refused (asked before confirming; the delete asks again)."""
    if dataset.projects.exists():
        raise InUse(f"Dataset “{dataset.name}” is used by the projects {_names(dataset.projects.all())}, "
                    "which keep their dataset even when archived.")
    if Dataset.objects.filter(pk=dataset.pk, busy_until__gt=Now()).exists():  # the lease runs on the database's clock
        raise InUse(f"Dataset “{dataset.name}” is being scanned or refreshed; delete it when that has finished.")


ITEM_DELETE_BATCH = 5000


@transaction.atomic
def dataset_delete(*, dataset, actor) -> None:
    """Delete a dataset that no project uses, with its items; their thumbnails are removed in the background.

    Projects are archived, never deleted, so a dataset stays as long as any project (even an archived one) uses it.
    """
    _check_project_perm(actor, dataset.workspace, "projects.delete_dataset")
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


# --- workspaces and organizations ----------------------------------------------------------------
# Only empty ones go: labeled data is never one click away from deletion. A project keeps its dataset and a
# dataset its datastore, so emptying a workspace means deleting its datasets and datastores; one with projects
# (archived ones too) stays, as projects are never deleted.

def _not_empty(workspaces):
    """The workspaces among `workspaces` that still hold a project, a dataset or a datastore."""
    def held(model):
        return Exists(model.objects.filter(workspace=OuterRef("pk")))

    return workspaces.filter(held(LabelingProject) | held(Dataset) | held(Datastore))


def workspace_delete_check(*, workspace) -> None:
    """Raise InUse unless the workspace is empty (asked before confirming; the delete asks again)."""
    left = [f"the {kind} {names}" for kind, names in (
        ("projects", _names(workspace.projects.all())),
        ("datasets", _names(workspace.datasets.all())),
        ("datastores", _names(workspace.datastores.all())),
    ) if names]
    if left:
        raise InUse(f"Workspace “{workspace.name}” still holds {'; '.join(left)}. Only a workspace without projects "
                    "(archived ones included), datasets and datastores can be deleted.")


@transaction.atomic
def workspace_delete(*, workspace, actor) -> None:
    """Delete an empty workspace with its roles and invitations; the people keep their accounts."""
    if not (actor.is_active and actor.is_superuser) and not OrganizationMember.objects.admins().filter(
        organization_id=workspace.organization_id, user=actor
    ).exists():
        raise Refused("Only organization admins delete workspaces.")
    # Rows created meanwhile point at the locked workspace: their foreign key check waits for us, then fails.
    locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
    workspace_delete_check(workspace=locked)
    locked.delete()


def organization_delete_check(*, organization) -> None:
    """Raise InUse while any of the organization's workspaces is not empty."""
    names = _names(_not_empty(organization.workspaces.all()))
    if names:
        raise InUse(f"Organization “{organization.name}” has workspaces that are not empty: {names}. Only an "
                    "organization whose workspaces hold no projects, datasets or datastores can be deleted.")


@transaction.atomic
def organization_delete(*, organization, actor) -> None:
    """Delete an organization whose workspaces are all empty, with them, its members' roles and invitations."""
    if not (actor.is_active and actor.is_superuser):
        raise Refused("Only superusers delete organizations.")
    # As in workspace_delete: a workspace, dataset, datastore or project created meanwhile waits, then fails.
    locked = Organization.objects.select_for_update().get(pk=organization.pk)
    list(Workspace.objects.select_for_update().filter(organization=locked).values_list("pk", flat=True))
    organization_delete_check(organization=locked)
    locked.delete()
