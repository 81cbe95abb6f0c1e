"""Importing labels: round trips from our own exports, Azure ML files, the report, and all-or-nothing."""

import json

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from exports.services import export_create, labels_import
from labeling.models import Annotation, ClassCount, PreLabel, Task, TaskStateCount
from labeling.selectors import prelabels_for
from review.models import Review
from tests.exports.conftest import classes_of, current_labels, tasks_by_key


def upload(data: bytes, name="labels"):
    return SimpleUploadedFile(name, data)


@pytest.fixture
def exported(project, manager, django_capture_on_commit_callbacks):
    def run(format):
        with django_capture_on_commit_callbacks(execute=True):
            export = export_create(project=project, actor=manager, format=format)
        export.refresh_from_db()
        with default_storage.open(export.file, "rb") as fh:
            return fh.read()

    return run


@pytest.mark.parametrize("format", ["coco", "jsonl", "csv"])
def test_export_then_import_into_a_fresh_project_gives_the_same_labels(
    format, project, exported, make_project, manager
):
    data = exported(format)
    fresh = make_project("Fresh copy")
    report = labels_import(project=fresh, actor=manager, file=upload(data), format=format, as_final=True)
    assert report.matched == report.applied == 3 and not report.unmatched and not report.invalid
    assert (
        current_labels(fresh)
        == current_labels(project)
        == {"cats/a.jpg": ["cat"], "dogs/b.png": ["cat", "dog"], "misc/b c#?.png": ["dog"]}
    )
    states = dict(Task.objects.filter(project=fresh).values_list("item__key", "state"))
    assert states["cats/a.jpg"] == "approved" and states["cats/sub/a.jpg"] == "unlabeled"
    moved = dict(TaskStateCount.objects.filter(project=fresh).values_list("state", "count"))
    assert moved["approved"] == 3  # the dashboard counters moved in the same transaction
    counts = dict(ClassCount.objects.filter(project=fresh).values_list("label_class__name", "count"))
    assert counts == {"cat": 2, "dog": 2}
    assert Review.objects.filter(task__project=fresh, decision="approved").count() == 3


def test_importing_the_same_file_twice_changes_nothing_the_second_time(project, exported, make_project, manager):
    data = exported("coco")
    fresh = make_project("Fresh copy")
    labels_import(project=fresh, actor=manager, file=upload(data), format="coco", as_final=True)
    again = labels_import(project=fresh, actor=manager, file=upload(data), format="coco", as_final=True)
    assert again.applied == 0 and again.unchanged == 3
    assert Annotation.objects.filter(task__project=fresh).count() == 3


