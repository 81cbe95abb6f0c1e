"""The only door to tenant data: who may see which workspace, and what they may do there.

Views resolve an `Access` once per request from the URL's organization and workspace slugs.
Anything outside the caller's workspaces answers 404, exactly like something that does not exist;
a member without the needed permission gets 403. Views and API modules take their objects from the
`*_or_404` helpers here and query no tenant model themselves (tests/test_lookups.py checks that).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from core.errors import NotFound
from projects.models import (
    DataItem,
    LabelClass,
    LabelingProject,
    Membership,
    Notification,
    Organization,
    OrganizationMember,
    Workspace,
)
from projects.tenancy.backends import workspace_perms_load
from projects.tenancy.roles import ALL_WORKSPACE_PERMISSIONS

if TYPE_CHECKING:
    from django.contrib.auth.models import User  # the model get_user_model() gives (AUTH_USER_MODEL is Django's)

# Archived projects are listed only to those who may change projects (and so could bring them back).
SEE_ARCHIVED = "projects.change_labelingproject"


@dataclass
class Access:
    user: User
    organization: Organization
    workspace: Workspace
    membership: Membership | None
    is_org_admin: bool
    perms: frozenset = field(default_factory=frozenset)

    def can(self, perm: str) -> bool:
        return perm in self.perms

    def require(self, perm: str) -> None:
        if not self.can(perm):
            raise PermissionDenied(f"You need the {perm!r} permission in this workspace.")

    @property
    def role_name(self) -> str:
        if self.is_org_admin:
            return "Organization admin"
        return self.membership.group.name if self.membership else ""

    def can_grant(self, group) -> bool:
        """Nobody grants a role that carries a permission they do not hold themselves."""
        if not self.can("projects.add_membership"):
            return False
        wanted = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        return wanted <= self.perms


def visible_workspaces(user):
    return Workspace.objects.for_user(user).select_related("organization")


def workspaces_where(user, perm: str):
    """The workspaces where `user` holds `perm`, by the permission backend's rule (organization admins hold
    every workspace permission, members what their role carries), as one query for pages spanning workspaces."""
    if not user.is_authenticated or not user.is_active:
        return Workspace.objects.none()
    app_label, codename = perm.split(".")
    by_role = Q(
        memberships__user=user,
        memberships__group__permissions__codename=codename,
        memberships__group__permissions__content_type__app_label=app_label,
    )
    if perm in ALL_WORKSPACE_PERMISSIONS:
        by_role |= Q(organization__members__user=user, organization__members__is_admin=True)
    return Workspace.objects.filter(by_role)


def workspace_projects(access: Access):
    """The projects a member sees listed in the request's workspace."""
    projects = LabelingProject.objects.for_workspace(access.workspace)
    return projects if access.can(SEE_ARCHIVED) else projects.exclude(state=LabelingProject.State.ARCHIVED)


def listed_projects(user, workspaces):
    """The projects of `workspaces` that `user` sees listed: the rule of `workspace_projects`, for many at once."""
    archived_hidden = Q(state=LabelingProject.State.ARCHIVED) & ~Q(workspace__in=workspaces_where(user, SEE_ARCHIVED))
    return LabelingProject.objects.filter(workspace__in=workspaces).exclude(archived_hidden)


def _access_sql() -> str:
    """One statement for the workspace, its organization, the user's membership and role, and whether they
    administer the organization. Hand-written because it runs on every request: the ORM's query building
    cost more than the database did."""
    from django.contrib.auth.models import Group

    q = connection.ops.quote_name
    workspace, org, member, group, admin = (
        q(model._meta.db_table) for model in (Workspace, Organization, Membership, Group, OrganizationMember)
    )
    return (
        f"SELECT w.id, w.name, w.slug, o.id, o.name, o.slug, m.id, m.group_id, g.name, "
        f"EXISTS (SELECT 1 FROM {admin} a WHERE a.organization_id = o.id AND a.user_id = %s AND a.is_admin = %s) "
        f"FROM {workspace} w JOIN {org} o ON o.id = w.organization_id "
        f"LEFT JOIN {member} m ON m.workspace_id = w.id AND m.user_id = %s "
        f"LEFT JOIN {group} g ON g.id = m.group_id "
        f"WHERE o.slug = %s AND w.slug = %s"
    )


