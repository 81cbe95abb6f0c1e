"""The project wizard through the Django client: every step, Back, validation and creation."""

import pytest
from django.urls import reverse

from labeling.models import Task
from labeling.stats import state_counts
from projects.models import LabelingProject
from tests.factories import DatasetFactory, ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def step(ws_url):
    return lambda slug: ws_url("project_wizard_step", step=slug)


def walk(client, step, dataset, *, name="multi-class-cats-n-dogs", labels=("Cat", "Dog", "Uncertain"), htmx=False):
    headers = {"HX-Request": "true"} if htmx else {}
    posts = [
        ("details", {"name": name, "media_type": "image", "task_type": "multiclass", "action": "next"}),
        ("dataset", {"dataset": str(dataset.uuid), "action": "next"}),
        ("refresh", {"action": "next"}),
    ]
    for slug, data in posts:
        response = client.post(step(slug), data, headers=headers)
        assert response.status_code in (200, 302), (slug, response.status_code, response.content[:2000])
    for label in labels:
        current = client.get(step("labels")).context["label_rows"]
        client.post(
            step("labels"),
            {"labels": [r["name"] for r in current], "new_label": label, "action": "add"},
            headers=headers,
        )
    names = [r["name"] for r in client.get(step("labels")).context["label_rows"]]
    assert names == list(labels)
    client.post(step("labels"), {"labels": names, "new_label": "", "action": "next"}, headers=headers)
    client.post(
        step("instructions"),
        {"instructions_url": "", "instructions_text": "Labeling tutorial - Cats & Dogs", "action": "next"},
        headers=headers,
    )
    return client.post(step("ml"), {"action": "next"}, headers=headers)


def test_the_tutorial_walk_creates_a_running_project_with_its_tasks(
    manager_client,
    step,
    workspace,
    dataset,
    celery_eager,
    ws_url,
    django_capture_on_commit_callbacks,
):
    assert manager_client.get(ws_url("project_wizard")).url == step("details")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = walk(manager_client, step, dataset)
    assert len(callbacks) == 1  # the task sync is enqueued once, after commit
    project = LabelingProject.objects.get(workspace=workspace, name="multi-class-cats-n-dogs")
    assert response.status_code == 302
    assert response.url == reverse(
        "labeling:dashboard", kwargs={"org": "acme", "ws": "vision", "project": project.uuid}
    )
    assert project.task_type == "multiclass" and project.dataset == dataset
    assert project.instructions_text == "Labeling tutorial - Cats & Dogs"
    assert not project.incremental_refresh and not project.ml_assisted
    assert [(c.name, c.color, c.shortcut) for c in project.label_classes.all()] == [
        ("Cat", 0, "1"),
        ("Dog", 1, "2"),
        ("Uncertain", 2, "3"),
    ]
    # Eager Celery: the on-commit sync already ran.
    project.refresh_from_db()
    assert project.state == LabelingProject.State.RUNNING
    assert Task.objects.filter(project=project).count() == 12
    assert state_counts(project)["unlabeled"] == 12
    page = manager_client.get(response.url)
    assert b"Project multi-class-cats-n-dogs created" in page.content
    # The wizard starts fresh afterwards.
    assert manager_client.get(step("dataset")).url == step("details")


