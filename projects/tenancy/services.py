"""Writes to tenancy data: sign-up, organizations, workspaces, invitations, roles and API tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from core.errors import Refused
from projects.guards import InUse, names_listed
from projects.models import (
    ApiToken,
    Dataset,
    Datastore,
    Invitation,
    LabelingProject,
    Membership,
    Organization,
    OrganizationMember,
    Workspace,
)
from projects.tenancy.access import Access
from projects.tenancy.api_auth import TOKEN_PREFIX, token_hash
from projects.tenancy.roles import WORKSPACE_ADMIN

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # the model get_user_model() gives (AUTH_USER_MODEL is Django's)
else:
    User = get_user_model()
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
    user = User.objects.create_user(
        username=username, email=email, password=password, is_staff=settings.LABELSITE_SIGNUP_ADMIN_ACCESS
    )
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
        raise ValidationError("This invitation has expired. Ask for a new one.") from None
    except signing.BadSignature:
        raise ValidationError("This invitation link is not valid.") from None
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
        workspace=invitation.workspace,
        user=user,
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
        raise ValidationError("That username is taken.") from None
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
    left = [
        f"the {kind} {names}"
        for kind, names in (
            ("projects", names_listed(workspace.projects.all())),
            ("datasets", names_listed(workspace.datasets.all())),
            ("datastores", names_listed(workspace.datastores.all())),
        )
        if names
    ]
    if left:
        raise InUse(
            f"Workspace “{workspace.name}” still holds {'; '.join(left)}. Only a workspace without projects "
            "(archived ones included), datasets and datastores can be deleted."
        )


@transaction.atomic
def workspace_delete(*, workspace, actor) -> None:
    """Delete an empty workspace with its roles and invitations; the people keep their accounts."""
    if (
        not (actor.is_active and actor.is_superuser)
        and not OrganizationMember.objects.admins()
        .filter(organization_id=workspace.organization_id, user=actor)
        .exists()
    ):
        raise Refused("Only organization admins delete workspaces.")
    # Rows created meanwhile point at the locked workspace: their foreign key check waits for us, then fails.
    locked = Workspace.objects.select_for_update().get(pk=workspace.pk)
    workspace_delete_check(workspace=locked)
    locked.delete()


def organization_delete_check(*, organization) -> None:
    """Raise InUse while any of the organization's workspaces is not empty."""
    names = names_listed(_not_empty(organization.workspaces.all()))
    if names:
        raise InUse(
            f"Organization “{organization.name}” has workspaces that are not empty: {names}. Only an "
            "organization whose workspaces hold no projects, datasets or datastores can be deleted."
        )


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