def resolve_access(request, org_slug: str, ws_slug: str) -> Access:
    """Build the request's Access, or 404 if the user is not in that workspace.

    Members hold a role there; organization admins see every workspace of their organization.
    Two short queries (the one above, then the role's permissions; none for an org admin), whose
    answer also serves `user.has_perm(perm, obj)` for the rest of the request.
    """
    user = request.user
    with connection.cursor() as cursor:
        cursor.execute(_access_sql(), [user.pk, True, user.pk, org_slug, ws_slug])
        row = cursor.fetchone()
    if row is None:
        raise Http404("No such workspace.")
    ws_id, ws_name, ws_slug, org_id, org_name, org_slug, member_id, group_id, group_name, is_org_admin = row
    is_org_admin = bool(is_org_admin)
    if member_id is None and not is_org_admin:
        raise Http404("No such workspace.")
    db = connection.alias
    organization = Organization.from_db(db, ["id", "name", "slug"], [org_id, org_name, org_slug])
    workspace = Workspace.from_db(db, ["id", "organization_id", "name", "slug"], [ws_id, org_id, ws_name, ws_slug])
    workspace.organization = organization
    membership = None
    if member_id is not None:
        from django.contrib.auth.models import Group

        membership = Membership.from_db(
            db, ["id", "workspace_id", "user_id", "group_id"], [member_id, ws_id, user.pk, group_id]
        )
        membership.workspace, membership.user = workspace, user
        membership.group = Group.from_db(db, ["id", "name"], [group_id, group_name])
    perms = workspace_perms_load(user, workspace, group_id=None if is_org_admin else group_id)
    return Access(user, organization, workspace, membership, is_org_admin, perms)


def organization_admin_or_404(user, org_slug: str) -> Organization:
    """The organization, if the user administers it; 404 otherwise."""
    if not user.is_authenticated:
        raise Http404
    return get_object_or_404(Organization, slug=org_slug, members__user=user, members__is_admin=True)


def workspace_view(perm: str | None = None):
    """Decorate `view(request, access, **kwargs)` routed with `org` and `ws` URL kwargs.

    Anonymous users go to login (htmx requests get HX-Redirect via middleware); outsiders get 404;
    members lacking `perm` get 403. It is also where the services' domain errors that a page view lets
    through become pages: NotFound is the 404 page, Refused (a PermissionDenied) the 403 page. Where a person
    acts, conflicts, refusals and invalid input are part of the screen instead: `core.htmx.shows_failures`.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, org: str, ws: str, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = resolve_access(request, org, ws)
            request.access = access  # before the check: the 403 page leads back to this workspace
            if perm:
                access.require(perm)
            try:
                return view(request, access, **kwargs)
            except NotFound as error:
                raise Http404(error.message) from error

        return wrapper

    return decorator


def workspace_object_or_404(access: Access, model, *, related=(), **lookup):
    """An object of a tenant model (one whose manager has `for_workspace`), looked up through the request's
    workspace: a foreign one answers 404 like a missing one. `related`: relations to join in the same query."""
    objects = model.objects.for_workspace(access.workspace)
    return get_object_or_404(objects.select_related(*related) if related else objects, **lookup)


def project_or_404(access: Access, project_uuid, *, related=("dataset",)):
    """A labeling project of the request's workspace, looked up through it (foreign uuid → 404)."""
    return workspace_object_or_404(access, LabelingProject, related=related, uuid=project_uuid)


def label_class_or_404(project, label_uuid):
    """A label class of that project (and so of the same workspace), or 404."""
    return get_object_or_404(LabelClass.objects.filter(project=project), uuid=label_uuid)


def item_or_404(access: Access, item_uuid, *, seen_without_browsing=None):
    """A data item of the request's workspace, if the user may see its image, else 404 like a missing one.

    Dataset browsers (`projects.view_dataset`) see every item of the workspace's datasets; anyone else only
    the items the filter `seen_without_browsing` admits (a later app's rule, e.g. labeling's tasks; None: none).
    One query: the item by its unique uuid with the rule in the same statement.
    """
    items = DataItem.objects.for_workspace(access.workspace).select_related("dataset__datastore")
    if not access.can("projects.view_dataset"):
        items = items.filter(seen_without_browsing) if seen_without_browsing is not None else items.none()
    return get_object_or_404(items, uuid=item_uuid)


def notification_or_404(user, uuid):
    """The user's own notification, while they may still see it (see `Notification.objects.for_user`); else 404."""
    found = Notification.objects.for_user(user).filter(uuid=uuid).first()
    if found is None:
        raise Http404("No such notification.")
    return found
