"""The only door to tenant data: who may see which workspace, and what they may do there.

Views resolve an `Access` once per request from the URL's organization and workspace slugs.
Anything outside the caller's workspaces answers 404, exactly like something that does not exist;
a member without the needed permission gets 403.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404

from django.db.models import Exists, OuterRef

from labelsite.backends import workspace_perms_load
from projects.models import Membership, Organization, OrganizationMember, Workspace


@dataclass
class Access:
    user: object
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


def resolve_access(request, org_slug: str, ws_slug: str) -> Access:
    """Build the request's Access, or 404 if the user is not in that workspace.

    Two queries for a member (membership with workspace, organization, role and the org-admin flag;
    then the role's permissions), which also answer `user.has_perm(perm, obj)` for the rest of the request.
    """
    user = request.user
    admins = OrganizationMember.objects.filter(user=user, organization=OuterRef("workspace__organization"), is_admin=True)
    membership = (
        Membership.objects.select_related("workspace__organization", "group")
        .filter(user=user, workspace__slug=ws_slug, workspace__organization__slug=org_slug)
        .annotate(by_org_admin=Exists(admins))
        .first()
    )
    if membership is not None:
        workspace, is_org_admin = membership.workspace, membership.by_org_admin
    else:  # organization admins see every workspace of their organization, member or not
        workspace = (
            Workspace.objects.select_related("organization")
            .filter(organization__slug=org_slug, slug=ws_slug,
                    organization__members__user=user, organization__members__is_admin=True)
            .first()
        )
        if workspace is None:
            raise Http404("No such workspace.")
        is_org_admin = True
    perms = workspace_perms_load(user, workspace, group_id=None if is_org_admin else membership.group_id)
    return Access(user, workspace.organization, workspace, membership, is_org_admin, perms)


def organization_admin_or_404(user, org_slug: str) -> Organization:
    """The organization, if the user administers it; 404 otherwise."""
    if not user.is_authenticated:
        raise Http404
    return get_object_or_404(
        Organization, slug=org_slug, members__user=user, members__is_admin=True
    )


def workspace_view(perm: str | None = None):
    """Decorate `view(request, access, **kwargs)` routed with `org` and `ws` URL kwargs.

    Anonymous users go to login (htmx requests get HX-Redirect via middleware); outsiders get 404;
    members lacking `perm` get 403.
    """

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, org: str, ws: str, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            access = resolve_access(request, org, ws)
            if perm:
                access.require(perm)
            request.access = access
            return view(request, access, **kwargs)

        return wrapper

    return decorator


def project_or_404(access: Access, project_uuid, *, related=("dataset",)):
    """A labeling project of the request's workspace, looked up through it (foreign uuid → 404)."""
    from projects.models import LabelingProject

    return get_object_or_404(
        LabelingProject.objects.for_workspace(access.workspace).select_related(*related), uuid=project_uuid
    )


def label_class_or_404(project, label_uuid):
    """A label class of that project (and so of the same workspace), or 404."""
    from projects.models import LabelClass

    return get_object_or_404(LabelClass.objects.filter(project=project), uuid=label_uuid)
