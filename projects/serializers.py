"""API representations of workspaces, members and invitations."""

from typing import cast

from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework import serializers

from core.api import StrictFieldsMixin
from projects.datastores.paths import path_clean
from projects.datastores.scanning import has_image_extension
from projects.models import DataItem, Dataset, Datastore, Invitation, Membership, Notification, Organization, Workspace
from projects.tenancy.roles import ROLE_NAMES


class RoleField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=Group.objects.filter(name__in=ROLE_NAMES), **kwargs)


class WorkspaceSerializer(serializers.ModelSerializer):
    organization: serializers.SlugRelatedField[Organization] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    organization_name = serializers.CharField(source="organization.name", read_only=True)

    class Meta:
        model = Workspace
        fields = ["organization", "organization_name", "slug", "name", "created_at"]


class MembershipSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    username = serializers.CharField(source="user.get_username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    role = RoleField(source="group")

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "created_at"]
        read_only_fields = ["created_at"]


class InvitationSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    role = RoleField(source="group")

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "accepted_at"]
        read_only_fields = ["created_at", "accepted_at"]


class DatastoreSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A datastore; `secret` is write-only (blank keeps the stored one) and never comes back."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    secret = serializers.CharField(
        write_only=True, required=False, allow_blank=True, trim_whitespace=True, style={"input_type": "password"}
    )
    secret_set = serializers.SerializerMethodField()

    class Meta:
        model = Datastore
        fields = [
            "id",
            "name",
            "kind",
            "endpoint",
            "container",
            "local_path",
            "region",
            "auth_type",
            "access_key_id",
            "secret",
            "secret_set",
            "secret_changed_at",
            "created_at",
        ]
        read_only_fields = ["secret_changed_at", "created_at"]

    def get_secret_set(self, datastore) -> bool:
        return bool(datastore.secret_encrypted)


class DatasetSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    """A dataset on a datastore folder, with its scan progress (read-only)."""

    id = serializers.UUIDField(source="uuid", read_only=True)
    datastore = serializers.SlugRelatedField(slug_field="uuid", queryset=Datastore.objects.none())
    refresh_running = serializers.BooleanField(
        read_only=True,
        help_text="A refresh holds the dataset now; refresh_found and refresh_added are its progress so far.",
    )

    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "description",
            "datastore",
            "path",
            "include_subfolders",
            "scan_state",
            "scan_found",
            "scan_registered",
            "scan_skipped",
            "scan_error",
            "scan_started_at",
            "scan_finished_at",
            "last_refresh_at",
            "last_refresh_added",
            "last_refresh_error",
            "refresh_requested_at",
            "refresh_running",
            "refresh_found",
            "refresh_added",
            "created_at",
        ]
        read_only_fields = [
            f for f in fields if f not in ("name", "description", "datastore", "path", "include_subfolders")
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        view = self.context.get("view")
        if view is not None and hasattr(view, "access"):
            # The stubs declare RelatedField.queryset with Manager (a descriptor) in its type, which mypy misreads.
            field = cast(serializers.RelatedField, self.fields["datastore"])
            field.queryset = Datastore.objects.for_workspace(view.access.workspace)  # type: ignore[arg-type]


class DataItemSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    image_url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = DataItem
        fields = [
            "id",
            "key",
            "state",
            "reason",
            "size",
            "width",
            "height",
            "image_format",
            "image_url",
            "thumbnail_url",
        ]
        read_only_fields = fields

    def _media(self, item, name):
        access = self.context["view"].access
        url = reverse(name, kwargs={"org": access.organization.slug, "ws": access.workspace.slug, "item": item.uuid})
        return self.context["request"].build_absolute_uri(url)

    def get_image_url(self, item) -> str | None:
        return self._media(item, "item_image") if item.state == DataItem.State.READY else None

    def get_thumbnail_url(self, item) -> str | None:
        return self._media(item, "item_thumbnail") if item.state == DataItem.State.READY else None


class CheckResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    message = serializers.CharField()


class BrowseQuerySerializer(serializers.Serializer):
    path = serializers.CharField(required=False, default="", allow_blank=True, max_length=1024, trim_whitespace=False)

    def validate_path(self, value: str) -> str:
        return path_clean(value, field=None)  # DRF shows its Invalid as this field's error


class BrowseFolderSerializer(serializers.Serializer):
    name = serializers.CharField()
    path = serializers.CharField(help_text="Browse it with ?path=, or use it as a dataset's path.")


class BrowseFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    key = serializers.CharField(help_text="The object key inside the datastore.")
    image = serializers.SerializerMethodField(help_text="Has an image extension (a scan still checks the content).")

    def get_image(self, entry) -> bool:
        return has_image_extension(entry["name"])


class BrowseSerializer(serializers.Serializer):
    path = serializers.CharField()
    # DRF's metaclass takes declared fields off the class, so `parent` does not shadow Field.parent at run time.
    parent = serializers.CharField(allow_null=True, help_text="The folder above; null at the top.")  # type: ignore[assignment]
    folders = BrowseFolderSerializer(many=True)
    files = BrowseFileSerializer(many=True)
    truncated = serializers.BooleanField(help_text="The listing stopped at `limit` entries.")
    limit = serializers.IntegerField()


class NotificationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    organization: serializers.SlugRelatedField = serializers.SlugRelatedField(
        source="workspace.organization", slug_field="slug", read_only=True
    )
    workspace: serializers.SlugRelatedField = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.SerializerMethodField(help_text="Where the notification leads (a download, a report, a dataset).")
    read = serializers.SerializerMethodField()

    class Meta:
        model = Notification
        fields = ["id", "kind", "message", "url", "organization", "workspace", "created_at", "read", "read_at"]

    def get_url(self, notification) -> str | None:
        return self.context["request"].build_absolute_uri(notification.link) if notification.link else None

    def get_read(self, notification) -> bool:
        return notification.read_at is not None


class NotificationsReadSerializer(StrictFieldsMixin, serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=1000, help_text="The notifications to mark read."
    )
    all = serializers.BooleanField(required=False, default=False, help_text="Mark every unread notification read.")

    def validate(self, data):
        if bool(data.get("ids")) == bool(data["all"]):
            raise serializers.ValidationError("Give either ids or all: true.")
        return data
