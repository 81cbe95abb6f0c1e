"""API endpoints for the caller's workspaces, members and invitations."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from projects.api_base import WorkspaceAPIMixin
from projects.datastores import services as datastore_services
from projects.datastores import storage
from projects.datastores.paths import path_child, path_parent
from projects.models import DataItem, Dataset, Datastore, Invitation, Membership
from projects.serializers import (
    BrowseQuerySerializer,
    BrowseSerializer,
    CheckResultSerializer,
    DataItemSerializer,
    DatasetSerializer,
    DatastoreSerializer,
    InvitationSerializer,
    MembershipSerializer,
    NotificationSerializer,
    NotificationsReadSerializer,
    WorkspaceSerializer,
)
from projects.tenancy import notifications
from projects.tenancy import services as tenancy_services
from projects.tenancy.access import visible_workspaces


class DatastoreUnavailable(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_code = "datastore_error"
    default_detail = "The datastore cannot be reached."


def _delete(service, **kwargs) -> Response:
    """Run a delete service (guards.InUse, a conflict, answers 409 when something still uses the object)."""
    service(**kwargs)
    return Response(status=status.HTTP_204_NO_CONTENT)


_PATH = OpenApiParameter("path", str, description="A folder of the datastore, e.g. `pets/cats`; empty for the top.")


class WorkspaceList(generics.ListAPIView):
    """Workspaces the caller can see, across organizations."""

    serializer_class = WorkspaceSerializer

    def get_queryset(self):
        return visible_workspaces(self.request.user).order_by("organization__slug", "slug")


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The caller's own notifications (export ready, import finished, scan failed), newest first; `?unread=true`
    lists only unread ones. Notifications of workspaces the caller can no longer follow them in are not shown."""

    serializer_class = NotificationSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "notification"
    lookup_value_converter = "uuid"

    def get_queryset(self):
        unread = self.request.query_params.get("unread", "").lower() in ("1", "true", "yes")
        return notifications.notifications_list(user=self.request.user, unread_only=unread)

    @extend_schema(parameters=[OpenApiParameter("unread", bool, description="Only unread notifications.")])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"])
    def read(self, request, *args, **kwargs):
        found = self.get_object()
        notifications.notifications_mark_read(user=request.user, uuids=[found.uuid])
        found.refresh_from_db()
        return Response(self.get_serializer(found).data)

    @extend_schema(
        request=NotificationsReadSerializer,
        operation_id="v1_notifications_read_many",
        responses={200: OpenApiResponse(description='{"marked": <how many became read>}')},
    )
    @action(detail=False, methods=["post"], url_path="read")
    def read_many(self, request, *args, **kwargs):
        body = NotificationsReadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        uuids = None if body.validated_data["all"] else body.validated_data["ids"]
        return Response({"marked": notifications.notifications_mark_read(user=request.user, uuids=uuids)})


