"""Suggestions over the API: a claimed page shows them, `tasks/accept/` accepts them, a submit records the answer,
and the labeled data, an item's history and the dashboard numbers report it."""

import pytest

from labeling.models import Task
from tests.factories import ProjectFactory, prelabels_add

BASE = "/api/v1/o/acme/vision/projects/"
J = {"content_type": "application/json"}


@pytest.fixture
def project(workspace):
    """Three tasks; in claim order the first suggests cat, the second dog, the third nothing."""
    project = ProjectFactory.create(workspace=workspace, dataset__items=3)
    classes = {c.name: c for c in project.label_classes.all()}
    first, second, _ = Task.objects.filter(project=project).order_by("order_key", "id")
    prelabels_add([first, second], {first: classes["cat"], second: classes["dog"]})
    return project


def url(project, tail):
    return f"{BASE}{project.uuid}/{tail}"


def claim(client, project):
    return client.post(url(project, "tasks/claim/"), {"size": 3}, **J).json()["tasks"]


def test_a_claimed_page_lists_suggestions_apart_from_the_draft(labeler_client, project):
    tasks = claim(labeler_client, project)
    assert [(t["suggested"], t["draft"]) for t in tasks] == [(["cat"], []), (["dog"], []), ([], [])]


def test_accept_makes_the_suggestions_draft_tags(labeler_client, project):
    ids = [t["id"] for t in claim(labeler_client, project)]
    response = labeler_client.post(url(project, "tasks/accept/"), {"tasks": ids}, **J)
    assert response.status_code == 200
    drafts = {t["id"]: t["draft"] for t in response.json()["tasks"]}
    assert [drafts[i] for i in ids] == [["cat"], ["dog"], []]


def test_accept_checks_its_body_and_who_asks(labeler_client, reviewer_client, outsider_client, manager_client, project):
    ids = [t["id"] for t in claim(labeler_client, project)]
    assert labeler_client.post(url(project, "tasks/accept/"), {"tasks": []}, **J).status_code == 400
    assert labeler_client.post(url(project, "tasks/accept/"), {"tasks": ids, "all": True}, **J).status_code == 400
    assert reviewer_client.post(url(project, "tasks/accept/"), {"tasks": ids}, **J).status_code == 403
    assert outsider_client.post(url(project, "tasks/accept/"), {"tasks": ids}, **J).status_code == 404
    assert labeler_client.get(url(project, "tasks/accept/")).status_code == 405
    # Tasks someone else holds are refused, and nothing changes.
    response = manager_client.post(url(project, "tasks/accept/"), {"tasks": ids[:1]}, **J)
    assert response.status_code == 409 and Task.objects.filter(project=project).exclude(draft=[]).count() == 0


def test_submit_records_the_answer_and_the_labeled_data_shows_it(labeler_client, reviewer_client, project):
    first, second, third = (t["id"] for t in claim(labeler_client, project))
    body = {"labels": {first: ["cat"], second: ["bird"], third: ["dog"]}}
    assert labeler_client.post(url(project, "tasks/submit/"), body, **J).json() == {"submitted": 3}
    items = reviewer_client.get(url(project, "review/items/")).json()["results"]
    assert {i["item"]: i["suggestion"] for i in items} == {first: "accepted", second: "changed", third: "none"}
    history = reviewer_client.get(url(project, f"review/items/{second}/")).json()["history"]
    (event,) = [e for e in history if e["kind"] == "annotation"]
    assert (event["suggestion"], event["suggested"], event["labels"]) == ("changed", ["dog"], ["bird"])


def test_stats_report_suggestions_per_class(labeler_client, reviewer_client, project):
    first, second, third = (t["id"] for t in claim(labeler_client, project))
    labeler_client.post(
        url(project, "tasks/submit/"), {"labels": {first: ["cat"], second: ["bird"], third: ["dog"]}}, **J
    )
    suggestions = reviewer_client.get(url(project, "stats/")).json()["suggestions"]
    assert suggestions == [
        {"label": "cat", "suggested": 1, "accepted": 1, "changed": 0, "acceptance_rate": 100},
        {"label": "dog", "suggested": 1, "accepted": 0, "changed": 1, "acceptance_rate": 0},
    ]
