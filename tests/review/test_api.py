"""Review API: labeled items with filters, history, decisions with versions (409 on conflict), the queue."""

import pytest

from labeling.models import Task
from review.models import Review
from tests.factories import TaskFactory, tasks_label, tasks_review


@pytest.fixture
def api_url(project):
    def build(what, item=None):
        base = f"/api/v1/o/acme/vision/projects/{project.uuid}/review/{what}/"
        return f"{base}{item}/" if item else base

    return build


def decide(client, api_url, tasks, decision, **extra):
    body = {"decision": decision, "items": [{"item": str(t.item.uuid), "version": t.version} for t in tasks], **extra}
    return client.post(api_url("decisions"), body, content_type="application/json")


def test_permission_matrix(
    api_url, labeled, reviewer_client, manager_client, labeler_client, outsider_client, anon_client
):
    item = labeled[0].item.uuid
    for url in (api_url("items"), api_url("items", item), api_url("queue")):
        assert reviewer_client.get(url).status_code == 200
        assert manager_client.get(url).status_code == 200
        assert labeler_client.get(url).status_code == 403
        assert outsider_client.get(url).status_code == 404
        assert anon_client.get(url).status_code in (401, 403)
    assert decide(labeler_client, api_url, labeled[:1], "approve").status_code == 403
    assert decide(outsider_client, api_url, labeled[:1], "approve").status_code == 404
    assert Task.objects.get(pk=labeled[0].pk).state == Task.State.LABELED


def test_list_with_filters(api_url, project, labeled, labeler2, classes, reviewer_client):
    TaskFactory.create_batch(2, project=project, state=Task.State.LABELED, labeler=labeler2, labels=classes[1])
    body = reviewer_client.get(api_url("items")).json()
    assert len(body["results"]) == 7 and body["next"] is None and body["previous"] is None
    first = body["results"][0]
    assert set(first) >= {
        "item",
        "key",
        "state",
        "version",
        "labels",
        "labeled_by",
        "labeled_at",
        "thumbnail_url",
        "image_url",
    }
    dogs = reviewer_client.get(api_url("items"), {"class": "Dog"}).json()
    assert (
        len(dogs["results"]) == 2
        and dogs["results"][0]["labels"] == ["Dog"]
        and dogs["results"][0]["labeled_by"] == "labeler2"
    )
    assert len(reviewer_client.get(api_url("items"), {"labeler": "labeler", "sort": "oldest"}).json()["results"]) == 5
    assert reviewer_client.get(api_url("items"), {"state": "bogus"}).status_code == 400


def test_bulk_reject_then_history(api_url, project, labeled, labeler, classes, reviewer_client):
    response = decide(reviewer_client, api_url, labeled[:2], "reject", reason="too dark")
    assert response.status_code == 200
    body = response.json()
    assert body["decision"] == "rejected" and [d["state"] for d in body["decided"]] == ["unlabeled", "unlabeled"]
    assert all(d["version"] == 2 for d in body["decided"])
    tasks_label(project, labeled[:1], user=labeler, labels=classes[1])
    history = reviewer_client.get(api_url("items", labeled[0].item.uuid)).json()["history"]
    assert [e["kind"] for e in history] == ["annotation", "review", "annotation"]
    assert history[0]["labels"] == ["Cat"] and history[0]["current"] is False
    assert history[1]["decision"] == "rejected" and history[1]["reason"] == "too dark" and history[1]["version"] == 1
    assert history[2]["labels"] == ["Dog"] and history[2]["current"] is True


def test_conflict_is_409_json_and_retry_is_idempotent(api_url, project, labeled, labeler, classes, reviewer_client):
    first = decide(reviewer_client, api_url, labeled[:2], "approve")
    again = decide(reviewer_client, api_url, labeled[:2], "approve")
    assert first.status_code == again.status_code == 200
    assert len(again.json()["decided"]) == 0 and len(again.json()["unchanged"]) == 2
    assert Review.objects.count() == 2
    tasks_review(project, labeled[2:3], decision="reject")  # another reviewer sends it back…
    tasks_label(project, labeled[2:3], user=labeler, labels=classes[1])  # …and it is labeled again
    stale = decide(reviewer_client, api_url, [labeled[3], Task(item=labeled[2].item, version=1)], "reject")
    assert stale.status_code == 409
    assert stale.json()["code"] == "conflict" and "changed meanwhile" in stale.json()["message"]
    assert Task.objects.get(pk=labeled[3].pk).state == Task.State.LABELED


def test_self_review_refused_and_reason_rule(api_url, project, manager, manager_client, labeled, reviewer_client):
    mine = TaskFactory.create_batch(1, project=project, state=Task.State.LABELED, labeler=manager)
    response = decide(manager_client, api_url, mine, "approve")
    assert response.status_code == 403 and "someone else" in response.json()["message"]
    project.require_reject_reason = True
    project.save()
    response = decide(reviewer_client, api_url, labeled[:1], "reject")
    assert response.status_code == 400 and "reason" in response.json()["errors"]


def test_strict_body_and_correct(api_url, labeled, reviewer_client):
    assert decide(reviewer_client, api_url, labeled[:1], "approve", reviewer=1).status_code == 400
    assert decide(reviewer_client, api_url, labeled[:1], "correct", labels=["Nope"]).status_code == 400
    response = decide(reviewer_client, api_url, labeled[:1], "correct", labels=["Bird"])
    assert response.status_code == 200 and response.json()["decision"] == "corrected"
    assert reviewer_client.get(api_url("items", labeled[0].item.uuid)).json()["labels"] == ["Bird"]


def test_queue_claim(api_url, labeled, reviewer_client, reviewer2, client_for):
    mine = reviewer_client.post(api_url("queue"), {"size": 4}, content_type="application/json").json()
    theirs = client_for(reviewer2).post(api_url("queue"), {"size": 4}, content_type="application/json").json()
    assert len(mine) == 4 and len(theirs) == 1
    assert not {i["item"] for i in mine} & {i["item"] for i in theirs}
    assert [i["item"] for i in reviewer_client.get(api_url("queue"), {"size": 4}).json()] == [i["item"] for i in mine]


def test_skipped_items_api_for_managers(api_url, project, labeler, manager_client, reviewer_client, outsider_client):
    skipped = TaskFactory.create_batch(3, project=project, state=Task.State.SKIPPED, labeler=labeler)
    assert reviewer_client.get(api_url("skipped")).status_code == 403
    assert outsider_client.get(api_url("skipped")).status_code == 404
    assert len(manager_client.get(api_url("skipped")).json()["results"]) == 3
    body = {"action": "requeue", "items": [{"item": str(skipped[0].item.uuid), "version": skipped[0].version}]}
    assert manager_client.post(api_url("skipped"), body, content_type="application/json").json() == {
        "action": "requeue",
        "changed": 1,
    }
    assert manager_client.post(api_url("skipped"), body, content_type="application/json").json()["changed"] == 0
    body = {"action": "remove", "items": [{"item": str(t.item.uuid), "version": 5} for t in skipped[1:]]}
    response = manager_client.post(api_url("skipped"), body, content_type="application/json")
    assert response.status_code == 409 and Task.objects.filter(project=project).count() == 3
