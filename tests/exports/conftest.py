"""A small labeled project on a local datastore folder of real tiny images, labeled through the services."""

from datetime import UTC, datetime

import pytest
from PIL import Image

from labeling.models import Annotation, Task
from projects.models import Dataset, LabelingProject
from tests.factories import (
    DataItemFactory,
    DatasetFactory,
    DatastoreFactory,
    ProjectFactory,
    prelabels_add,
    tasks_label,
    tasks_review,
)

WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
REVIEWED = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)

# key -> (size, colour); one key with awkward characters, two files with the same base name.
IMAGES = {
    "cats/a.jpg": ((8, 6), "red"),
    "dogs/b.png": ((5, 4), "blue"),
    "cats/sub/a.jpg": ((7, 7), "green"),
    "misc/b c#?.png": ((3, 2), "yellow"),
}


@pytest.fixture(autouse=True)
def _media_and_eager(settings, tmp_path, celery_eager):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(tmp_path)]
    # FileSystemStorage follows MEDIA_ROOT changes by itself (setting_changed).


@pytest.fixture
def transactional_roles(transactional_db):
    """Role groups for transactional tests: a flush between them runs projects' post_migrate before the
    exports permissions exist, so the groups are not re-created by it. Request this before any persona."""
    from projects.tenancy.roles import sync_roles

    sync_roles()


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "store"
    for key, (size, colour) in IMAGES.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, colour).save(path)
    return root


def pets_dataset(workspace, image_folder):
    """The workspace's dataset "pets" on the image folder, its images registered as a scan would (made once)."""
    found = Dataset.objects.filter(workspace=workspace, name="pets").first()
    if found:
        return found
    datastore = DatastoreFactory.create(workspace=workspace, name="local", local_path=str(image_folder))
    dataset = DatasetFactory.create(workspace=workspace, datastore=datastore, name="pets")
    for key, ((width, height), _) in IMAGES.items():
        DataItemFactory.create(
            dataset=dataset, key=key, width=width, height=height, image_format="JPEG" if key.endswith(".jpg") else "PNG"
        )
    return dataset


@pytest.fixture
def make_project(workspace, image_folder):
    """make_project(name, task_type): a running project on "pets" with a task per image (classes cat, dog, bird)."""

    def make(name="Pets", task_type=LabelingProject.TaskType.MULTI_LABEL, label_names=("cat", "dog", "bird")):
        return ProjectFactory.create(
            workspace=workspace,
            dataset=pets_dataset(workspace, image_folder),
            name=name,
            task_type=task_type,
            label_names=label_names,
        )

    return make


def tasks_by_key(project):
    return {t.item.key: t for t in Task.objects.filter(project=project).select_related("item")}


def classes_of(project):
    return {c.name: c for c in project.label_classes.all()}


@pytest.fixture
def project(make_project, labeler, manager):
    """cats/a.jpg approved [cat] (the suggestion cat accepted); dogs/b.png labeled [cat, dog] (the suggestion dog
    changed); cats/sub/a.jpg unlabeled; misc/b c#?.png approved [dog]. Labeled by `labeler` at WHEN, approved by
    `manager` at REVIEWED."""
    project = make_project()
    tasks, classes = tasks_by_key(project), classes_of(project)
    prelabels_add(
        [tasks["cats/a.jpg"], tasks["dogs/b.png"]],
        {tasks["cats/a.jpg"]: classes["cat"], tasks["dogs/b.png"]: classes["dog"]},
    )
    tasks_label(project, [tasks["cats/a.jpg"]], user=labeler, labels=classes["cat"], when=WHEN)
    tasks_label(project, [tasks["dogs/b.png"]], user=labeler, labels=[classes["dog"], classes["cat"]], when=WHEN)
    tasks_label(project, [tasks["misc/b c#?.png"]], user=labeler, labels=classes["dog"], when=WHEN)
    tasks_review(
        project, [tasks["cats/a.jpg"], tasks["misc/b c#?.png"]], reviewer=manager, decision="approve", when=REVIEWED
    )
    return project


def current_labels(project) -> dict[str, list[str]]:
    """{item key: sorted class names} of the current annotations, the way a user sees labels."""
    found: dict[str, list[str]] = {}
    rows = Annotation.labels.through.objects.filter(annotation__task__project=project, annotation__is_current=True)
    for key, name in rows.values_list("annotation__task__item__key", "labelclass__name"):
        found.setdefault(key, []).append(name)
    return {k: sorted(v) for k, v in found.items()}
