"""A label class named in a request reads the same everywhere: pages post its UUID, the API and imported files may use
its name (ignoring case) or UUID, an unknown name is refused with the same sentence, and a removed class is refused
where a new tag would be set but still names the tags it left (the review filters)."""

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from exports.services import labels_import
from labeling import services as labeling
from labeling.models import Task
from projects.definition.label_classes import LabelClassResolver, label_class_resolver
from projects.models import LabelClass
from tests.factories import ProjectFactory, TaskFactory, owner

HTMX = {"HX-Request": "true"}
J = {"content_type": "application/json"}


@pytest.fixture
def project(workspace, labeler):
    """Classes Cat, Dog and Bird; a task tagged Cat and one tagged Bird await review; then Bird was removed
    (keeping its tags)."""
    project = ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=("Cat", "Dog", "Bird"))
    cat, _dog, bird = project.label_classes.order_by("position")
    for label in (cat, bird):
        TaskFactory.create(project=project, state=Task.State.LABELED, labeler=labeler, labels=label)
    labeling.label_class_remove(project=project, label_class=bird, requeue=False, actor=owner())
    return project


@pytest.fixture
def cat(project):
    return project.label_classes.get(name="Cat")


@pytest.fixture
def bird(project):
    return project.label_classes.get(name="Bird")


@pytest.fixture
def held(project, labeler):
    """The ids of three tasks held by the labeler."""
    TaskFactory.create_batch(3, project=project)
    return [task.pk for task in labeling.tasks_claim(project=project, user=labeler, size=3)]


def _api(project, what):
    return f"/api/v1/o/acme/vision/projects/{project.uuid}/{what}/"


# --- the resolver ------------------------------------------------------------------------------------


def test_a_class_is_named_by_its_uuid_or_its_name_ignoring_case_and_spaces(project, cat):
    classes = label_class_resolver(project=project)
    for ref in (str(cat.uuid), str(cat.uuid).upper(), cat.uuid.hex, "Cat", "cat", " CAT "):
        assert classes.one(ref) == cat, ref
    assert classes.many(["cat", str(cat.uuid), "Dog"]) == [cat, project.label_classes.get(name="Dog")]  # each once
    assert [c.name for c in classes.active] == ["Cat", "Dog"]


def test_unknown_names_and_removed_classes_are_refused_with_a_code(project, bird):
    classes = label_class_resolver(project=project)
    with pytest.raises(ValidationError) as unknown:
        classes.one("zebra")
    assert unknown.value.code == "label_class_unknown" and unknown.value.params == {"label": "zebra"}
    assert unknown.value.messages == ["Unknown label class 'zebra': not a class of this project."]
    with pytest.raises(ValidationError) as removed:
        classes.one("bird")
    assert removed.value.code == "label_class_removed" and "'Bird' was removed" in removed.value.messages[0]
    assert classes.one("bird", removed=True) == bird  # where existing tags are named
    with pytest.raises(ValidationError) as on_field:
        classes.many(["Cat", "zebra"], field="labels")
    assert list(on_field.value.message_dict) == ["labels"]


def test_a_spelling_two_classes_share_ignoring_case_names_neither_but_their_exact_names_do():
    # SQLite's lower() folds ASCII only, so "É" and "é" can be two classes there.
    upper, lower = LabelClass(name="École", position=0), LabelClass(name="école", position=1)
    classes = LabelClassResolver([upper, lower])
    assert classes.one("École") is upper and classes.one("école") is lower
    with pytest.raises(ValidationError):
        classes.one("ÉCOLE")


# --- every entry point answers the same ------------------------------------------------------------


def test_the_labeling_api_takes_names_in_any_case_and_uuids(project, held, cat, labeler_client):
    tasks = [str(t.item.uuid) for t in Task.objects.filter(pk__in=held).select_related("item")]
    tagged = labeler_client.post(_api(project, "tasks/tags"), {"tasks": tasks[:1], "labels": ["CAT"]}, **J)
    assert tagged.status_code == 200 and tagged.json()["tasks"][0]["draft"] == ["Cat"]
    body = {"labels": {tasks[0]: ["cat"], tasks[1]: [str(cat.uuid)], tasks[2]: ["Dog"]}}
    assert labeler_client.post(_api(project, "tasks/submit"), body, **J).json() == {"submitted": 3}


@pytest.mark.parametrize("ref, message", [("zebra", "Unknown label class 'zebra'"), ("Bird", "'Bird' was removed")])
def test_the_labeling_api_refuses_unknown_and_removed_classes(project, held, labeler_client, ref, message):
    task = str(Task.objects.filter(pk__in=held).first().item.uuid)
    for url, body in (
        (_api(project, "tasks/tags"), {"tasks": [task], "labels": [ref]}),
        (_api(project, "tasks/submit"), {"labels": {task: [ref]}}),
    ):
        response = labeler_client.post(url, body, **J)
        assert response.status_code == 400 and message in response.json()["errors"]["labels"][0]
    assert not Task.objects.filter(pk__in=held).exclude(draft=[]).exists()


