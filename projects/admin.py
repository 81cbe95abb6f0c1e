"""Django admin, scoped by tenant: organization admins see and change only their own organizations."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import actions as admin_actions
from django.contrib.admin.utils import model_ngettext, quote, unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.urls import path as url_path
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.formats import date_format, number_format
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_post_parameters

from projects import guards
from projects.datastores import services as datastore_services
from projects.datastores import storage as ds
from projects.datastores.paths import path_child, path_clean, path_parent
from projects.models import (
    DataItem,
    Dataset,
    Datastore,
    Invitation,
    Membership,
    Organization,
    OrganizationMember,
    Workspace,
)
from projects.tenancy import services as tenancy_services
from projects.tenancy.roles import ROLE_NAMES

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


class ServiceDeleteAdmin(OrganizationScopedAdmin):
    """Deletes go through the delete service, as in the API: a refusal (guards.InUse) becomes an error
    message and deletes nothing; the confirmation counts related rows instead of listing them.

    Subclasses give `delete_check(obj)` (raises InUse), `delete_model` (calls the service) and optionally
    `deleted_with`: what goes with each object, counted on the confirmation page."""

    actions = ["delete_selected"]
    # (rows, field naming the deleted object, summary name, line for one, line for n with {n}).
    deleted_with: list[tuple] = []

    def deleted_related(self, objs) -> tuple[dict, dict]:
        """({pk: [lines under that object]}, {summary name: count}) for the rows deleted with `objs`: one
        COUNT … GROUP BY per kind of row, never the rows themselves (a dataset may hold a million images)."""
        lines: dict[object, list[str]] = {}
        totals: dict[str, str] = {}
        for rows, field, name, one, many in self.deleted_with:
            counts = dict(
                rows.filter(**{f"{field}__in": [obj.pk for obj in objs]})
                .order_by()
                .values(field)
                .annotate(n=Count("pk"))
                .values_list(field, "n")
            )
            for pk, n in counts.items():
                lines.setdefault(pk, []).append(ngettext(one, many, n).format(n=number_format(n, force_grouping=True)))
            if counts:
                totals[name] = number_format(sum(counts.values()), force_grouping=True)
        return lines, totals

    def delete_check(self, obj) -> None:
        """Raise guards.InUse when `obj` must stay (each subclass says when)."""
        raise NotImplementedError

    def _change_url(self, obj) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_change",
            args=[quote(obj.pk)],
            current_app=self.admin_site.name,
        )

    def get_deleted_objects(self, objs, request):
        # Django's version lists every related row: a million lines (and as much memory) for a big dataset.
        objs = list(objs)
        related, counts = self.deleted_related(objs)
        lines = []
        for obj in objs:
            name = capfirst(self.opts.verbose_name)
            lines.append(format_html('{}: <a href="{}">{}</a>', name, self._change_url(obj), obj))
            if related.get(obj.pk):
                lines.append(related[obj.pk])
        model_count = {self.opts.verbose_name_plural: len(objs), **counts}
        return lines, model_count, set(), []

    def _refused(self, request, refusal: guards.InUse) -> None:
        self.message_user(request, refusal.messages[0], messages.ERROR)

    def delete_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        try:
            if obj is not None and request.method == "GET" and self.has_delete_permission(request, obj):
                self.delete_check(obj)  # say so now rather than after "Yes, I'm sure"
            return super().delete_view(request, object_id, extra_context)
        except guards.InUse as refusal:
            # Raised out of Django's transaction: the deletion's log entry is rolled back too.
            self._refused(request, refusal)
            return HttpResponseRedirect(self._change_url(obj))

    @admin.action(description=gettext_lazy("Delete selected %(verbose_name_plural)s"), permissions=["delete"])
    def delete_selected(self, request, queryset):
        """Django's action, one service call per object: refused objects stay, each with its reason."""
        if not request.POST.get("post"):
            # Before confirming: name the refused ones now and ask only about the others.
            deletable = []
            for obj in queryset:
                try:
                    self.delete_check(obj)
                    deletable.append(obj.pk)
                except guards.InUse as refusal:
                    self._refused(request, refusal)
            if not deletable:
                return None
            return admin_actions.delete_selected(self, request, queryset.filter(pk__in=deletable))
        deleted = 0
        for obj in queryset:
            try:
                with transaction.atomic():
                    self.log_deletions(request, [obj])  # type: ignore[arg-type]  # it only iterates over them
                    self.delete_model(request, obj)
                deleted += 1
            except guards.InUse as refusal:
                self._refused(request, refusal)
        if deleted:
            self.message_user(
                request,
                _("Successfully deleted %(count)d %(items)s.")
                % {"count": deleted, "items": model_ngettext(self.opts, deleted)},
                messages.SUCCESS,
            )
        return None