class MembershipViewSet(
    WorkspaceAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Members of a workspace and their roles (workspace admins)."""

    serializer_class = MembershipSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "member"
    lookup_value_converter = "uuid"
    http_method_names = ["get", "patch", "delete", "head", "options"]
    required_perms = {
        "GET": "projects.view_membership",
        "PATCH": "projects.change_membership",
        "DELETE": "projects.delete_membership",
    }

    def get_queryset(self):
        return (
            Membership.objects.for_workspace(self.access.workspace)
            .select_related("user", "group")
            .order_by("user__username")
        )

    def perform_update(self, serializer):
        tenancy_services.membership_set_role(
            access=self.access, membership=serializer.instance, group=serializer.validated_data["group"]
        )

    def perform_destroy(self, instance):
        tenancy_services.membership_revoke(access=self.access, membership=instance)


class InvitationViewSet(
    WorkspaceAPIMixin, mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Open invitations; creating one emails a signed, expiring link."""

    serializer_class = InvitationSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "invitation"
    lookup_value_converter = "uuid"
    required_perms = {
        "GET": "projects.view_invitation",
        "POST": "projects.add_invitation",
        "DELETE": "projects.delete_invitation",
    }

    def get_queryset(self):
        return (
            Invitation.objects.for_workspace(self.access.workspace)
            .filter(accepted_at=None, revoked_at=None)
            .select_related("group")
        )

    @extend_schema(responses={201: InvitationSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = tenancy_services.invitation_create(
            access=self.access,
            email=serializer.validated_data["email"],
            group=serializer.validated_data["group"],
            request=request,
        )
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        tenancy_services.invitation_revoke(access=self.access, invitation=instance)


class DatastoreViewSet(
    WorkspaceAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Datastores of the workspace; the secret is write-only and never returned (only `secret_set`).
    Actions: test (the connection), browse (its folders); DELETE refuses (409) while datasets use it."""

    serializer_class = DatastoreSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "datastore"
    lookup_value_converter = "uuid"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    required_perms = {
        "GET": "projects.view_datastore",
        "POST": "projects.add_datastore",
        "PATCH": "projects.change_datastore",
        "DELETE": "projects.delete_datastore",
    }

    def initial(self, request, *args, **kwargs):
        if self.action == "test":
            self.required_perms = {"POST": "projects.view_datastore"}
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        return Datastore.objects.for_workspace(self.access.workspace).order_by("name", "id")

    def perform_create(self, serializer):
        serializer.instance = datastore_services.datastore_create(
            workspace=self.access.workspace, actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer):
        serializer.instance = datastore_services.datastore_update(
            datastore=serializer.instance, actor=self.request.user, **serializer.validated_data
        )

    @extend_schema(request=None, responses=CheckResultSerializer)
    @action(detail=True, methods=["post"])
    def test(self, request, *args, **kwargs):
        try:
            storage.datastore_check(self.get_object())
        except storage.DatastoreError as error:
            return Response({"ok": False, "message": error.message_text})
        return Response({"ok": True, "message": "Connection works."})

    @extend_schema(
        parameters=[_PATH],
        responses={
            200: BrowseSerializer,
            502: OpenApiResponse(description="The datastore could not be listed; `message` says why."),
        },
    )
    @action(detail=True, methods=["get"])
    def browse(self, request, *args, **kwargs):
        """The sub-folders and files directly in one folder, as Browse folders shows them (capped at `limit`)."""
        datastore = self.get_object()
        query = BrowseQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        path = query.validated_data["path"]
        try:
            folders, files = storage.datastore_list(datastore, path)
        except storage.DatastoreError as error:
            raise DatastoreUnavailable(error.message_text) from None
        return Response(
            BrowseSerializer(
                {
                    "path": path,
                    "parent": path_parent(path),
                    "folders": [{"name": name, "path": path_child(path, name)} for name in folders],
                    "files": [{"name": name, "key": path_child(path, name)} for name in files],
                    "truncated": len(folders) + len(files) >= storage.BROWSE_LIMIT,
                    "limit": storage.BROWSE_LIMIT,
                }
            ).data
        )

    @extend_schema(
        responses={204: None, 409: OpenApiResponse(description="Datasets still use it; the message names them.")}
    )
    def destroy(self, request, *args, **kwargs):
        return _delete(datastore_services.datastore_delete, datastore=self.get_object(), actor=request.user)


_STATE = OpenApiParameter("state", str, enum=list(DataItem.State.values), description="Only items in this state.")


class ItemPagination(CursorPagination):
    """A dataset's items by key, page after page through an opaque cursor: no COUNT and no OFFSET, so the
    millionth item costs what the first does (keys are unique within a dataset)."""

    ordering = ("key",)
    page_size_query_param = "page_size"
    max_page_size = 500

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound as error:  # a garbled cursor is a bad request, as on the review lists
            raise ValidationError(
                {"cursor": ["This page link is broken or out of date; start again without it."]}
            ) from error


class DatasetViewSet(
    WorkspaceAPIMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Datasets with scan progress; creating one starts its scan. Actions: scan, refresh, items.
    DELETE removes a dataset with its items and thumbnails; 409 while a project uses it or a scan runs."""

    serializer_class = DatasetSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "dataset"
    lookup_value_converter = "uuid"
    http_method_names = ["get", "post", "delete", "head", "options"]
    required_perms = {
        "GET": "projects.view_dataset",
        "POST": "projects.add_dataset",
        "DELETE": "projects.delete_dataset",
    }

    def initial(self, request, *args, **kwargs):
        if self.action in ("scan", "refresh"):
            self.required_perms = {"POST": "projects.change_dataset"}
        super().initial(request, *args, **kwargs)

    def get_queryset(self):
        return Dataset.objects.for_workspace(self.access.workspace).select_related("datastore").order_by("name", "id")

    def get_serializer_class(self):
        return DataItemSerializer if self.action == "items" else DatasetSerializer

    def perform_create(self, serializer):
        serializer.instance = datastore_services.dataset_create(
            workspace=self.access.workspace, actor=self.request.user, **{"path": "", **serializer.validated_data}
        )

    def _started(self, service):
        dataset = self.get_object()
        service(dataset=dataset, actor=self.request.user)
        return Response(
            DatasetSerializer(dataset, context=self.get_serializer_context()).data, status=status.HTTP_202_ACCEPTED
        )

    @extend_schema(request=None, responses={202: DatasetSerializer})
    @action(detail=True, methods=["post"])
    def scan(self, request, *args, **kwargs):
        return self._started(datastore_services.dataset_scan)

    @extend_schema(request=None, responses={202: DatasetSerializer})
    @action(detail=True, methods=["post"])
    def refresh(self, request, *args, **kwargs):
        return self._started(datastore_services.dataset_refresh)

    @extend_schema(
        responses={
            204: None,
            409: OpenApiResponse(
                description="A project uses it (the message names them), or a scan or refresh is running."
            ),
        }
    )
    def destroy(self, request, *args, **kwargs):
        return _delete(datastore_services.dataset_delete, dataset=self.get_object(), actor=request.user)

    @extend_schema(parameters=[_STATE], responses=DataItemSerializer(many=True))
    @action(detail=True, methods=["get"], pagination_class=ItemPagination)
    def items(self, request, *args, **kwargs):
        items = self.get_object().items.all()
        state = request.query_params.get("state")
        if state:
            if state not in DataItem.State.values:
                raise ValidationError({"state": [f"Choose one of {', '.join(DataItem.State.values)}."]})
            items = items.filter(state=state)
        page = self.paginate_queryset(items)
        return self.get_paginated_response(
            DataItemSerializer(page, many=True, context=self.get_serializer_context()).data
        )
