"""Every model a workspace owns directly shares one base: UUID, workspace, creation time and author, scoped manager."""

import pytest

from projects.models import Dataset, Datastore, Invitation, LabelingProject, Membership, TenantModel

OWNED = [Membership, Invitation, Datastore, Dataset, LabelingProject]


@pytest.mark.parametrize("model", OWNED)
def test_workspace_owned_models_share_the_tenant_base(model):
    assert issubclass(model, TenantModel)
    assert model.objects.model is model and model.objects.get_queryset().workspace_path == "workspace"
    assert not model._meta.get_field("uuid").editable and model._meta.get_field("created_at").auto_now_add


def test_reverse_names_on_the_workspace_stay(workspace):
    assert [
        workspace.memberships.model,
        workspace.invitations.model,
        workspace.datastores.model,
        workspace.datasets.model,
        workspace.projects.model,
    ] == OWNED


def test_the_scoped_manager_shows_a_member_only_their_workspaces_rows(workspace, other_workspace, manager, outsider):
    mine = Datastore.objects.create(workspace=workspace, name="Disk", kind="local", created_by=manager)
    Datastore.objects.create(workspace=other_workspace, name="Theirs", kind="local")
    assert list(Datastore.objects.for_user(manager)) == [mine]
    assert list(Datastore.objects.for_workspace(workspace)) == [mine]
    assert mine not in Datastore.objects.for_user(outsider)
    assert list(Membership.objects.for_user(outsider).values_list("workspace", flat=True).distinct()) == [
        other_workspace.pk
    ]
