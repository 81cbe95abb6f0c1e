"""Django admin is tenant-aware: organization admins who are staff see only their own organization."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects.datastores import services as datastore_services
from projects.models import DataItem, Dataset, Datastore, Invitation, Membership, OrganizationMember, Workspace
from projects.tenancy import services as tenancy_services
from tests.factories import DatasetFactory, ProjectFactory


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
    stranger_membership = {
        "workspace": workspace.pk,
        "user": outsider.pk,
        "group": Group.objects.get(name="Labeler").pk,
    }
    org_admin_client.post("/admin/projects/membership/add/", stranger_membership)
    assert not Membership.objects.filter(user=outsider, workspace=workspace).exists()
    colleague = make_user("colleague")
    OrganizationMember.objects.create(organization=org, user=colleague)
    custom = Group.objects.create(name="Everything")
    org_admin_client.post(
        "/admin/projects/membership/add/", {"workspace": workspace.pk, "user": colleague.pk, "group": custom.pk}
    )
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


# --- deleting datastores and datasets goes through the services, as in the API ----------------------


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_org_admin_deletes_an_unused_dataset_with_its_items_and_thumbnails(
    org_admin_client,
    workspace,
    local_datastore,
    pets_folder,
    celery_eager,
    django_capture_on_commit_callbacks,
    settings,
):
    with django_capture_on_commit_callbacks(execute=True):
        dataset = datastore_services.dataset_create(
            workspace=workspace,
            name="pets",
            description="",
            datastore=local_datastore,
            path="MultiClass - DogsCats",
            include_subfolders=True,
            actor=None,
        )
    thumbnails = Path(settings.MEDIA_ROOT) / "thumbnails" / str(dataset.uuid)
    assert len(list(thumbnails.iterdir())) == 4 and dataset.items.count() == 8
    url = reverse("admin:projects_dataset_delete", args=[dataset.pk])
    confirm = org_admin_client.get(url).content.decode()
    assert "Are you sure" in confirm and "8 images, with their thumbnails" in confirm
    assert "cat 1.jpg" not in confirm  # items are counted, never listed
    with django_capture_on_commit_callbacks(execute=True):
        response = org_admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302 and response.url == reverse("admin:projects_dataset_changelist")
    assert _messages(response) == ["The dataset “pets” was deleted successfully."]
    assert (
        not Dataset.objects.filter(pk=dataset.pk).exists()
        and not DataItem.objects.filter(dataset_id=dataset.pk).exists()
    )
    assert not thumbnails.exists()
    assert (pets_folder / "cat 1.jpg").exists()  # the datastore's own files stay
    assert LogEntry.objects.filter(object_id=str(dataset.pk), action_flag=DELETION).count() == 1


def test_a_dataset_used_by_a_project_is_refused_with_a_message(org_admin_client, workspace):
    dataset = DatasetFactory.create(workspace=workspace, name="Used", items=3)
    ProjectFactory.create(workspace=workspace, dataset=dataset, name="Cats", state="archived")
    ProjectFactory.create(workspace=workspace, dataset=dataset, name="Dogs")
    url = reverse("admin:projects_dataset_delete", args=[dataset.pk])
    change = reverse("admin:projects_dataset_change", args=[dataset.pk])
    refusal = "Dataset “Used” is used by the projects “Cats”, “Dogs”, which keep their dataset even when archived."
    # Refused before the confirmation page, and again if the confirmation is posted anyway.
    for response in (org_admin_client.get(url, follow=True), org_admin_client.post(url, {"post": "yes"}, follow=True)):
        assert response.redirect_chain == [(change, 302)]
        assert refusal in response.content.decode()
    assert Dataset.objects.filter(pk=dataset.pk).exists() and DataItem.objects.filter(dataset=dataset).count() == 3
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_bulk_delete_removes_the_free_datasets_and_names_the_refused_ones(
    org_admin_client, workspace, django_capture_on_commit_callbacks, celery_eager
):
    free = DatasetFactory.create(workspace=workspace, name="Free", items=2)
    spare = DatasetFactory.create(workspace=workspace, name="Spare", items=1)
    used = DatasetFactory.create(workspace=workspace, name="Used", items=2)
    ProjectFactory.create(workspace=workspace, dataset=used, name="Cats")
    busy = DatasetFactory.create(workspace=workspace, name="Busy", items=1)
    Dataset.objects.filter(pk=busy.pk).update(busy_until=timezone.now() + timedelta(minutes=5))
    changelist = reverse("admin:projects_dataset_changelist")
    selected = {"action": "delete_selected", "_selected_action": [free.pk, spare.pk, used.pk, busy.pk]}
    confirm = org_admin_client.post(changelist, selected)
    body = confirm.content.decode()
    assert confirm.status_code == 200 and "Dataset “Used” is used by the projects “Cats”" in body
    assert "Dataset “Busy” is being scanned or refreshed" in body
    # Only the free datasets are offered for confirmation.
    assert {int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', body)} == {free.pk, spare.pk}
    assert "2 images, with their thumbnails" in body and "Images: 3" in body
    # A confirmation posted with every id (stale page, or a project created meanwhile) still refuses the used ones.
    with django_capture_on_commit_callbacks(execute=True):
        response = org_admin_client.post(changelist, {**selected, "post": "yes"})
    assert response.status_code == 302
    assert sorted(_messages(response)) == [
        "Dataset “Busy” is being scanned or refreshed; delete it when that has finished.",
        "Dataset “Used” is used by the projects “Cats”, which keep their dataset even when archived.",
        "Successfully deleted 2 datasets.",
    ]
    assert set(Dataset.objects.values_list("name", flat=True)) == {"Used", "Busy"}
    assert DataItem.objects.count() == 3
    assert set(LogEntry.objects.filter(action_flag=DELETION).values_list("object_repr", flat=True)) == {"Free", "Spare"}


def test_bulk_delete_of_only_refused_datasets_stays_on_the_list(org_admin_client, workspace):
    used = DatasetFactory.create(workspace=workspace, name="Used", items=1)
    ProjectFactory.create(workspace=workspace, dataset=used, name="Cats")
    response = org_admin_client.post(
        reverse("admin:projects_dataset_changelist"), {"action": "delete_selected", "_selected_action": [used.pk]}
    )
    assert response.status_code == 302 and _messages(response) == [
        "Dataset “Used” is used by the projects “Cats”, which keep their dataset even when archived."
    ]
    assert Dataset.objects.filter(pk=used.pk).exists()


def test_a_datastore_in_use_is_refused_and_a_free_one_deleted(org_admin_client, workspace, local_datastore):
    DatasetFactory.create(workspace=workspace, name="Set 1", datastore=local_datastore)
    DatasetFactory.create(workspace=workspace, name="Set 2", datastore=local_datastore)
    free = Datastore.objects.create(
        workspace=workspace, name="spare", kind=Datastore.Kind.LOCAL, local_path=local_datastore.local_path
    )
    url = reverse("admin:projects_datastore_delete", args=[local_datastore.pk])
    refusal = "Datastore “pets” is used by the datasets “Set 1”, “Set 2”; delete them first."
    for response in (org_admin_client.get(url, follow=True), org_admin_client.post(url, {"post": "yes"}, follow=True)):
        assert response.redirect_chain == [(reverse("admin:projects_datastore_change", args=[local_datastore.pk]), 302)]
        assert refusal in response.content.decode()
    changelist = reverse("admin:projects_datastore_changelist")
    response = org_admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [local_datastore.pk, free.pk], "post": "yes"}
    )
    assert sorted(_messages(response)) == [refusal, "Successfully deleted 1 datastore."]
    assert list(Datastore.objects.values_list("name", flat=True)) == ["pets"]


def test_outsider_admin_cannot_delete_our_datastores_or_datasets(outsider_client, workspace):
    dataset = DatasetFactory.create(workspace=workspace, name="Ours", items=2)
    for model, obj in (("dataset", dataset), ("datastore", dataset.datastore)):
        url = reverse(f"admin:projects_{model}_delete", args=[obj.pk])
        assert outsider_client.get(url).status_code in (302, 404)
        assert outsider_client.post(url, {"post": "yes"}).status_code in (302, 404)
        outsider_client.post(
            reverse(f"admin:projects_{model}_changelist"),
            {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"},
        )
    assert Dataset.objects.filter(pk=dataset.pk).exists() and Datastore.objects.filter(pk=dataset.datastore_id).exists()
    assert DataItem.objects.filter(dataset=dataset).count() == 2


def test_delete_confirmation_of_a_big_dataset_costs_a_bounded_number_of_queries(
    org_admin_client, workspace, django_assert_max_num_queries
):
    dataset = DatasetFactory.create(workspace=workspace, name="Big", items=5000)
    other = DatasetFactory.create(workspace=workspace, name="Other", items=10)
    with django_assert_max_num_queries(12):
        page = org_admin_client.get(reverse("admin:projects_dataset_delete", args=[dataset.pk]))
    assert page.status_code == 200 and "5,000 images, with their thumbnails" in page.content.decode()
    with django_assert_max_num_queries(14):
        page = org_admin_client.post(
            reverse("admin:projects_dataset_changelist"),
            {"action": "delete_selected", "_selected_action": [dataset.pk, other.pk]},
        )
    body = page.content.decode()
    assert "Images: 5,010" in body and "img/0000001.jpg" not in body


# --- deleting workspaces and organizations: only empty ones, through the services -----------------


def _fill(workspace, n, prefix):
    """n people with a role in the workspace (and in its organization), plus n pending invitations."""
    users = get_user_model().objects.bulk_create(
        [get_user_model()(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(n)]
    )
    labeler = Group.objects.get(name="Labeler")
    OrganizationMember.objects.bulk_create(
        [OrganizationMember(organization=workspace.organization, user=u) for u in users]
    )
    Membership.objects.bulk_create([Membership(workspace=workspace, user=u, group=labeler) for u in users])
    Invitation.objects.bulk_create(
        [Invitation(workspace=workspace, email=f"{prefix}-new{i}@example.com", group=labeler) for i in range(n)]
    )
    return users


def test_org_admin_deletes_an_empty_workspace_with_its_roles_and_invitations(org_admin_client, org, workspace, labeler):
    spare = Workspace.objects.create(organization=org, name="Spare", slug="spare")
    users = _fill(spare, 3, "helper")
    kept = _fill(workspace, 1, "stays")
    url = reverse("admin:projects_workspace_delete", args=[spare.pk])
    confirm = org_admin_client.get(url).content.decode()
    assert "Are you sure" in confirm and "3 memberships (the people keep their accounts)" in confirm
    assert "3 invitations" in confirm and "helper0" not in confirm  # counted, never listed
    response = org_admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302 and response.url == reverse("admin:projects_workspace_changelist")
    assert _messages(response) == ["The workspace “Acme / Spare” was deleted successfully."]
    assert not Workspace.objects.filter(pk=spare.pk).exists()
    assert not Membership.objects.filter(user__in=users).exists()
    assert not Invitation.objects.filter(email__startswith="helper").exists()
    # The people keep their accounts and their place in the organization; the other workspace is untouched.
    assert get_user_model().objects.filter(pk__in=[u.pk for u in users]).count() == 3
    assert OrganizationMember.objects.filter(user__in=users).count() == 3
    assert (
        Membership.objects.filter(workspace=workspace).count() == 2
        and Invitation.objects.filter(workspace=workspace).count() == 1
    )
    assert kept[0].memberships.get().workspace == workspace
    assert LogEntry.objects.filter(object_id=str(spare.pk), action_flag=DELETION).count() == 1


def test_a_workspace_that_is_not_empty_is_refused_and_nothing_is_deleted(org_admin_client, workspace, labeler):
    datasets = [DatasetFactory.create(workspace=workspace, name=f"Set {i}", items=2) for i in range(7)]
    ProjectFactory.create(workspace=workspace, dataset=datasets[0], name="Cats", state="archived")
    url = reverse("admin:projects_workspace_delete", args=[workspace.pk])
    change = reverse("admin:projects_workspace_change", args=[workspace.pk])
    refusal = (
        "Workspace “Vision” still holds the projects “Cats”; the datasets “Set 0”, “Set 1”, “Set 2”, “Set 3”, "
        "“Set 4” and 2 more; the datastores “images”. Only a workspace without projects (archived ones "
        "included), datasets and datastores can be deleted."
    )
    # Refused before the confirmation page, and again if the confirmation is posted anyway.
    for response in (org_admin_client.get(url, follow=True), org_admin_client.post(url, {"post": "yes"}, follow=True)):
        assert response.redirect_chain == [(change, 302)]
        assert refusal in response.content.decode()
    assert Workspace.objects.filter(pk=workspace.pk).exists() and Membership.objects.filter(user=labeler).exists()
    assert Dataset.objects.filter(workspace=workspace).count() == 7 and DataItem.objects.count() == 14
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_bulk_workspace_delete_removes_the_empty_ones_and_names_the_rest(org_admin_client, org, workspace):
    DatasetFactory.create(workspace=workspace, name="Pets")
    spare = Workspace.objects.create(organization=org, name="Spare", slug="spare")
    empty = Workspace.objects.create(organization=org, name="Empty", slug="empty")
    _fill(spare, 2, "helper")
    changelist = reverse("admin:projects_workspace_changelist")
    selected = {"action": "delete_selected", "_selected_action": [workspace.pk, spare.pk, empty.pk]}
    refusal = (
        "Workspace “Vision” still holds the datasets “Pets”; the datastores “images”. Only a workspace "
        "without projects (archived ones included), datasets and datastores can be deleted."
    )
    body = org_admin_client.post(changelist, selected).content.decode()
    assert refusal in body
    assert {int(pk) for pk in re.findall(r'name="_selected_action" value="(\d+)"', body)} == {spare.pk, empty.pk}
    assert "Memberships: 2" in body and "Invitations: 2" in body
    response = org_admin_client.post(changelist, {**selected, "post": "yes"})
    assert response.status_code == 302
    assert sorted(_messages(response)) == ["Successfully deleted 2 workspaces.", refusal]
    assert list(Workspace.objects.values_list("name", flat=True)) == ["Vision"]
    assert Dataset.objects.filter(workspace=workspace).exists()


def test_another_organizations_admin_cannot_delete_our_workspace(outsider_client, outsider, org, workspace, labeler):
    url = reverse("admin:projects_workspace_delete", args=[workspace.pk])
    assert outsider_client.get(url).status_code in (302, 404)
    assert outsider_client.post(url, {"post": "yes"}).status_code in (302, 404)
    outsider_client.post(
        reverse("admin:projects_workspace_changelist"),
        {"action": "delete_selected", "_selected_action": [workspace.pk], "post": "yes"},
    )
    with pytest.raises(PermissionDenied):
        tenancy_services.workspace_delete(workspace=workspace, actor=outsider)
    with pytest.raises(PermissionDenied):  # a role in the workspace, even its admin's, is not enough
        tenancy_services.workspace_delete(workspace=workspace, actor=labeler)
    assert Workspace.objects.filter(pk=workspace.pk).exists() and Membership.objects.filter(user=labeler).exists()


def test_workspace_delete_confirmation_costs_a_bounded_number_of_queries(
    org_admin_client, org, workspace, django_assert_max_num_queries
):
    crowded = Workspace.objects.create(organization=org, name="Crowded", slug="crowded")
    _fill(crowded, 300, "crowd")
    spare = Workspace.objects.create(organization=org, name="Spare", slug="spare")
    _fill(spare, 5, "few")
    with django_assert_max_num_queries(14):
        page = org_admin_client.get(reverse("admin:projects_workspace_delete", args=[crowded.pk]))
    assert page.status_code == 200 and "300 memberships" in page.content.decode()
    # Three short queries per selected workspace to check it is empty; the rows that go with it are only counted.
    with django_assert_max_num_queries(18):
        page = org_admin_client.post(
            reverse("admin:projects_workspace_changelist"),
            {"action": "delete_selected", "_selected_action": [crowded.pk, spare.pk]},
        )
    body = page.content.decode()
    assert "Memberships: 305" in body and "Invitations: 305" in body and "crowd1" not in body


def test_superuser_deletes_an_organization_whose_workspaces_are_empty(
    superuser_client, org, workspace, org_admin, django_assert_max_num_queries
):
    Workspace.objects.create(organization=org, name="Spare", slug="spare")
    users = _fill(workspace, 2, "helper")
    url = reverse("admin:projects_organization_delete", args=[org.pk])
    with django_assert_max_num_queries(10):  # one check, then one count per kind of row that goes with it
        confirm = superuser_client.get(url).content.decode()
    assert "2 empty workspaces" in confirm and "2 memberships in them" in confirm
    assert "3 organization members (their accounts stay)" in confirm and "helper0" not in confirm
    response = superuser_client.post(url, {"post": "yes"})
    assert response.status_code == 302 and _messages(response) == ["The organization “Acme” was deleted successfully."]
    assert not Workspace.objects.filter(organization_id=org.pk).exists()
    assert not OrganizationMember.objects.filter(organization_id=org.pk).exists() and not Membership.objects.exists()
    assert get_user_model().objects.filter(pk__in=[org_admin.pk, *(u.pk for u in users)]).count() == 3


def test_an_organization_with_a_workspace_in_use_is_refused(
    superuser_client, org, workspace, other_org, other_workspace
):
    ProjectFactory.create(
        workspace=workspace, dataset=DatasetFactory.create(workspace=workspace, name="Pets"), name="Cats"
    )
    Workspace.objects.create(organization=org, name="Spare", slug="spare")
    url = reverse("admin:projects_organization_delete", args=[org.pk])
    refusal = (
        "Organization “Acme” has workspaces that are not empty: “Vision”. Only an organization whose "
        "workspaces hold no projects, datasets or datastores can be deleted."
    )
    for response in (superuser_client.get(url, follow=True), superuser_client.post(url, {"post": "yes"}, follow=True)):
        assert response.redirect_chain == [(reverse("admin:projects_organization_change", args=[org.pk]), 302)]
        assert refusal in response.content.decode()
    response = superuser_client.post(
        reverse("admin:projects_organization_changelist"),
        {"action": "delete_selected", "_selected_action": [org.pk, other_org.pk], "post": "yes"},
    )
    assert sorted(_messages(response)) == [refusal, "Successfully deleted 1 organization."]
    assert (
        Workspace.objects.filter(organization=org).count() == 2
        and not Workspace.objects.filter(pk=other_workspace.pk).exists()
    )


def test_organization_admins_cannot_delete_their_organization(org_admin_client, org_admin, org, workspace):
    url = reverse("admin:projects_organization_delete", args=[org.pk])
    assert org_admin_client.get(url).status_code == 403
    assert org_admin_client.post(url, {"post": "yes"}).status_code == 403
    org_admin_client.post(
        reverse("admin:projects_organization_changelist"),
        {"action": "delete_selected", "_selected_action": [org.pk], "post": "yes"},
    )
    with pytest.raises(PermissionDenied):
        tenancy_services.organization_delete(organization=org, actor=org_admin)
    assert Workspace.objects.filter(pk=workspace.pk).exists()


# --- Django admin access (is_staff) is for organization admins only ----------------------------------


def test_staff_flag_migration_keeps_it_only_for_organization_admins_and_superusers(org_admin, manager, make_user):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("projects.migrations.0010_staff_only_for_organization_admins")
    manager.is_staff = True
    manager.save()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw-Labelsite-123")
    make_user("former-signup", staff=True)  # signed up once (staff), no longer admin of anything
    migration.staff_only_for_organization_admins(apps, None)
    staff = set(get_user_model().objects.filter(is_staff=True).values_list("username", flat=True))
    assert staff == {org_admin.username, root.username}


def test_admin_access_command_grants_and_revokes_for_organization_admins_only(org, make_user, manager):
    from io import StringIO

    from django.core.management import CommandError, call_command

    ada = make_user("ada")
    OrganizationMember.objects.create(organization=org, user=ada, is_admin=True)
    call_command("admin_access", "ada", stdout=StringIO())
    ada.refresh_from_db()
    assert ada.is_staff
    client = Client()
    client.force_login(ada)
    assert client.get(reverse("admin:projects_datastore_changelist")).status_code == 200
    call_command("admin_access", "ada", "--revoke", stdout=StringIO())
    ada.refresh_from_db()
    assert not ada.is_staff
    with pytest.raises(CommandError, match="not an organization admin"):
        call_command("admin_access", "manager", stdout=StringIO())
    manager.refresh_from_db()
    assert not manager.is_staff
    with pytest.raises(CommandError, match="No user"):
        call_command("admin_access", "nobody", stdout=StringIO())