def test_azure_ml_jsonl_and_url_label_csv_match_items_by_url(make_project, manager):
    project = make_project("From Azure")
    lines = [
        {
            "image_url": "azureml://subscriptions/x/resourcegroups/y/workspaces/z/datastores/store/paths/cats/a.jpg",
            "image_details": {"format": "jpg", "width": "8px", "height": "6px"},
            "label": "cat",
        },
        {"image_url": "AmlDatastore://store/dogs/b.png", "label": ["dog", "cat"]},
        {"image_url": "https://acct.blob.core.windows.net/container/misc/b%20c%23%3F.png", "label": ["Dog"]},
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode()
    report = labels_import(project=project, actor=manager, file=upload(data), format="jsonl", as_final=True)
    assert report.applied == 3, report
    assert current_labels(project) == {"cats/a.jpg": ["cat"], "dogs/b.png": ["cat", "dog"], "misc/b c#?.png": ["dog"]}
    csv_data = b"Url,Label\r\ns3://bucket/cats/sub/a.jpg,\"['bird', 'cat']\"\r\n"
    report = labels_import(project=project, actor=manager, file=upload(csv_data), format="csv", as_final=True)
    assert report.applied == 1 and current_labels(project)["cats/sub/a.jpg"] == ["bird", "cat"]


def test_report_lists_unmatched_and_invalid_rows_and_imports_the_rest(make_project, manager):
    project = make_project("Mixed", task_type="multiclass")
    data = (
        b"image_url,label\n"
        b"cats/a.jpg,cat\n"
        b"nowhere/z.jpg,cat\n"
        b"dogs/b.png,zebra\n"
        b"misc/b c#?.png,cat|dog\n"
        b"cats/sub/a.jpg,\n"
        b",cat\n"
    )
    report = labels_import(project=project, actor=manager, file=upload(data), format="csv", as_final=True)
    assert report.rows == 6 and report.applied == 1
    assert report.unmatched == ["nowhere/z.jpg"]
    reasons = dict(report.invalid)
    assert reasons["line 4"] == "unknown class “zebra” (this project's classes: cat, dog, bird)"
    assert "more than one label" in reasons["line 5"]
    assert reasons["line 6"] == "it has no label" and reasons["line 7"] == "the row has no image URL"
    assert [kind for kind, *_ in report.refused] == ["row", "image", "class", "row", "row"]
    assert current_labels(project) == {"cats/a.jpg": ["cat"]}


def test_a_fatal_error_imports_nothing(project, exported, make_project, manager, monkeypatch):
    data = exported("csv")
    fresh = make_project("Fresh copy")
    from labeling import stats

    def broken(self):
        raise RuntimeError("database went away")

    monkeypatch.setattr(stats.Tally, "save", broken)  # the last write of the import
    with pytest.raises(RuntimeError):
        labels_import(project=fresh, actor=manager, file=upload(data), format="csv", as_final=True)
    assert Annotation.objects.filter(task__project=fresh).count() == 0
    assert set(Task.objects.filter(project=fresh).values_list("state", flat=True)) == {"unlabeled"}
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        labels_import(
            project=fresh, actor=manager, file=upload(b"just,some\nother,columns\n"), format="csv", as_final=True
        )
    with pytest.raises(ValidationError):
        labels_import(project=fresh, actor=manager, file=upload(b'{"images": [], "annot'), format="coco", as_final=True)


def test_prelabels_land_on_unlabeled_tasks_only_and_the_grid_can_read_them(project, manager):
    data = b"image_url,label\ncats/sub/a.jpg,bird|cat\ncats/a.jpg,dog\n"
    report = labels_import(project=project, actor=manager, file=upload(data), format="csv", as_final=False)
    assert report.applied == 1 and report.skipped == 1
    tasks, classes = tasks_by_key(project), classes_of(project)
    target = tasks["cats/sub/a.jpg"]
    assert prelabels_for([t.pk for t in tasks.values()]) == {target.pk: [classes["cat"].pk, classes["bird"].pk]}
    target.refresh_from_db()
    assert target.state == "unlabeled" and current_labels(project)["cats/a.jpg"] == ["cat"]
    # Importing again replaces the suggestion instead of adding a second one.
    labels_import(
        project=project,
        actor=manager,
        file=upload(b"image_url,label\ncats/sub/a.jpg,dog\n"),
        format="csv",
        as_final=False,
    )
    assert PreLabel.objects.count() == 1 and prelabels_for([target.pk]) == {target.pk: [classes["dog"].pk]}


def test_coco_annotations_pointing_nowhere_are_reported(make_project, manager):
    project = make_project("Coco")
    coco = {
        "images": [{"id": 1, "file_name": "cats/a.jpg"}],
        "categories": [{"id": 7, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7},
            {"id": 2, "image_id": 9, "category_id": 7},
            {"id": 3, "image_id": 1, "category_id": 99},
        ],
    }
    report = labels_import(
        project=project, actor=manager, file=upload(json.dumps(coco).encode()), format="coco", as_final=True
    )
    assert report.applied == 1 and [line for line, _ in report.invalid] == ["annotation 2", "annotation 3"]


def test_a_coco_file_name_without_folders_does_not_beat_the_full_url(make_project, manager):
    project = make_project("Azure coco")
    from labeling.models import Task
    from projects.models import DataItem

    root_a = DataItem.objects.create(dataset=project.dataset, key="a.jpg", state="ready")
    Task.objects.create(project=project, item=root_a)
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "coco_url": "AmlDatastore://store/cats/sub/a.jpg"}],
        "categories": [{"id": 1, "name": "bird"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1}],
    }
    labels_import(project=project, actor=manager, file=upload(json.dumps(coco).encode()), format="coco", as_final=True)
    assert current_labels(project) == {"cats/sub/a.jpg": ["bird"]}
