"""API endpoints for the caller's workspaces, members and invitations."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.response import Response

from labelsite.api import WorkspaceAPIMixin
from projects import services
from projects.access import visible_workspaces
from projects.models import Invitation, Membership
from projects.serializers import InvitationSerializer, MembershipSerializer, WorkspaceSerializer


class WorkspaceList(generics.ListAPIView):
    """Workspaces the caller can see, across organizations."""

    serializer_class = WorkspaceSerializer

    def get_queryset(self):
        return visible_workspaces(self.request.user).order_by("organization__slug", "slug")


class MembershipViewSet(WorkspaceAPIMixin, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                        mixins.UpdateModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Members of a workspace and their roles (workspace admins)."""

    serializer_class = MembershipSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "member"
    lookup_value_converter = "uuid"
    http_method_names = ["get", "patch", "delete", "head", "options"]
    required_perms = {"GET": "projects.view_membership", "PATCH": "projects.change_membership",
                      "DELETE": "projects.delete_membership"}

    def get_queryset(self):
        return Membership.objects.for_workspace(self.access.workspace).select_related("user", "group").order_by("user__username")

    def perform_update(self, serializer):
        services.membership_set_role(access=self.access, membership=serializer.instance,
                                     group=serializer.validated_data["group"])

    def perform_destroy(self, instance):
        services.membership_revoke(access=self.access, membership=instance)


class InvitationViewSet(WorkspaceAPIMixin, mixins.ListModelMixin, mixins.CreateModelMixin,
                        mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Open invitations; creating one emails a signed, expiring link."""

    serializer_class = InvitationSerializer
    lookup_field = "uuid"
    lookup_url_kwarg = "invitation"
    lookup_value_converter = "uuid"
    required_perms = {"GET": "projects.view_invitation", "POST": "projects.add_invitation",
                      "DELETE": "projects.delete_invitation"}

    def get_queryset(self):
        return Invitation.objects.for_workspace(self.access.workspace).filter(
            accepted_at=None, revoked_at=None).select_related("group")

    @extend_schema(responses={201: InvitationSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        invitation = services.invitation_create(
            access=self.access, email=serializer.validated_data["email"],
            group=serializer.validated_data["group"], request=request,
        )
        return Response(self.get_serializer(invitation).data, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance):
        services.invitation_revoke(access=self.access, invitation=instance)
