"""A small labeled project on a local datastore folder of real tiny images, built through the ORM."""

from datetime import UTC, datetime

import pytest
from PIL import Image

from labelsite.celery import app as celery_app
from labeling.models import Annotation, Task
from projects.models import Datastore, DataItem, Dataset, LabelClass, LabelingProject
from review.models import Review

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
def _media_and_eager(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(tmp_path)]
    # FileSystemStorage follows MEDIA_ROOT changes by itself (setting_changed).
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = eager


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


def label_task(task, classes, *, state, user, reviewer=None, suggested=(), suggestion="none"):
    annotation = Annotation.objects.create(task=task, created_by=user, suggestion=suggestion)
    annotation.labels.set(classes)
    annotation.suggested_labels.set(suggested)
    Task.objects.filter(pk=task.pk).update(state=state, labeled_by=user, labeled_at=WHEN, version=task.version + 1)
    if reviewer:
        review = Review.objects.create(task=task, annotation=annotation, decision=Review.Decision.APPROVED,
                                       task_version=task.version + 1, reviewer=reviewer)
        Review.objects.filter(pk=review.pk).update(created_at=REVIEWED)
    return annotation


@pytest.fixture
def make_project(workspace, image_folder):
    def make(name="Pets", task_type=LabelingProject.TaskType.MULTI_LABEL, *, items=True):
        datastore, _ = Datastore.objects.get_or_create(
            workspace=workspace, name="local", defaults={"kind": Datastore.Kind.LOCAL, "local_path": str(image_folder)})
        dataset, _ = Dataset.objects.get_or_create(workspace=workspace, name="pets", defaults={"datastore": datastore})
        project = LabelingProject.objects.create(workspace=workspace, name=name, task_type=task_type, dataset=dataset,
                                                 state=LabelingProject.State.RUNNING)
        for position, label in enumerate(["cat", "dog", "bird"]):
            LabelClass.objects.create(project=project, name=label, position=position, color=position)
        for key, ((width, height), _) in IMAGES.items():
            item, _ = DataItem.objects.get_or_create(
                dataset=dataset, key=key,
                defaults={"state": DataItem.State.READY, "width": width, "height": height,
                          "image_format": "JPEG" if key.endswith(".jpg") else "PNG"})
            Task.objects.create(project=project, item=item)
        return project

    return make


def tasks_by_key(project):
    return {t.item.key: t for t in Task.objects.filter(project=project).select_related("item")}


def classes_of(project):
    return {c.name: c for c in project.label_classes.all()}


@pytest.fixture
def project(make_project, labeler, manager):
    """cats/a.jpg approved [cat] (reviewed; the suggestion cat accepted); dogs/b.png labeled [cat, dog] (the
    suggestion dog changed); cats/sub/a.jpg unlabeled; misc/b c#?.png approved [dog] without a review row."""
    project = make_project()
    tasks, classes = tasks_by_key(project), classes_of(project)
    label_task(tasks["cats/a.jpg"], [classes["cat"]], state=Task.State.APPROVED, user=labeler, reviewer=manager,
               suggested=[classes["cat"]], suggestion="accepted")
    label_task(tasks["dogs/b.png"], [classes["dog"], classes["cat"]], state=Task.State.LABELED, user=labeler,
               suggested=[classes["dog"]], suggestion="changed")
    label_task(tasks["misc/b c#?.png"], [classes["dog"]], state=Task.State.APPROVED, user=labeler)
    return project


def current_labels(project) -> dict[str, list[str]]:
    """{item key: sorted class names} of the current annotations, the way a user sees labels."""
    found: dict[str, list[str]] = {}
    rows = Annotation.labels.through.objects.filter(annotation__task__project=project, annotation__is_current=True)
    for key, name in rows.values_list("annotation__task__item__key", "labelclass__name"):
        found.setdefault(key, []).append(name)
    return {k: sorted(v) for k, v in found.items()}