def test_htmx_wizard_swaps_steps_and_redirects_the_client_at_the_end(manager_client, step, dataset, celery_eager):
    response = manager_client.post(
        step("details"),
        {"name": "p", "media_type": "image", "task_type": "multilabel", "action": "next"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert response["HX-Push-Url"] == step("dataset")
    assert b'id="wizard"' in response.content and b"<html" not in response.content
    assert b"Select or create a dataset" in response.content
    final = walk(manager_client, step, dataset, name="p2", htmx=True)
    assert final.status_code == 200 and final["HX-Redirect"].startswith("/o/acme/vision/projects/")
    assert LabelingProject.objects.get(name="p2").task_type == "multiclass"


def test_back_keeps_what_was_entered(manager_client, step, dataset):
    manager_client.post(
        step("details"), {"name": "birds", "media_type": "image", "task_type": "multilabel", "action": "next"}
    )
    manager_client.post(step("dataset"), {"dataset": str(dataset.uuid), "action": "next"})
    manager_client.post(step("refresh"), {"incremental_refresh": "on", "action": "next"})
    manager_client.post(step("labels"), {"labels": ["Robin"], "new_label": "Sparrow", "action": "add"})
    # Back from labels with a half-typed label: the list and the text survive.
    response = manager_client.post(
        step("labels"), {"labels": ["Robin", "Sparrow"], "new_label": "Fin", "action": "back"}
    )
    assert response.url == step("refresh")
    refresh = manager_client.get(step("refresh"))
    assert refresh.context["form"]["incremental_refresh"].value() is True
    assert manager_client.post(step("refresh"), {"action": "back"}).url == step("dataset")
    page = manager_client.get(step("dataset"))
    assert page.context["form"]["dataset"].value() == str(dataset.uuid)
    details = manager_client.get(step("details"))
    assert details.context["form"]["name"].value() == "birds"
    assert details.context["form"]["task_type"].value() == "multilabel"
    labels = manager_client.get(step("labels"))
    assert [r["name"] for r in labels.context["label_rows"]] == ["Robin", "Sparrow"]
    assert b'value="Fin"' in labels.content


def test_later_steps_wait_for_earlier_ones(manager_client, step):
    assert manager_client.get(step("labels")).url == step("details")
    assert (
        manager_client.get(
            reverse("project_wizard_step", kwargs={"org": "acme", "ws": "vision", "step": "nope"})
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    "data, message",
    [
        ({"name": "", "media_type": "image", "task_type": "multiclass"}, b"This field is required"),
        ({"name": "x", "media_type": "video", "task_type": "multiclass"}, b"Select a valid choice"),
        ({"name": "x", "media_type": "image", "task_type": "polygon"}, b"Select a valid choice"),
    ],
)
def test_details_errors_answer_422_with_the_form(manager_client, step, data, message):
    response = manager_client.post(step("details"), {**data, "action": "next"}, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert message in response.content
    assert b'id="wizard"' in response.content


def test_duplicate_project_name_is_refused_clearly(manager_client, step, workspace, dataset):
    ProjectFactory.create(workspace=workspace, dataset=dataset, name="Cats")
    response = manager_client.post(
        step("details"), {"name": "cats", "media_type": "image", "task_type": "multiclass", "action": "next"}
    )
    assert response.status_code == 422
    assert "A project named “cats” already exists in this workspace".encode() in response.content


def test_same_name_in_another_workspace_is_fine(manager_client, step, other_workspace):
    ProjectFactory.create(
        workspace=other_workspace, dataset=DatasetFactory.create(workspace=other_workspace), name="Cats"
    )
    response = manager_client.post(
        step("details"), {"name": "Cats", "media_type": "image", "task_type": "multiclass", "action": "next"}
    )
    assert response.status_code == 302


def _to_step(client, step, dataset, slug):
    client.post(step("details"), {"name": "p", "media_type": "image", "task_type": "multiclass", "action": "next"})
    if slug == "dataset":
        return
    client.post(step("dataset"), {"dataset": str(dataset.uuid), "action": "next"})
    client.post(step("refresh"), {"action": "next"})
    if slug == "labels":
        return
    client.post(step("labels"), {"labels": ["Cat", "Dog"], "action": "next"})


def test_dataset_must_be_chosen_and_from_this_workspace(manager_client, step, dataset, other_workspace):
    _to_step(manager_client, step, dataset, "dataset")
    response = manager_client.post(step("dataset"), {"action": "next"})
    assert response.status_code == 422 and b"Select a dataset" in response.content
    foreign = DatasetFactory.create(workspace=other_workspace, name="secret-data")
    response = manager_client.post(step("dataset"), {"dataset": str(foreign.uuid), "action": "next"})
    assert response.status_code == 422
    assert b"secret-data" not in response.content


def test_label_classes_refuse_blanks_and_duplicates(manager_client, step, dataset):
    _to_step(manager_client, step, dataset, "labels")
    blank = manager_client.post(step("labels"), {"labels": ["Cat"], "new_label": "   ", "action": "add"})
    assert blank.status_code == 422 and b"A label class needs a name" in blank.content
    dup = manager_client.post(
        step("labels"), {"labels": ["Cat"], "new_label": "cat", "action": "add"}, headers={"HX-Request": "true"}
    )
    assert dup.status_code == 422 and "“cat” is already a label class".encode() in dup.content
    assert [r["name"] for r in dup.context["label_rows"]] == ["Cat"]
    # A tampered list with a blank or duplicate is refused on Next too.
    tampered = manager_client.post(step("labels"), {"labels": ["Cat", "CAT"], "action": "next"})
    assert tampered.status_code == 422
    one = manager_client.post(step("labels"), {"labels": ["Cat"], "action": "next"})
    assert one.status_code == 422 and b"at least two label classes" in one.content


def test_label_classes_reorder_and_remove(manager_client, step, dataset):
    _to_step(manager_client, step, dataset, "labels")
    names = ["Cat", "Dog", "Uncertain"]
    r = manager_client.post(step("labels"), {"labels": names, "action": "up-2"})
    assert [x["name"] for x in r.context["label_rows"]] == ["Cat", "Uncertain", "Dog"]
    r = manager_client.post(step("labels"), {"labels": ["Cat", "Uncertain", "Dog"], "action": "down-0"})
    assert [x["name"] for x in r.context["label_rows"]] == ["Uncertain", "Cat", "Dog"]
    r = manager_client.post(step("labels"), {"labels": ["Uncertain", "Cat", "Dog"], "action": "remove-0"})
    assert [x["name"] for x in r.context["label_rows"]] == ["Cat", "Dog"]
    assert [(x["color"], x["key"]) for x in r.context["label_rows"]] == [(0, 1), (1, 2)]
    # Enter in the text box adds the typed label; Enter on an empty box goes on.
    r = manager_client.post(step("labels"), {"labels": ["Cat", "Dog"], "new_label": "Bird", "action": "enter"})
    assert [x["name"] for x in r.context["label_rows"]] == ["Cat", "Dog", "Bird"]
    r = manager_client.post(step("labels"), {"labels": ["Cat", "Dog", "Bird"], "new_label": "", "action": "enter"})
    assert r.url == step("instructions")


def test_instructions_refuse_javascript_links_and_escape_text(manager_client, step, dataset, celery_eager):
    _to_step(manager_client, step, dataset, "instructions")
    for bad in ("javascript:alert(1)", "data:text/html,<script>alert(1)</script>", "ftp://example.com/x"):
        response = manager_client.post(step("instructions"), {"instructions_url": bad, "action": "next"})
        assert response.status_code == 422, bad
        assert b"Give an http:// or https:// link" in response.content or b"Enter a valid URL" in response.content
    text = "**Look** closely\n<script>alert('x')</script>\n[click](javascript:alert(1)) [docs](https://example.com/a?b=1&c=2)\n<img src=x onerror=alert(1)>"
    response = manager_client.post(
        step("instructions"),
        {"instructions_url": "https://example.com/guide", "instructions_text": text, "action": "next"},
    )
    assert response.url == step("ml")
    summary = manager_client.get(step("ml")).content.decode()
    assert "<strong>Look</strong>" in summary
    assert "<script>alert" not in summary and "&lt;script&gt;" in summary
    assert "<img" not in summary and "&lt;img src=x onerror=alert(1)&gt;" in summary
    assert 'href="javascript:' not in summary
    assert '<a href="https://example.com/a?b=1&amp;c=2" rel="noopener noreferrer nofollow">docs</a>' in summary
    manager_client.post(step("ml"), {"ml_assisted": "on", "action": "next"})
    project = LabelingProject.objects.get(name="p")
    assert project.ml_assisted and project.instructions_url == "https://example.com/guide"
    assert project.instructions_text == text  # stored as typed, rendered safely


def test_create_recheck_catches_a_name_taken_meanwhile(manager_client, step, dataset, workspace):
    _to_step(manager_client, step, dataset, "instructions")
    manager_client.post(step("instructions"), {"action": "next"})
    ProjectFactory.create(workspace=workspace, dataset=dataset, name="p")
    response = manager_client.post(step("ml"), {"action": "next"}, follow=True)
    assert response.redirect_chain == [(step("details"), 302)]
    assert "A project named “p” already exists".encode() in response.content
    assert LabelingProject.objects.filter(name="p").count() == 1


@pytest.mark.parametrize("who, status", [("labeler_client", 403), ("reviewer_client", 403), ("outsider_client", 404)])
def test_only_managers_use_the_wizard(request, who, status, step, ws_url):
    client = request.getfixturevalue(who)
    assert client.get(ws_url("project_wizard")).status_code == status
    assert client.get(step("details")).status_code == status
    assert (
        client.post(step("details"), {"name": "x", "media_type": "image", "task_type": "multiclass"}).status_code
        == status
    )


def test_workspace_admin_and_org_admin_may_create(ws_admin_client, org_admin_client, step, dataset):
    for client in (ws_admin_client, org_admin_client):
        assert client.get(step("details")).status_code == 200


def test_anonymous_goes_to_login(anon_client, step):
    response = anon_client.get(step("details"))
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_wrong_method_is_405(manager_client, ws_url):
    assert manager_client.post(ws_url("project_wizard")).status_code == 405


def test_create_a_dataset_from_a_datastore_inside_the_wizard(
    manager_client,
    step,
    ws_url,
    workspace,
    local_datastore,
    pets_folder,
    celery_eager,
    django_capture_on_commit_callbacks,
):
    create = ws_url("project_wizard_dataset_create")
    manager_client.post(
        step("details"),
        {"name": "multi-class-cats-n-dogs", "media_type": "image", "task_type": "multiclass", "action": "next"},
    )
    page = manager_client.get(step("dataset"))
    assert create.encode() in page.content and b"From datastore" in page.content
    form = manager_client.get(create, headers={"HX-Request": "true"})
    assert (
        form.status_code == 200 and b"Create a dataset from datastore" in form.content and b"<html" not in form.content
    )
    # Browse folders shows the datastore's folders inline (the fragment is loaded from the browse view).
    data = {
        "name": "cat-n-dogs",
        "description": "",
        "datastore": str(local_datastore.uuid),
        "path": "",
        "include_subfolders": "on",
    }
    browse = manager_client.post(create, {**data, "action": "browse"}, headers={"HX-Request": "true"})
    assert browse.status_code == 200
    browse_url = ws_url("datastore_browse", datastore=local_datastore.uuid)
    assert f'hx-get="{browse_url}?path="'.encode() in browse.content
    listing = manager_client.get(browse_url, {"path": ""}, headers={"HX-Request": "true"})
    assert b"MultiClass - DogsCats/" in listing.content
    # Errors: a missing name answers 422 with the sub-step form.
    bad = manager_client.post(create, {**data, "name": "", "action": "next"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and b"This field is required" in bad.content
    with django_capture_on_commit_callbacks(execute=True):
        done = manager_client.post(create, {**data, "path": "MultiClass - DogsCats", "action": "next"})
    assert done.url == step("dataset")
    dataset = workspace.datasets.get(name="cat-n-dogs")
    assert dataset.path == "MultiClass - DogsCats" and dataset.items.filter(state="ready").count() >= 3
    page = manager_client.get(step("dataset"))
    assert page.context["form"]["dataset"].value() == str(dataset.uuid)  # selected for the user
    assert b"Dataset cat-n-dogs created" in page.content
    manager_client.post(step("dataset"), {"dataset": str(dataset.uuid), "action": "next"})
    manager_client.post(step("refresh"), {"action": "next"})
    manager_client.post(step("labels"), {"labels": ["Cat", "Dog", "Uncertain"], "action": "next"})
    manager_client.post(step("instructions"), {"action": "next"})
    with django_capture_on_commit_callbacks(execute=True):
        manager_client.post(step("ml"), {"action": "next"})
    project = LabelingProject.objects.get(name="multi-class-cats-n-dogs")
    project.refresh_from_db()
    assert project.state == "running" and project.tasks.count() == dataset.items.filter(state="ready").count()


def test_dataset_creation_in_the_wizard_refuses_a_duplicate_name_and_foreign_datastores(
    manager_client,
    step,
    ws_url,
    workspace,
    local_datastore,
    other_workspace,
    dataset,
):
    from projects.models import Datastore

    create = ws_url("project_wizard_dataset_create")
    manager_client.post(
        step("details"), {"name": "p", "media_type": "image", "task_type": "multiclass", "action": "next"}
    )
    dup = manager_client.post(create, {"name": dataset.name, "datastore": str(local_datastore.uuid), "action": "next"})
    assert dup.status_code == 422 and b"already exists" in dup.content
    foreign = Datastore.objects.create(workspace=other_workspace, name="theirs", kind="local", local_path="/x")
    bad = manager_client.post(create, {"name": "x", "datastore": str(foreign.uuid), "action": "next"})
    assert bad.status_code == 422 and b"theirs" not in bad.content


@pytest.mark.parametrize("who, status", [("labeler_client", 403), ("reviewer_client", 403), ("outsider_client", 404)])
def test_only_managers_create_datasets_in_the_wizard(request, who, status, ws_url):
    assert request.getfixturevalue(who).get(ws_url("project_wizard_dataset_create")).status_code == status
