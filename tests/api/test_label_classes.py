"""A project's label classes over the API, as its settings page edits them: list, add, move, remove (keep/requeue).

The role/method matrix of these endpoints is in test_api_matrix.py."""

import pytest

from labeling.models import Task
from projects.models import LabelClass
from tests.factories import ProjectFactory

WS = "/api/v1/o/acme/vision/"
J = {"content_type": "application/json"}


@pytest.fixture
def project(workspace):
    return ProjectFactory.create(workspace=workspace, dataset__items=6)


def url(project, tail=""):
    return f"{WS}projects/{project.uuid}/label-classes/{tail}"


def label(project, name):
    return LabelClass.objects.get(project=project, name=name)


def names(response):
    return [c["name"] for c in response.json()]


def test_list_shows_active_classes_in_order_then_removed_ones(manager_client, labeler_client, project):
    LabelClass.objects.filter(project=project, name="dog").update(
        removed_at="2024-05-01T10:00:00Z", position=LabelClass.REMOVED_POSITION
    )
    LabelClass.objects.filter(project=project, name="bird").update(position=1)
    response = manager_client.get(url(project))
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [(r["name"], r["position"], r["shortcut"], r["removed"]) for r in rows] == [
        ("cat", 0, "1", False),
        ("bird", 1, "2", False),
        ("dog", None, "", True),
    ]
    assert rows[2]["removed_at"].startswith("2024-05-01")
    one = manager_client.get(url(project, f"{rows[0]['id']}/"))
    assert one.status_code == 200 and one.json()["name"] == "cat"
    assert labeler_client.get(url(project)).status_code == 200  # labelers see the classes they tag with


def test_manager_adds_a_class_whose_html_name_stays_text(manager_client, project):
    response = manager_client.post(url(project), {"name": "  <b>Zebra</b>  "}, **J)
    assert response.status_code == 201, response.json()
    data = response.json()
    assert (
        data["name"] == "<b>Zebra</b>"
        and data["position"] == 3
        and data["shortcut"] == "4"
        and data["removed"] is False
    )
    assert label(project, "<b>Zebra</b>").uuid.hex == data["id"].replace("-", "")
    page = manager_client.get(f"/o/acme/vision/projects/{project.uuid}/settings/")
    assert b"&lt;b&gt;Zebra&lt;/b&gt;" in page.content and b"<b>Zebra</b>" not in page.content


@pytest.mark.parametrize(
    "body,field",
    [
        ({"name": "CAT"}, "name"),  # a duplicate, ignoring case
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({}, "name"),
        ({"name": "Fox", "color": 3}, "color"),  # colours are chosen by the server
        ({"name": "Fox", "position": 0}, "position"),  # new classes go last; move them afterwards
        ({"name": "Fox", "project": 1}, "project"),
    ],
)
def test_add_refuses_bad_names_and_server_owned_fields(manager_client, project, body, field):
    response = manager_client.post(url(project), body, **J)
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert LabelClass.objects.filter(project=project).count() == 3


def test_adding_a_removed_name_brings_the_class_back(manager_client, project):
    dog = label(project, "dog")
    assert manager_client.post(url(project, f"{dog.uuid}/remove/"), {"tags": "keep"}, **J).status_code == 200
    response = manager_client.post(url(project), {"name": "Dog"}, **J)
    assert response.status_code == 201
    assert response.json()["id"] == str(dog.uuid) and response.json()["removed"] is False
    assert response.json()["name"] == "Dog" and response.json()["position"] == 2


def test_manager_moves_classes_up_down_and_to_a_position(manager_client, project):
    bird = label(project, "bird")
    response = manager_client.post(url(project, f"{bird.uuid}/move/"), {"direction": "up"}, **J)
    assert response.status_code == 200 and names(response) == ["cat", "bird", "dog"]
    assert [c["position"] for c in response.json()] == [0, 1, 2]
    response = manager_client.post(url(project, f"{bird.uuid}/move/"), {"position": 0}, **J)
    assert names(response) == ["bird", "cat", "dog"]
    response = manager_client.post(url(project, f"{bird.uuid}/move/"), {"position": 99}, **J)
    assert names(response) == ["cat", "dog", "bird"]
    response = manager_client.post(url(project, f"{bird.uuid}/move/"), {"direction": "down"}, **J)
    assert names(response) == ["cat", "dog", "bird"]  # already last: nothing moves
    assert list(LabelClass.objects.filter(project=project).order_by("position").values_list("name", flat=True)) == [
        "cat",
        "dog",
        "bird",
    ]


