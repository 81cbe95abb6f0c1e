"""Django admin is tenant-aware: organization admins who are staff see only their own organization."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.test import Client

from projects.models import Membership, OrganizationMember, Workspace


@pytest.fixture
def superuser_client(db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-Labelsite-123")
    client = Client()
    client.force_login(user)
    return client


def test_org_admin_sees_only_own_workspaces(org_admin_client, workspace, other_workspace):
    body = org_admin_client.get("/admin/projects/workspace/").content.decode()
    assert "Vision" in body and "Secret" not in body


def test_org_admin_cannot_open_or_change_another_orgs_rows(org_admin_client, other_workspace, outsider):
    response = org_admin_client.get(f"/admin/projects/workspace/{other_workspace.pk}/change/")
    assert response.status_code in (302, 404)
    org_admin_client.post(
        f"/admin/projects/workspace/{other_workspace.pk}/change/",
        {"organization": other_workspace.organization_id, "name": "Hacked", "slug": "secret"},
    )
    other_workspace.refresh_from_db()
    assert other_workspace.name == "Secret"
    membership = Membership.objects.get(user=outsider)
    assert org_admin_client.get(f"/admin/projects/membership/{membership.pk}/change/").status_code in (302, 404)


def test_org_admin_cannot_create_rows_in_another_org(org_admin_client, other_workspace, other_org):
    response = org_admin_client.post(
        "/admin/projects/workspace/add/", {"organization": other_org.pk, "name": "Planted", "slug": "planted"}
    )
    assert response.status_code == 200  # the form comes back with an error
    assert not Workspace.objects.filter(slug="planted").exists()


def test_org_admin_cannot_reach_users_or_groups(org_admin_client, org_admin):
    assert org_admin_client.get("/admin/auth/user/").status_code == 403
    assert org_admin_client.get(f"/admin/auth/user/{org_admin.pk}/change/").status_code == 403
    assert org_admin_client.get("/admin/auth/group/").status_code == 403
    org_admin.refresh_from_db()
    assert not org_admin.is_superuser


def test_org_admin_grants_roles_only_to_own_members_and_only_role_groups(
    org_admin_client, workspace, outsider, make_user, org
):
    stranger_membership = {"workspace": workspace.pk, "user": outsider.pk, "group": Group.objects.get(name="Labeler").pk}
    org_admin_client.post("/admin/projects/membership/add/", stranger_membership)
    assert not Membership.objects.filter(user=outsider, workspace=workspace).exists()
    colleague = make_user("colleague")
    OrganizationMember.objects.create(organization=org, user=colleague)
    custom = Group.objects.create(name="Everything")
    org_admin_client.post("/admin/projects/membership/add/", {"workspace": workspace.pk, "user": colleague.pk, "group": custom.pk})
    assert not Membership.objects.filter(user=colleague).exists()
    response = org_admin_client.post(
        "/admin/projects/membership/add/",
        {"workspace": workspace.pk, "user": colleague.pk, "group": Group.objects.get(name="Manager").pk},
    )
    assert response.status_code == 302
    assert Membership.objects.get(user=colleague).group.name == "Manager"


def test_member_who_is_not_org_admin_sees_no_admin(manager, workspace):
    manager.is_staff = True
    manager.save()
    client = Client()
    client.force_login(manager)
    assert client.get("/admin/projects/workspace/").status_code == 403


def test_superuser_sees_every_organization(superuser_client, workspace, other_workspace):
    body = superuser_client.get("/admin/projects/workspace/").content.decode()
    assert "Vision" in body and "Secret" in body
