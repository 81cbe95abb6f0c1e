"""The whole workflow through the API with personal tokens: datastore folder → dataset → project → two
labelers → review → COCO export read back with pycocotools."""

import io
import json

import pytest
from django.test import Client
from PIL import Image
from pycocotools.coco import COCO

from projects.tenancy.roles import LABELER
from projects.tenancy.services import api_token_create
from tests.factories import UserFactory

J = {"content_type": "application/json"}


@pytest.fixture
def image_root(settings, tmp_path):
    root = tmp_path / "roots"
    for i in range(8):
        path = root / "animals" / ("cats" if i % 2 else "dogs") / f"img{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        out = io.BytesIO()
        Image.new("RGB", (20 + i, 10 + i), (30 * i, 100, 200)).save(out, "JPEG")
        path.write_bytes(out.getvalue())
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(root)]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return root


def bearer(user):
    _, key = api_token_create(user=user, name="workflow")
    return Client(headers={"Authorization": f"Bearer {key}"})


def test_dataset_to_coco_export_through_the_api(
    org,
    workspace,
    ws_admin,
    manager,
    reviewer,
    labeler,
    image_root,
    celery_eager,
    django_capture_on_commit_callbacks,
    tmp_path,
):
    second = UserFactory.create(username="labeler2", workspace=workspace, role=LABELER)
    admin, boss, rev, lab1, lab2 = (bearer(u) for u in (ws_admin, manager, reviewer, labeler, second))
    ws = "/api/v1/o/acme/vision/"

    store = admin.post(ws + "datastores/", {"name": "Disk", "kind": "local", "local_path": "animals"}, **J)
    assert store.status_code == 201, store.json()
    with django_capture_on_commit_callbacks(execute=True):
        dataset = boss.post(ws + "datasets/", {"name": "Animals", "datastore": store.json()["id"], "path": ""}, **J)
    assert dataset.status_code == 201, dataset.json()
    assert boss.get(f"{ws}datasets/{dataset.json()['id']}/").json()["scan_registered"] == 8

    body = {
        "name": "Cats or dogs",
        "task_type": "multiclass",
        "dataset": dataset.json()["id"],
        "label_classes": ["cat", "dog"],
        "instructions_text": "Pick one.",
    }
    with django_capture_on_commit_callbacks(execute=True):
        project = boss.post(ws + "projects/", body, **J)
    assert project.status_code == 201, project.json()
    p = f"{ws}projects/{project.json()['id']}/"
    assert boss.get(p).json()["state"] == "running"

    # Two labelers take disjoint pages and label by the folder name (the "truth").
    truth: dict = {}
    for client in (lab1, lab2):
        page = client.post(p + "tasks/claim/", {"size": 4}, **J).json()
        labels = {t["id"]: ["cat" if "cats/" in t["key"] else "dog"] for t in page["tasks"]}
        assert not set(labels) & set(truth)
        truth.update(labels)
        assert client.post(p + "tasks/submit/", {"labels": labels}, **J).json() == {"submitted": 4}
    assert boss.get(p).json()["progress"] == {"labeled": 8, "total": 8, "percent": 100}

    # The reviewer approves seven and rejects one.
    items = rev.get(p + "review/items/").json()["results"]
    assert len(items) == 8
    rejected, approved = items[0], items[1:]
    decide = {"decision": "approve", "items": [{"item": i["item"], "version": i["version"]} for i in approved]}
    assert rev.post(p + "review/decisions/", decide, **J).status_code == 200
    reject = {
        "decision": "reject",
        "items": [{"item": rejected["item"], "version": rejected["version"]}],
        "reason": "unsure",
    }
    assert rev.post(p + "review/decisions/", reject, **J).status_code == 200

    # The manager exports approved labels as COCO and reads them back.
    with django_capture_on_commit_callbacks(execute=True):
        export = boss.post(p + "exports/", {"format": "coco", "only_approved": True}, **J)
    assert export.status_code == 201, export.json()
    done = boss.get(f"{p}exports/{export.json()['id']}/").json()
    assert done["state"] == "done", done
    download = boss.get(done["download_url"])
    assert download.status_code == 200
    path = tmp_path / "coco.json"
    path.write_bytes(b"".join(download.streaming_content))
    coco = COCO(str(path))
    names = {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())}
    assert sorted(names.values()) == ["cat", "dog"]
    images = coco.loadImgs(coco.getImgIds())
    assert len(images) == 7
    for image in images:
        (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        expected = "cat" if "cats/" in image["file_name"] else "dog"
        assert names[ann["category_id"]] == expected
    assert json.loads(path.read_text())["images"]