@pytest.mark.parametrize(
    "body",
    [{}, {"direction": "up", "position": 1}, {"direction": "left"}, {"position": -1}, {"direction": "up", "offset": 1}],
)
def test_move_needs_exactly_one_of_direction_or_position(manager_client, project, body):
    response = manager_client.post(url(project, f"{label(project, 'dog').uuid}/move/"), body, **J)
    assert response.status_code == 400 and response.json()["code"] == "invalid"


def test_moving_a_removed_class_conflicts(manager_client, project):
    dog = label(project, "dog")
    manager_client.post(url(project, f"{dog.uuid}/remove/"), {"tags": "keep"}, **J)
    response = manager_client.post(url(project, f"{dog.uuid}/move/"), {"direction": "up"}, **J)
    assert response.status_code == 409 and "removed" in response.json()["message"]


def _label_all(labeler_client, project, name):
    tasks = f"{WS}projects/{project.uuid}/tasks/"
    page = labeler_client.post(tasks + "claim/", {"size": 3}, **J).json()["tasks"]
    submitted = labeler_client.post(tasks + "submit/", {"labels": {t["id"]: [name] for t in page}}, **J)
    assert submitted.json() == {"submitted": 3}
    return [t["id"] for t in page]


def test_remove_keeping_tags_leaves_the_images_labeled(manager_client, labeler_client, project):
    items = _label_all(labeler_client, project, "cat")
    cat = label(project, "cat")
    response = manager_client.post(url(project, f"{cat.uuid}/remove/"), {"tags": "keep"}, **J)
    assert response.status_code == 200, response.json()
    assert response.json()["requeued"] == 0
    assert response.json()["label_class"]["removed"] is True and response.json()["label_class"]["position"] is None
    assert Task.objects.filter(project=project, item__uuid__in=items, state=Task.State.LABELED).count() == 3
    listed = manager_client.get(url(project)).json()["results"]
    assert [(c["name"], c["removed"]) for c in listed] == [("dog", False), ("bird", False), ("cat", True)]
    claim = labeler_client.post(f"{WS}projects/{project.uuid}/tasks/claim/", {"size": 1}, **J).json()
    assert [c["name"] for c in claim["label_classes"]] == ["dog", "bird"]


def test_remove_with_requeue_sends_the_tagged_images_back_and_says_how_many(manager_client, labeler_client, project):
    items = _label_all(labeler_client, project, "dog")
    response = manager_client.post(url(project, f"{label(project, 'dog').uuid}/remove/"), {"tags": "requeue"}, **J)
    assert response.status_code == 200 and response.json()["requeued"] == 3
    assert Task.objects.filter(project=project, item__uuid__in=items, state=Task.State.UNLABELED).count() == 3
    states = {s["key"]: s["count"] for s in manager_client.get(f"{WS}projects/{project.uuid}/stats/").json()["states"]}
    assert states["labeled"] == 0 and states["unlabeled"] == 6


def test_remove_needs_an_explicit_choice_and_keeps_two_classes(manager_client, project):
    cat, dog, bird = (label(project, n) for n in ("cat", "dog", "bird"))
    for body in ({}, {"tags": "delete"}, {"tags": "keep", "requeue": True}):
        assert manager_client.post(url(project, f"{cat.uuid}/remove/"), body, **J).status_code == 400
    assert LabelClass.objects.get(pk=cat.pk).removed_at is None
    assert manager_client.post(url(project, f"{cat.uuid}/remove/"), {"tags": "keep"}, **J).status_code == 200
    again = manager_client.post(url(project, f"{cat.uuid}/remove/"), {"tags": "keep"}, **J)
    assert again.status_code == 409 and "already removed" in again.json()["message"]
    last = manager_client.post(url(project, f"{dog.uuid}/remove/"), {"tags": "requeue"}, **J)
    assert last.status_code == 409 and "two label classes" in last.json()["message"]
    assert LabelClass.objects.get(pk=bird.pk).removed_at is None
