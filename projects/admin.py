"""Django admin, scoped by tenant: organization admins see and change only their own organizations."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied

from projects.models import Invitation, Membership, Organization, OrganizationMember, Workspace
from projects.roles import ROLE_NAMES

User = get_user_model()


def admin_organizations(user):
    return Organization.objects.filter(members__user=user, members__is_admin=True)


class OrganizationScopedAdmin(admin.ModelAdmin):
    """Rows reach their organization through `org_path`; non-superusers see only organizations they administer."""

    org_path = "organization"

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.org_path}__in": admin_organizations(request.user)})

    def _owns(self, request, obj) -> bool:
        if obj is None or request.user.is_superuser:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._owns(request, obj)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._owns(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            orgs = admin_organizations(request.user)
            if db_field.name == "organization":
                kwargs["queryset"] = orgs
            elif db_field.name == "workspace":
                kwargs["queryset"] = Workspace.objects.filter(organization__in=orgs)
            elif db_field.name == "user":
                kwargs["queryset"] = User.objects.filter(organization_memberships__organization__in=orgs).distinct()
        if db_field.name == "group":
            kwargs["queryset"] = Group.objects.filter(name__in=ROLE_NAMES)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        # Defence in depth: the scoped form choices already keep foreign rows out.
        if not request.user.is_superuser:
            org_id = obj
            for part in self.org_path.split("__"):
                org_id = getattr(org_id, part)
            if not admin_organizations(request.user).filter(pk=org_id.pk).exists():
                raise PermissionDenied
        super().save_model(request, obj, form, change)


@admin.register(Organization)
class OrganizationAdmin(OrganizationScopedAdmin):
    org_path = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        queryset = admin.ModelAdmin.get_queryset(self, request)
        return queryset if request.user.is_superuser else queryset.filter(pk__in=admin_organizations(request.user))

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and not (change and self._owns(request, obj)):
            raise PermissionDenied
        admin.ModelAdmin.save_model(self, request, obj, form, change)


@admin.register(OrganizationMember)
class OrganizationMemberAdmin(OrganizationScopedAdmin):
    list_display = ["user", "organization", "is_admin", "created_at"]
    list_filter = ["is_admin"]
    search_fields = ["user__username", "user__email"]


@admin.register(Workspace)
class WorkspaceAdmin(OrganizationScopedAdmin):
    list_display = ["name", "organization", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Membership)
class MembershipAdmin(OrganizationScopedAdmin):
    org_path = "workspace__organization"
    list_display = ["user", "workspace", "group", "created_at"]
    list_filter = ["group"]
    search_fields = ["user__username", "user__email", "workspace__name"]

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser and not OrganizationMember.objects.filter(
            organization=obj.workspace.organization, user=obj.user
        ).exists():
            raise PermissionDenied("Only members of the organization can hold a role in its workspaces.")
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)


@admin.register(Invitation)
class InvitationAdmin(OrganizationScopedAdmin):
    org_path = "workspace__organization"
    list_display = ["email", "workspace", "group", "created_at", "accepted_at", "revoked_at"]
    readonly_fields = ["invited_by", "accepted_at", "accepted_by"]

    def has_add_permission(self, request):
        # Invitations are sent from the Members page, which emails the signed link.
        return False
