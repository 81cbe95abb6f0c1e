"""Who may fetch an item's image and thumbnail: labelers the items of tasks they hold or have labeled,
reviewers the items of the workspace's projects, dataset browsers every item; everybody else a 404."""

import re
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.utils import timezone

from labeling.models import Annotation, Task
from projects.models import DataItem, Datastore, Dataset, Membership, OrganizationMember
from projects.tenancy.roles import LABELER
from tests.images import write_item_files
from tests.project_fixtures import make_project

pytestmark = pytest.mark.django_db
MEDIA = ("item_thumbnail", "item_image")


def _items(dataset, prefix, n):
    return DataItem.objects.bulk_create([
        DataItem(dataset=dataset, key=f"{prefix}/{i}.jpg", state=DataItem.State.READY, image_format="JPEG",
                 width=64, height=48)
        for i in range(n)
    ])


@pytest.fixture
def labeler2(org, workspace, make_user):
    user = make_user("labeler2")
    OrganizationMember.objects.create(organization=org, user=user)
    Membership.objects.create(workspace=workspace, user=user, group=Group.objects.get(name=LABELER))
    return user


@pytest.fixture
def world(settings, tmp_path, workspace, labeler, labeler2):
    """Project A on dataset A (tasks in every relation to `labeler`), project B on dataset B, dataset C unused."""
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(tmp_path)]
    (tmp_path / "images").mkdir()
    store = Datastore.objects.create(workspace=workspace, name="images", kind=Datastore.Kind.LOCAL,
                                     local_path=str(tmp_path / "images"))
    datasets = {name: Dataset.objects.create(workspace=workspace, name=f"dataset {name}", datastore=store, path=name)
                for name in "ABC"}
    project_a = make_project(workspace, datasets["A"], name="A")
    project_b = make_project(workspace, datasets["B"], name="B")
    now = timezone.now()
    a = dict(zip(["held", "expired", "labeled", "rejected", "others", "untouched"], _items(datasets["A"], "a", 6), strict=True))
    tasks = {
        "held": Task(project=project_a, item=a["held"], leased_to=labeler, lease_expires=now + timedelta(minutes=10)),
        "expired": Task(project=project_a, item=a["expired"], leased_to=labeler, lease_expires=now - timedelta(minutes=1)),
        "labeled": Task(project=project_a, item=a["labeled"], state=Task.State.LABELED, labeled_by=labeler, labeled_at=now),
        # Labeled by `labeler`, then rejected: only the annotation history remembers who labeled it.
        "rejected": Task(project=project_a, item=a["rejected"], rejected_before=True),
        "others": Task(project=project_a, item=a["others"], leased_to=labeler2, lease_expires=now + timedelta(minutes=10)),
        "untouched": Task(project=project_a, item=a["untouched"]),
    }
    Task.objects.bulk_create(tasks.values())
    Annotation.objects.create(task=tasks["labeled"], created_by=labeler)
    Annotation.objects.create(task=tasks["rejected"], created_by=labeler, is_current=False)
    b = _items(datasets["B"], "b", 1)[0]
    # labeler2 labeled B's item: a labeler of another project, on another dataset.
    Task.objects.create(project=project_b, item=b, state=Task.State.LABELED, labeled_by=labeler2, labeled_at=now)
    c = _items(datasets["C"], "c", 1)[0]
    write_item_files(project_a, DataItem.objects.filter(dataset__in=datasets.values()))  # one folder for all three
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


def test_labeler_sees_only_items_of_tasks_they_hold_or_labeled(labeler_client, ws_url, world, tmp_path,
                                                              django_assert_max_num_queries):
    assert _allowed(labeler_client, ws_url, world) == {"held", "labeled", "rejected"}
    response = labeler_client.get(ws_url("item_image", item=world["held"].uuid))
    assert response["Content-Type"] == "image/jpeg"
    assert b"".join(response.streaming_content) == (tmp_path / "images" / "a" / "0.jpg").read_bytes()
    # The grid loads 9-20 thumbnails a page: session, user, workspace, role, then the item and its rule at once.
    with django_assert_max_num_queries(5):
        assert labeler_client.get(ws_url("item_thumbnail", item=world["labeled"].uuid)).status_code == 200


def test_labeler_of_another_project_sees_only_their_own_items(labeler2, ws_url, world):
    client = Client()
    client.force_login(labeler2)
    assert _allowed(client, ws_url, world) == {"others", "b"}


def test_reviewers_see_project_items_dataset_browsers_all_outsiders_none(
        reviewer_client, manager_client, org_admin_client, outsider_client, ws_url, world):
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
    claimed = labeler_client.post(f"{api}/projects/{project_a.uuid}/tasks/claim/", {"size": 1},
                                  content_type="application/json").json()["tasks"]
    mine = [claimed[0]["image_url"], claimed[0]["thumbnail_url"]]
    assert _fetch_all(labeler_client, mine) == {200}
    mine_now = {str(world[name].uuid) for name in ("held", "labeled", "rejected")} | {t["id"] for t in claimed}
    others = [url for url in dataset_urls if url.split("/items/")[1].split("/")[0] not in mine_now]
    assert len(others) >= 4 and _fetch_all(labeler_client, others) == {404}
    reviewed = reviewer_client.get(f"{api}/projects/{project_a.uuid}/review/items/").json()["results"]
    assert reviewed and _fetch_all(reviewer_client, [row[k] for row in reviewed for k in ("image_url", "thumbnail_url")]) == {200}
