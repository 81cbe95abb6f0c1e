"""Datastore, dataset and project names (per workspace) and label class names (per project) are unique ignoring
case, enforced by the database: a request that loses a race gets the services' message, never an error page."""

import threading
import time

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction

from projects.admin import DatastoreAdminForm
from projects.datastores import services as datastore_services
from projects.definition import services as project_services
from projects.models import Dataset, Datastore, LabelClass, LabelingProject

pytestmark = pytest.mark.django_db
API = "/api/v1/o/acme/vision/"
J = {"content_type": "application/json"}


def new_project(workspace, manager, dataset, name):
    return project_services.project_create(
        workspace=workspace,
        actor=manager,
        name=name,
        task_type="multiclass",
        dataset=dataset,
        incremental_refresh=False,
        label_names=["Cat", "Dog"],
    )


def test_a_project_name_taken_meanwhile_in_another_case_gets_the_services_message(
    workspace, manager, dataset, monkeypatch
):
    new_project(workspace, manager, dataset, "Cats")
    # The other request had not committed yet when this one checked the name.
    monkeypatch.setattr(project_services, "project_name_taken", lambda **kwargs: False)
    for name in ("CATS", "Cats"):
        with pytest.raises(ValidationError, match=f"A project named “{name}” already exists in this workspace"):
            new_project(workspace, manager, dataset, name)
    other = new_project(workspace, manager, dataset, "Dogs")
    with pytest.raises(ValidationError, match="A project named “cats” already exists"):
        project_services.project_update(
            project=other,
            actor=manager,
            name="cats",
            incremental_refresh=False,
            instructions_url="",
            instructions_text="",
            ml_assisted=False,
        )
    assert sorted(LabelingProject.objects.values_list("name", flat=True)) == ["Cats", "Dogs"]


def test_dataset_names_are_unique_ignoring_case(workspace, manager, dataset, celery_eager):
    store = dataset.datastore
    with pytest.raises(ValidationError, match="A dataset with this name already exists in the workspace"):
        datastore_services.dataset_create(
            workspace=workspace, name=dataset.name.upper(), datastore=store, path="", actor=manager
        )
    assert Dataset.objects.filter(workspace=workspace).count() == 1


def test_the_database_refuses_names_that_differ_only_in_case(workspace, dataset, other_workspace):
    project = LabelingProject.objects.create(workspace=workspace, name="Birds", task_type="multiclass", dataset=dataset)
    LabelClass.objects.create(project=project, name="Owl")
    refused = [
        lambda: Datastore.objects.create(workspace=workspace, name=dataset.datastore.name.swapcase(), kind="local"),
        lambda: Dataset.objects.create(workspace=workspace, name=dataset.name.title(), datastore=dataset.datastore),
        lambda: LabelingProject.objects.create(
            workspace=workspace, name="bIRDS", task_type="multiclass", dataset=dataset
        ),
        lambda: LabelClass.objects.create(project=project, name="OWL"),
    ]
    for create in refused:
        with pytest.raises(IntegrityError), transaction.atomic():
            create()
    # Another workspace (or project) may use the same names.
    Datastore.objects.create(workspace=other_workspace, name=dataset.datastore.name.upper(), kind="local")
    LabelClass.objects.create(
        project=LabelingProject.objects.create(
            workspace=workspace, name="Fish", task_type="multiclass", dataset=dataset
        ),
        name="owl",
    )


def test_a_removed_label_class_keeps_its_name_and_comes_back_in_the_new_case(workspace, manager, dataset):
    project = new_project(workspace, manager, dataset, "Pets")
    project_services.label_class_add(project=project, actor=manager, name="Bird")
    LabelClass.objects.filter(project=project, name="Bird").update(removed_at="2026-01-01T00:00:00Z")
    with pytest.raises(IntegrityError), transaction.atomic():
        LabelClass.objects.create(project=project, name="bird")
    back = project_services.label_class_add(project=project, actor=manager, name="BIRD")
    assert back.name == "BIRD" and back.removed_at is None
    assert LabelClass.objects.filter(project=project).count() == 3


def test_the_datastore_form_and_api_refuse_a_name_in_another_case(ws_admin_client, workspace, local_root):
    Datastore.objects.create(workspace=workspace, name="Disk", kind="local", local_path=str(local_root))
    form = DatastoreAdminForm(
        data={
            "workspace": workspace.pk,
            "name": "DISK",
            "kind": "local",
            "local_path": str(local_root),
            "auth_type": "none",
        }
    )
    assert not form.is_valid()
    assert form.non_field_errors() == ["A datastore with this name already exists in the workspace."]
    response = ws_admin_client.post(
        API + "datastores/", {"name": "disk", "kind": "local", "local_path": str(local_root)}, **J
    )
    assert response.status_code == 400
    assert "A datastore with this name already exists in the workspace." in str(response.json()["errors"])


def test_an_api_datastore_save_that_loses_the_race_answers_400_not_500(
    ws_admin_client, workspace, local_root, monkeypatch
):
    Datastore.objects.create(workspace=workspace, name="Disk", kind="local", local_path=str(local_root))
    monkeypatch.setattr(
        Datastore, "validate_constraints", lambda self, exclude=None: None
    )  # checked before the other commit
    response = ws_admin_client.post(
        API + "datastores/", {"name": "DISK", "kind": "local", "local_path": str(local_root)}, **J
    )
    assert response.status_code == 400
    assert "A datastore with this name already exists in the workspace." in str(response.json()["errors"])
    assert Datastore.objects.filter(workspace=workspace).count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creates_of_one_name_give_one_dataset_and_one_friendly_refusal(
    postgres, workspace, manager, dataset
):
    """The second request checks while the first has inserted but not committed: only the constraint can stop it.
    (PostgreSQL: SQLite serializes writers, so the race cannot happen there.)"""
    outcome: list = []

    def second():
        try:
            datastore_services.dataset_create(
                workspace=workspace, name="shared", datastore=dataset.datastore, path="", actor=manager
            )
            outcome.append("created")
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            outcome.append(error)
        finally:
            connections.close_all()

    with transaction.atomic():
        datastore_services.dataset_create(
            workspace=workspace, name="Shared", datastore=dataset.datastore, path="", actor=manager
        )
        thread = threading.Thread(target=second)
        thread.start()
        waited = 0.0
        while waited < 10 and not _someone_waits_for_a_lock():
            time.sleep(0.05)
            waited += 0.05
        assert waited < 10, "the second create never reached the unique index"
    thread.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], ValidationError)
    assert outcome[0].message_dict == {"name": ["A dataset with this name already exists in the workspace."]}
    assert list(Dataset.objects.filter(workspace=workspace, name__iexact="shared").values_list("name", flat=True)) == [
        "Shared"
    ]


def _someone_waits_for_a_lock() -> bool:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the view stays as first read in this transaction
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0] > 0
