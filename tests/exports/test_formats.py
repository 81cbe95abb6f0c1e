"""Each export format against a golden file, and read back the way users' training code reads it."""

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from pycocotools.coco import COCO

from exports.models import Export
from exports.services import export_create
from tests.exports.conftest import REVIEWED, WHEN, classes_of, current_labels, pets_dataset, tasks_by_key
from tests.factories import DataItemFactory, tasks_label, tasks_review

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def run_export(django_capture_on_commit_callbacks, manager):
    def run(project, format, **options):
        with django_capture_on_commit_callbacks(execute=True):
            export = export_create(project=project, actor=manager, format=format, **options)
        export.refresh_from_db()
        assert export.state == Export.State.DONE, export.error
        with default_storage.open(export.file, "rb") as fh:
            return export, fh.read()

    return run


def golden(name, project):
    """The golden file with {item:<key>} / {class:<name>} placeholders filled with this run's ids."""
    text = (GOLDEN / name).read_text()
    for key, task in tasks_by_key(project).items():
        text = text.replace(f"{{item:{key}}}", str(task.item_id))
    for label, cls in classes_of(project).items():
        text = text.replace(f"{{class:{label}}}", str(cls.pk))
    return text


def test_coco_matches_golden_and_loads_with_pycocotools(project, run_export, tmp_path):
    export, data = run_export(project, "coco")
    produced = json.loads(data)
    assert produced["info"].pop("date_created")
    assert produced == json.loads(golden("coco.json", project))
    path = tmp_path / "export.json"
    path.write_bytes(data)
    coco = COCO(str(path))
    cat = classes_of(project)["cat"].pk
    keys = {img["file_name"] for img in coco.loadImgs(coco.getImgIds(catIds=[cat]))}
    assert keys == {"cats/a.jpg", "dogs/b.png"}
    assert export.item_count == 3 and export.size == len(data) and export.total == 3


def test_coco_can_include_unlabeled_images_without_annotations(project, run_export, tmp_path):
    _, data = run_export(project, "coco", include_unlabeled=True)
    path = tmp_path / "export.json"
    path.write_bytes(data)
    coco = COCO(str(path))
    unlabeled = tasks_by_key(project)["cats/sub/a.jpg"].item_id
    assert len(coco.getImgIds()) == 4 and coco.getAnnIds(imgIds=[unlabeled]) == []


def test_only_approved_leaves_out_labels_awaiting_review(project, run_export, tmp_path):
    _, data = run_export(project, "coco", only_approved=True)
    images = {img["file_name"] for img in json.loads(data)["images"]}
    assert images == {"cats/a.jpg", "misc/b c#?.png"}
    _, data = run_export(project, "csv", only_approved=True)
    assert [row["image_url"] for row in csv.DictReader(io.StringIO(data.decode()))] == ["cats/a.jpg", "misc/b c#?.png"]


def test_csv_matches_golden_with_labeler_reviewer_and_state(project, run_export):
    _, data = run_export(project, "csv")
    assert data.decode() == golden("labels.csv", project)
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert rows[1]["label"].split("|") == ["cat", "dog"]
    assert rows[0]["reviewer"] == "manager" and rows[1]["reviewer"] == ""