@admin.register(Organization)
class OrganizationAdmin(ServiceDeleteAdmin):
    org_path = "pk"
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    deleted_with = [
        (Workspace.objects.all(), "organization", "workspaces", "{n} empty workspace", "{n} empty workspaces"),
        (
            Membership.objects.all(),
            "workspace__organization",
            "memberships",
            "{n} membership in them",
            "{n} memberships in them",
        ),
        (Invitation.objects.all(), "workspace__organization", "invitations", "{n} invitation", "{n} invitations"),
        (
            OrganizationMember.objects.all(),
            "organization",
            "organization members",
            "{n} organization member (the account stays)",
            "{n} organization members (their accounts stay)",
        ),
    ]

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

    def delete_check(self, obj):
        tenancy_services.organization_delete_check(organization=obj)

    def delete_model(self, request, obj):
        tenancy_services.organization_delete(organization=obj, actor=request.user)


@admin.register(OrganizationMember)
class OrganizationMemberAdmin(OrganizationScopedAdmin):
    list_display = ["user", "organization", "is_admin", "created_at"]
    list_filter = ["is_admin"]
    search_fields = ["user__username", "user__email"]


@admin.register(Workspace)
class WorkspaceAdmin(ServiceDeleteAdmin):
    list_display = ["name", "organization", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    deleted_with = [
        (
            Membership.objects.all(),
            "workspace",
            "memberships",
            "{n} membership (the person keeps their account)",
            "{n} memberships (the people keep their accounts)",
        ),
        (Invitation.objects.all(), "workspace", "invitations", "{n} invitation", "{n} invitations"),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("organization")  # its name is in the workspace's

    def delete_check(self, obj):
        tenancy_services.workspace_delete_check(workspace=obj)

    def delete_model(self, request, obj):
        tenancy_services.workspace_delete(workspace=obj, actor=request.user)


@admin.register(Membership)
class MembershipAdmin(OrganizationScopedAdmin):
    org_path = "workspace__organization"
    fields = ["workspace", "user", "group", "created_by"]
    list_display = ["user", "workspace", "group", "created_at"]
    list_filter = ["group"]
    search_fields = ["user__username", "user__email", "workspace__name"]

    def save_model(self, request, obj, form, change):
        if (
            not request.user.is_superuser
            and not OrganizationMember.objects.filter(organization=obj.workspace.organization, user=obj.user).exists()
        ):
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


# --- datastores and datasets ---------------------------------------------------------------------


class DatastoreAdminForm(forms.ModelForm):
    """The secret is write-only: never rendered back; blank keeps the stored one."""

    secret = forms.CharField(
        label="Secret (SAS token, account key or secret access key)",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = Datastore
        fields = [
            "workspace",
            "name",
            "kind",
            "endpoint",
            "container",
            "local_path",
            "region",
            "auth_type",
            "access_key_id",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Admin renders help texts as HTML: spell the placeholder so it shows.
        self.fields[
            "endpoint"
        ].help_text = (
            "Azure: https://ACCOUNT.blob.core.windows.net — S3: leave blank for AWS, or give the endpoint URL."
        )
        changed = self.instance.secret_changed_at if self.instance.pk else None
        if changed:
            self.fields[
                "secret"
            ].help_text = f"Set, last changed {date_format(changed, 'DATETIME_FORMAT')}. Leave blank to keep it; type a new value to replace it."
        else:
            self.fields["secret"].help_text = "Not set. Local folders need none."

    def clean(self):
        """The datastore services' rules, shown beside the fields (the services check again when saving)."""
        super().clean()
        data = self.cleaned_data
        values = {field: data[field] for field in datastore_services.DATASTORE_SETTINGS if field in data}
        try:
            data.update(
                datastore_services.datastore_settings_clean(
                    values=values,
                    secret=data.get("secret", ""),
                    current=self.instance if self.instance.pk else None,
                )
            )
        except ValidationError as error:
            self.add_error(None, error)
        return data


@admin.register(Datastore)
class DatastoreAdmin(ServiceDeleteAdmin):
    org_path = "workspace__organization"
    form = DatastoreAdminForm
    list_display = ["name", "workspace", "kind", "container", "auth_type", "secret_state", "created_at"]
    list_filter = ["kind"]
    search_fields = ["name", "container"]
    readonly_fields = ["browse_link"]
    actions = ["delete_selected", "test_connection"]

    class Media:
        js = ["labelsite/datastore-admin.js"]

    fieldsets = [
        (None, {"fields": ["workspace", "name", "kind"]}),
        ("Where", {"fields": ["endpoint", "container", "region", "local_path"]}),
        ("Authentication", {"fields": ["auth_type", "access_key_id", "secret"]}),
        ("Folders", {"fields": ["browse_link"]}),
    ]

    @admin.display(description="secret")
    def secret_state(self, obj):
        if obj is None or not obj.secret_encrypted:
            return "not set"
        return (
            f"set, last changed {date_format(obj.secret_changed_at, 'DATETIME_FORMAT')}"
            if obj.secret_changed_at
            else "set"
        )

    @admin.display(description="browse")
    def browse_link(self, obj):
        if obj is None or not obj.pk:
            return "Save the datastore first."
        return format_html('<a href="{}">Browse folders</a>', reverse("admin:projects_datastore_browse", args=[obj.pk]))

    @method_decorator(sensitive_post_parameters("secret"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Error reports (e-mails to ADMINS) then never carry the posted secret.
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_form(self, request, form, change):
        # The services save (as for the API): the admin then logs and shows the datastore they saved, so
        # save_model has nothing left to do. form.save(commit=False) still prepares the form's save_m2m.
        form.save(commit=False)
        data = form.cleaned_data
        values = {field: data[field] for field in datastore_services.DATASTORE_SETTINGS}
        if change:
            return datastore_services.datastore_update(
                datastore=form.instance,
                actor=request.user,
                workspace=data["workspace"],
                secret=data.get("secret", ""),
                **values,
            )
        return datastore_services.datastore_create(
            workspace=data["workspace"], actor=request.user, secret=data.get("secret", ""), **values
        )

    def save_model(self, request, obj, form, change):
        """Saved by save_form, through the services."""

    def delete_check(self, obj):
        datastore_services.datastore_delete_check(datastore=obj)

    def delete_model(self, request, obj):
        datastore_services.datastore_delete(datastore=obj, actor=request.user)

    @admin.action(description="Test connection", permissions=["view"])
    def test_connection(self, request, queryset):
        with ds.deadline_scope():  # the page answers within one deadline, however many datastores are selected
            for datastore in queryset:
                self._test_one(request, datastore)

    def _test_one(self, request, datastore):
        if ds.scope_expired():
            seconds = f"{settings.LABELSITE_STORAGE_DEADLINE:g}"
            self.message_user(
                request,
                f"Connection to {datastore.name} was not tested: the page ran out of time "
                f"({seconds} seconds); test it on its own.",
                messages.WARNING,
            )
            return
        try:
            folders, files = ds.datastore_list(datastore, "")
        except ds.DatastoreError as error:
            self.message_user(request, f"Connection to {datastore.name} failed: {error.message_text}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Connection to {datastore.name} works ({len(folders)} folders, {len(files)} files at the top).",
                messages.SUCCESS,
            )

    def get_urls(self):
        return [
            url_path(
                "<path:object_id>/browse/",
                self.admin_site.admin_view(self.browse_view),
                name="projects_datastore_browse",
            ),
            *super().get_urls(),
        ]

    def browse_view(self, request, object_id):
        datastore = self.get_object(request, object_id)
        if datastore is None or not self.has_view_permission(request, datastore):
            raise Http404
        error, folders, n_files, status = "", [], 0, 200
        try:
            path = path_clean(request.GET.get("path", ""), field=None)
        except ValidationError as refused:  # said above the folders of the top
            path, error, status = "", refused.messages[0], 422
        try:
            names, files = ds.datastore_list(datastore, path)
            folders = [(name, path_child(path, name)) for name in names]
            n_files = len(files)
        except ds.DatastoreError as failure:
            error = error or failure.message_text
        create = (
            reverse("admin:projects_dataset_add")
            + "?"
            + urlencode({"workspace": datastore.workspace_id, "datastore": datastore.pk, "path": path})
        )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": datastore,
            "title": f"Browse {datastore.name}",
            "datastore": datastore,
            "path": path,
            "folders": folders,
            "n_files": n_files,
            "error": error,
            "create_url": create,
            "parent": path_parent(path),
        }
        return render(request, "admin/projects/datastore/browse.html", context, status=status)


class DatasetAdminForm(forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["workspace", "name", "description", "datastore", "path", "include_subfolders"]
        help_texts = {
            "path": "A folder of the datastore, e.g. “MultiClass - DogsCats”. Use Browse folders on the datastore to find it."
        }

    def clean(self):
        super().clean()
        data = self.cleaned_data
        if data.get("datastore") and data.get("workspace") and data["datastore"].workspace_id != data["workspace"].pk:
            self.add_error("datastore", "Choose a datastore of the same workspace.")
        return data

    def clean_path(self):
        return path_clean(self.cleaned_data["path"], field=None)


@admin.register(Dataset)
class DatasetAdmin(ServiceDeleteAdmin):
    org_path = "workspace__organization"
    form = DatasetAdminForm
    list_display = ["name", "workspace", "datastore", "path", "scan_state", "scan_registered", "last_refresh_at"]
    list_filter = ["scan_state"]
    search_fields = ["name", "path"]
    readonly_fields = [
        "scan_state",
        "scan_found",
        "scan_registered",
        "scan_skipped",
        "scan_error",
        "last_refresh_at",
        "last_refresh_added",
        "last_refresh_error",
    ]
    actions = ["delete_selected", "scan_again", "refresh_now"]
    deleted_with = [
        (
            DataItem.objects.all(),
            "dataset",
            "images",  # counted over the items' dataset index
            "{n} image, with its thumbnail",
            "{n} images, with their thumbnails",
        )
    ]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "datastore" and not request.user.is_superuser:
            kwargs["queryset"] = Datastore.objects.filter(workspace__organization__in=admin_organizations(request.user))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        obj.created_by = obj.created_by or request.user
        super().save_model(request, obj, form, change)
        if not change or {"path", "include_subfolders", "datastore"} & set(form.changed_data):
            datastore_services.dataset_scan(dataset=obj, actor=request.user)

    def delete_check(self, obj):
        datastore_services.dataset_delete_check(dataset=obj)

    def delete_model(self, request, obj):
        datastore_services.dataset_delete(dataset=obj, actor=request.user)

    @admin.action(description="Scan again", permissions=["change"])
    def scan_again(self, request, queryset):
        for dataset in queryset:
            datastore_services.dataset_scan(dataset=dataset, actor=request.user)
        self.message_user(request, "Scan started.", messages.SUCCESS)

    @admin.action(description="Refresh now (add new files)", permissions=["change"])
    def refresh_now(self, request, queryset):
        for dataset in queryset:
            datastore_services.dataset_refresh(dataset=dataset, actor=request.user)
        self.message_user(request, "Refresh started.", messages.SUCCESS)
