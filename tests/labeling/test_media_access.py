"""Who may fetch an item's image and thumbnail: labelers the items of tasks they hold or have labeled,
reviewers the items of the workspace's projects, dataset browsers every item; everybody else a 404."""

import re
import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from labeling.models import Task
from projects.models import Dataset
from tests.factories import DatasetFactory, ProjectFactory, items_add, tasks_label, tasks_review

pytestmark = pytest.mark.django_db
MEDIA = ("item_thumbnail", "item_image")


def _lease(task, user, minutes):
    Task.objects.filter(pk=task.pk).update(leased_to=user, lease_expires=timezone.now() + timedelta(minutes=minutes))


@pytest.fixture
def world(served_images, workspace, labeler, labeler2):
    """Project A on dataset A (tasks in every relation to `labeler`), project B on dataset B, dataset C unused;
    all three on one folder of real images."""
    datasets = {name: DatasetFactory.create(workspace=workspace, name=f"dataset {name}", path=name) for name in "ABC"}
    a = dict(
        zip(["held", "expired", "labeled", "rejected", "others", "untouched"], items_add(datasets["A"], 6), strict=True)
    )
    project_a = ProjectFactory.create(workspace=workspace, dataset=datasets["A"], name="A")
    tasks = {t.item_id: t for t in Task.objects.filter(project=project_a)}
    task = {name: tasks[item.pk] for name, item in a.items()}
    _lease(task["held"], labeler, 10)
    _lease(task["expired"], labeler, -1)
    _lease(task["others"], labeler2, 10)
    tasks_label(project_a, [task["labeled"], task["rejected"]], user=labeler)
    # Labeled by `labeler`, then rejected: only the annotation history remembers who labeled it.
    tasks_review(project_a, [task["rejected"]], decision="reject")
    b = items_add(datasets["B"], 1)[0]
    # labeler2 labeled B's item: a labeler of another project, on another dataset.
    project_b = ProjectFactory.create(workspace=workspace, dataset=datasets["B"], name="B")
    tasks_label(project_b, Task.objects.filter(project=project_b), user=labeler2)
    c = items_add(datasets["C"], 1)[0]
    return {**a, "b": b, "c": c}


def _without_csrf(body: bytes) -> bytes:
    return re.sub(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', rb"\1", body)


def _status(client, ws_url, item):
    """{media view: status} for one item; both views always agree."""
    return {name: client.get(ws_url(name, item=item.uuid)).status_code for name in MEDIA}


def _allowed(client, ws_url, world) -> set:
    found = set()
    for name, item in world.items():
        statuses = _status(client, ws_url, item)
        assert len(set(statuses.values())) == 1, (name, statuses)
        assert set(statuses.values()) <= {200, 404}, (name, statuses)
        if statuses["item_image"] == 200:
            found.add(name)
    return found


def test_labeler_sees_only_items_of_tasks_they_hold_or_labeled(
    labeler_client, ws_url, world, served_images, django_assert_max_num_queries
):
    assert _allowed(labeler_client, ws_url, world) == {"held", "labeled", "rejected"}
    response = labeler_client.get(ws_url("item_image", item=world["held"].uuid))
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == (served_images / world["held"].key).read_bytes()
    # The grid loads 9-20 thumbnails a page: session, user, workspace, role, then the item and its rule at once.
    with django_assert_max_num_queries(5):
        assert labeler_client.get(ws_url("item_thumbnail", item=world["labeled"].uuid)).status_code == 200


def test_labeler_of_another_project_sees_only_their_own_items(labeler2, ws_url, world):
    client = Client()
    client.force_login(labeler2)
    assert _allowed(client, ws_url, world) == {"others", "b"}


def test_reviewers_see_project_items_dataset_browsers_all_outsiders_none(
    reviewer_client, manager_client, org_admin_client, outsider_client, ws_url, world
):
    assert _allowed(reviewer_client, ws_url, world) == set(world) - {"c"}  # C: no project uses it
    assert _allowed(manager_client, ws_url, world) == set(world)
    assert _allowed(org_admin_client, ws_url, world) == set(world)
    assert _allowed(outsider_client, ws_url, world) == set()


def test_a_refused_item_answers_exactly_like_a_missing_one(labeler_client, ws_url, world):
    for name in MEDIA:
        refused = labeler_client.get(ws_url(name, item=world["untouched"].uuid))
        missing = labeler_client.get(ws_url(name, item=uuid.uuid4()))
        assert refused.status_code == missing.status_code == 404
        assert _without_csrf(refused.content) == _without_csrf(missing.content)


def _fetch_all(client, urls) -> set:
    return {client.get(url).status_code for url in urls}


def test_api_image_urls_follow_the_same_rule(labeler_client, reviewer_client, manager_client, workspace, world):
    api = "/api/v1/o/acme/vision"
    dataset_a = Dataset.objects.get(workspace=workspace, name="dataset A")
    project_a = dataset_a.projects.get()
    listed = manager_client.get(f"{api}/datasets/{dataset_a.uuid}/items/").json()["results"]
    dataset_urls = [row[key] for row in listed for key in ("image_url", "thumbnail_url")]
    assert len(dataset_urls) == 12 and _fetch_all(manager_client, dataset_urls) == {200}
    claimed = labeler_client.post(
        f"{api}/projects/{project_a.uuid}/tasks/claim/", {"size": 1}, content_type="application/json"
    ).json()["tasks"]
    mine = [claimed[0]["image_url"], claimed[0]["thumbnail_url"]]
    assert _fetch_all(labeler_client, mine) == {200}
    mine_now = {str(world[name].uuid) for name in ("held", "labeled", "rejected")} | {t["id"] for t in claimed}
    others = [url for url in dataset_urls if url.split("/items/")[1].split("/")[0] not in mine_now]
    assert len(others) >= 4 and _fetch_all(labeler_client, others) == {404}
    reviewed = reviewer_client.get(f"{api}/projects/{project_a.uuid}/review/items/").json()["results"]
    assert reviewed and _fetch_all(
        reviewer_client, [row[k] for row in reviewed for k in ("image_url", "thumbnail_url")]
    ) == {200}