def test_csv_cells_never_start_a_formula_and_import_back_exactly(
    make_project, make_user, run_export, manager, workspace, image_folder
):
    """OWASP CSV injection: labels, user names and file names starting with = + - @ (or tab, CR) are text."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from exports.services import labels_import

    for key in ("-2+3.jpg", "@SUM(1)/x.jpg"):
        DataItemFactory.create(dataset=pets_dataset(workspace, image_folder), key=key)
    formulas = ("cat", "dog", "bird", '=HYPERLINK("http://x")', "'+quoted")
    project = make_project("Formulas", label_names=formulas)
    tasks, classes = tasks_by_key(project), classes_of(project)
    tasks_label(
        project, [tasks["-2+3.jpg"]], user=make_user("@evil"), labels=classes['=HYPERLINK("http://x")'], when=WHEN
    )
    tasks_review(project, [tasks["-2+3.jpg"]], reviewer=make_user("+reviewer"), decision="approve", when=REVIEWED)
    tasks_label(project, [tasks["@SUM(1)/x.jpg"]], user=make_user("\tminus"), labels=classes["'+quoted"], when=WHEN)
    _, data = run_export(project, "csv")
    assert data.decode().splitlines()[1:] == [
        '\'-2+3.jpg,"\'=HYPERLINK(""http://x"")",\'@evil,2026-03-01T09:30:00Z,\'+reviewer,2026-03-02T10:00:00Z,approved,none',
        "'@SUM(1)/x.jpg,''+quoted,'\tminus,2026-03-01T09:30:00Z,,,labeled,none",
    ]
    for row in csv.reader(io.StringIO(data.decode())):
        assert all(not cell or cell[0] not in "=+-@\t\r" for cell in row)
    fresh = make_project("Fresh", label_names=formulas)
    report = labels_import(
        project=fresh, actor=manager, file=SimpleUploadedFile("l.csv", data), format="csv", as_final=True
    )
    assert report.applied == 2 and not report.unmatched
    assert current_labels(fresh) == {"-2+3.jpg": ['=HYPERLINK("http://x")'], "@SUM(1)/x.jpg": ["'+quoted"]}


def test_jsonl_matches_golden_in_azure_ml_schema(project, run_export):
    _, data = run_export(project, "jsonl")
    assert data.decode() == golden("dataset.jsonl", project)
    lines = [json.loads(line) for line in data.decode().splitlines()]
    assert all(set(line) == {"image_url", "image_details", "label", "suggestion"} for line in lines)
    assert lines[1]["label"] == ["cat", "dog"]


def test_jsonl_label_is_a_string_in_multiclass_projects(make_project, run_export, labeler):
    project = make_project("Single", task_type="multiclass")
    tasks_label(
        project, [tasks_by_key(project)["dogs/b.png"]], user=labeler, labels=classes_of(project)["dog"], when=WHEN
    )
    _, data = run_export(project, "jsonl")
    assert json.loads(data)["label"] == "dog"


def test_suggestions_answered_in_the_grid_reach_every_format(make_project, run_export, labeler, tmp_path):
    """Pre-labels imported, accepted or changed by a labeler: each format says so, and our CSV still imports back."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from exports.services import labels_import
    from labeling import services

    project = make_project("Suggested", task_type="multiclass")
    prelabels = b"image_url,label\ncats/a.jpg,cat\ndogs/b.png,cat\n"
    labels_import(
        project=project, actor=labeler, file=SimpleUploadedFile("p.csv", prelabels), format="csv", as_final=False
    )
    page = services.tasks_claim(project=project, user=labeler, size=4)
    classes, by_id = classes_of(project), {t.id: t.item.key for t in page}
    chosen = {"cats/a.jpg": "cat", "dogs/b.png": "dog", "cats/sub/a.jpg": "bird", "misc/b c#?.png": "bird"}
    services.suggestions_accept(project=project, user=labeler, task_ids=[t.id for t in page])
    services.page_submit(
        project=project, user=labeler, labels={pk: [classes[chosen[key]].pk] for pk, key in by_id.items()}
    )
    expected = {"cats/a.jpg": "accepted", "dogs/b.png": "changed", "cats/sub/a.jpg": "none", "misc/b c#?.png": "none"}

    _, data = run_export(project, "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert {row["image_url"]: row["suggestion"] for row in rows} == expected
    _, data = run_export(project, "jsonl")
    assert {line["image_url"]: line["suggestion"] for line in map(json.loads, data.decode().splitlines())} == expected
    _, data = run_export(project, "coco")
    path = tmp_path / "coco.json"
    path.write_bytes(data)
    coco = COCO(str(path))
    files = {image["id"]: image["file_name"] for image in coco.dataset["images"]}
    assert {files[a["image_id"]]: a["attributes"]["suggestion"] for a in coco.dataset["annotations"]} == expected

    _, data = run_export(project, "csv")
    fresh = make_project("Back", task_type="multiclass")
    report = labels_import(
        project=fresh, actor=labeler, file=SimpleUploadedFile("l.csv", data), format="csv", as_final=True
    )
    assert report.applied == 4 and not report.invalid


def test_imagefolder_zip_holds_class_folders_with_the_real_images(project, run_export, image_folder):
    _, data = run_export(project, "imagefolder")
    archive = zipfile.ZipFile(io.BytesIO(data))
    names = sorted(archive.namelist())
    assert "\n".join(names) + "\n" == golden("imagefolder.txt", project)
    # What torchvision's ImageFolder does: one class per top folder, every file below is a sample of it.
    samples: dict = {}
    for name in names:
        folder, file = name.split("/")
        samples.setdefault(folder, []).append(file)
        assert not name.startswith("/") and ".." not in name.split("/")
    assert sorted(samples) == ["cat", "dog"]
    tasks = tasks_by_key(project)
    entry = f"dog/{tasks['misc/b c#?.png'].item_id}_b_c_.png"
    assert archive.read(entry) == (image_folder / "misc" / "b c#?.png").read_bytes()
