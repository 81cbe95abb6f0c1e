"""Answers `user.has_perm(perm, obj)` for anything inside a workspace, from the user's Membership.

Here rather than in core: every answer comes from projects' Membership and OrganizationMember, and the app that
owns those models owns the queries on them (core stays a leaf that knows no app)."""

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils.functional import LazyObject

from projects.models import Membership, OrganizationMember
from projects.tenancy.roles import ALL_WORKSPACE_PERMISSIONS

# Permissions that an organization admin who is staff may use in Django admin (obj=None checks).
ORG_ADMIN_ADMIN_PERMISSIONS = frozenset(
    f"projects.{action}_{model}"
    for model in ("workspace", "membership", "invitation", "datastore", "dataset", "organizationmember")
    for action in ("view", "add", "change", "delete")
)


def workspace_of(obj):
    """Walk from any tenant object to its Workspace (Workspace itself included)."""
    seen = 0
    while obj is not None and seen < 6:
        if obj.__class__.__name__ == "Workspace" and obj._meta.app_label == "projects":
            return obj
        for attr in ("workspace", "project", "dataset", "task"):
            if hasattr(obj, attr):
                obj = getattr(obj, attr)
                break
        else:
            return None
        seen += 1
    return None


def _remember(user, workspace, perms: frozenset) -> frozenset:
    if isinstance(user, LazyObject):  # request.user: remember on the user the backend will be asked about
        user = user._wrapped
    user.__dict__.setdefault("_labelsite_ws_perms", {})[workspace.pk] = perms
    return perms


def _group_permissions(group_id: int) -> list[tuple[str, str]]:
    """(app label, codename) of a role's permissions; hand-written SQL as it runs on every request."""
    q = connection.ops.quote_name
    links = q(Group.permissions.through._meta.db_table)
    perm, ctype = q(Permission._meta.db_table), q(ContentType._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.app_label, p.codename FROM {links} l JOIN {perm} p ON p.id = l.permission_id "
            f"JOIN {ctype} c ON c.id = p.content_type_id WHERE l.group_id = %s",
            [group_id],
        )
        return cursor.fetchall()


def workspace_perms_load(user, workspace, *, group_id) -> frozenset:
    """The user's permissions in `workspace`: every workspace permission for an organization admin
    (group_id None), else those of the role `group_id`; remembered on the user for this request."""
    perms: frozenset[str]
    if not user.is_active:
        perms = frozenset()
    elif group_id is None:
        perms = ALL_WORKSPACE_PERMISSIONS
    else:
        perms = frozenset(f"{app}.{code}" for app, code in _group_permissions(group_id))
    return _remember(user, workspace, perms)


class WorkspacePermissionBackend:
    """Permissions come from the role (auth Group) of the user's Membership in the object's workspace.

    Organization admins hold every workspace permission in every workspace of their organization.
    Results are cached on the user object for one request only, so a revoked role takes effect
    on the very next request.
    """

    def authenticate(self, request, **credentials):
        return None

    def _workspace_perms(self, user, workspace) -> frozenset:
        cache = user.__dict__.get("_labelsite_ws_perms", {})
        if workspace.pk in cache:
            return cache[workspace.pk]
        if OrganizationMember.objects.filter(
            user=user, organization_id=workspace.organization_id, is_admin=True
        ).exists():
            return workspace_perms_load(user, workspace, group_id=None)
        group_id = Membership.objects.filter(user=user, workspace=workspace).values_list("group_id", flat=True).first()
        if group_id is None:
            return _remember(user, workspace, frozenset())
        return workspace_perms_load(user, workspace, group_id=group_id)

    def get_all_permissions(self, user, obj=None):
        if not user.is_active or user.is_anonymous:
            return set()
        if obj is None:
            return set(ORG_ADMIN_ADMIN_PERMISSIONS) if self._is_staff_org_admin(user) else set()
        workspace = workspace_of(obj)
        if workspace is None:
            return set()
        return set(self._workspace_perms(user, workspace))

    def has_perm(self, user, perm, obj=None):
        return perm in self.get_all_permissions(user, obj)

    def has_module_perms(self, user, app_label):
        return app_label == "projects" and self._is_staff_org_admin(user)

    def _is_staff_org_admin(self, user) -> bool:
        if not user.is_staff:
            return False
        cache = user.__dict__
        if "_labelsite_org_admin" not in cache:
            cache["_labelsite_org_admin"] = OrganizationMember.objects.filter(user=user, is_admin=True).exists()
        return cache["_labelsite_org_admin"]
