"""API representations of workspaces, members and invitations."""

from django.contrib.auth.models import Group
from rest_framework import serializers

from labelsite.api import StrictFieldsMixin
from projects.models import Invitation, Membership, Workspace
from projects.roles import ROLE_NAMES


class RoleField(serializers.SlugRelatedField):
    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=Group.objects.filter(name__in=ROLE_NAMES), **kwargs)


class WorkspaceSerializer(serializers.ModelSerializer):
    organization = serializers.SlugRelatedField(slug_field="slug", read_only=True)
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