def test_the_grid_posts_uuids_and_refuses_a_removed_class_where_the_labeler_acted(
    project, held, cat, bird, labeler_client, ws_url
):
    grid = labeler_client.get(ws_url("labeling:grid", project=project.uuid)).content.decode()
    assert f'name="label" value="{cat.uuid}"' in grid and f'name="label" value="{cat.pk}"' not in grid
    assert f'value="{bird.uuid}"' not in grid  # removed: not offered
    items = [str(t.item.uuid) for t in Task.objects.filter(pk__in=held).select_related("item")]
    tag = ws_url("labeling:tag", project=project.uuid)
    refused = labeler_client.post(tag, {"items": items, "label": str(bird.uuid)}, headers=HTMX)
    assert refused.status_code == 422 and refused["HX-Retarget"] == "#grid-alert"
    assert "was removed from this project" in refused.content.decode()
    assert labeler_client.post(tag, {"items": items, "label": str(cat.pk)}, headers=HTMX).status_code == 422  # ids: no
    assert labeler_client.post(tag, {"items": items, "label": str(cat.uuid)}, headers=HTMX).status_code == 200
    assert [t.draft for t in Task.objects.filter(pk__in=held)] == [[cat.pk]] * 3


def test_a_removed_class_takes_no_draft_tag_in_the_service_either(project, held, labeler, bird):
    with pytest.raises(ValidationError):
        labeling.draft_set(project=project, user=labeler, task_ids=held[:1], label_ids=[bird.pk])


@pytest.fixture
def awaiting(project):
    """Two tasks awaiting review: one tagged Cat, one tagged Bird before Bird was removed (the tag stays)."""
    return list(Task.objects.filter(project=project, state=Task.State.LABELED).select_related("item").order_by("pk"))


def test_review_corrections_take_names_or_uuids_and_refuse_removed_classes(project, awaiting, reviewer_client, ws_url):
    first, second = awaiting
    decide = _api(project, "review/decisions")

    def body(task, labels):
        return {
            "decision": "correct",
            "items": [{"item": str(task.item.uuid), "version": task.version}],
            "labels": labels,
        }

    removed = reviewer_client.post(decide, body(first, ["bird"]), **J)
    assert removed.status_code == 400 and "'Bird' was removed" in removed.json()["errors"]["labels"][0]
    assert reviewer_client.post(decide, body(first, ["DOG"]), **J).status_code == 200
    item_page = ws_url("review:item", project=project.uuid, item=second.item.uuid)
    page = reviewer_client.get(item_page).content.decode()
    dog = project.label_classes.get(name="Dog")
    assert f'name="labels" value="{dog.uuid}"' in page and "Bird</span></label>" not in page  # not offered
    bird = project.label_classes.get(name="Bird")
    refused = reviewer_client.post(
        ws_url("review:decide", project=project.uuid),
        {
            "items": f"{second.item.uuid}:{second.version}",
            "decision": "correct",
            "labels": str(bird.uuid),
            "mode": "item",
        },
    )
    assert refused.status_code == 422 and "was removed from this project" in refused.content.decode()
    done = reviewer_client.post(
        ws_url("review:decide", project=project.uuid),
        {
            "items": f"{second.item.uuid}:{second.version}",
            "decision": "correct",
            "labels": str(dog.uuid),
            "mode": "item",
        },
    )
    assert done.status_code == 302


def test_review_filters_name_a_class_ignoring_case_or_by_uuid_and_still_find_a_removed_ones_tags(
    project, awaiting, bird, reviewer_client, ws_url
):
    items = _api(project, "review/items")
    for ref in ("bird", "BIRD", str(bird.uuid)):
        found = reviewer_client.get(items, {"class": ref}).json()["results"]
        assert [row["labels"] for row in found] == [["Bird"]], ref
    unknown = reviewer_client.get(items, {"class": "zebra"})
    assert unknown.status_code == 400 and "Unknown label class 'zebra'" in unknown.json()["errors"]["class"][0]
    page = reviewer_client.get(ws_url("review:labeled", project=project.uuid), {"class": "bird"}, headers=HTMX)
    assert page.status_code == 200 and page["HX-Push-Url"].endswith("?class=Bird")  # the canonical name in the URL
    assert (
        str(awaiting[1].item.uuid) in page.content.decode() and str(awaiting[0].item.uuid) not in page.content.decode()
    )


def test_imports_resolve_names_the_same_way_and_refuse_removed_classes(project, manager, cat):
    keys = sorted(task.item.key for task in TaskFactory.create_batch(3, project=project))
    csv = "image_url,label\n" + "".join(
        f"{key},{label}\n" for key, label in zip(keys, ["CAT", str(cat.uuid), "bird"], strict=True)
    )
    report = labels_import(
        project=project, actor=manager, file=SimpleUploadedFile("l.csv", csv.encode()), format="csv", as_final=True
    )
    assert report.applied == 2
    assert report.invalid == [("line 4", "The label class 'Bird' was removed from this project: choose another one.")]
