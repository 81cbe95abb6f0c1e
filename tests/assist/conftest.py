"""An ML-assisted project on a local datastore of real (drawn) image files, and helpers to label and run a cycle."""

from __future__ import annotations

import importlib

import pytest

from assist.models import MlRun
from assist.services import ml_cycle_request
from core.features import ml_missing
from labeling.models import Task
from labeling.services import project_tasks_sync
from projects.models import DataItem, Dataset, Datastore, LabelClass, LabelingProject
from tests.assist.images import draw
from tests.conftest import require
from tests.exports.conftest import transactional_roles  # noqa: F401  (fixture, for the real-worker test)
from tests.factories import DatasetFactory, ProjectFactory, tasks_label


@pytest.fixture
def dataset(workspace):
    return DatasetFactory.create(workspace=workspace, name="cats-n-dogs", items=12)


@pytest.fixture
def project(workspace, dataset):
    return ProjectFactory.create(
        workspace=workspace, dataset=dataset, name="multi-class-cats-n-dogs", label_names=("Cat", "Dog", "Uncertain")
    )


@pytest.fixture
def pipeline():
    """ML assist's pipeline module (torch, scikit-learn): imported only by tests that run it, so the rest of the suite
    runs without the ML packages; they are required in CI."""
    missing = ml_missing()
    require(not missing, f"ML assist packages ({', '.join(missing)})", "pip install -r requirements-ml.txt")
    return importlib.import_module("assist.pipeline")


@pytest.fixture
def run_cycle(pipeline):
    """Queue a cycle as Train now does and run it here, as the ML worker would; its runs by kind."""

    def run(project, actor=None) -> dict[str, MlRun]:
        cycle = ml_cycle_request(project=project, actor=actor)
        pipeline.cycle_run(str(cycle))
        return {run.kind: run for run in MlRun.objects.filter(cycle=cycle)}

    return run


@pytest.fixture
def image_root(settings, tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(root)]
    return root


class World:
    """Files on disk, items, a project with its tasks; `kinds` says which class each file was drawn as."""

    def __init__(self, workspace, root, *, per_class: int, task_type: str, broken: int = 0, **ml):
        self.datastore = Datastore.objects.create(
            workspace=workspace, name="drawn", kind=Datastore.Kind.LOCAL, local_path=str(root)
        )
        self.dataset = Dataset.objects.create(
            workspace=workspace, name="drawn", datastore=self.datastore, path="", scan_state=Dataset.ScanState.DONE
        )
        self.kinds: dict[str, str] = {}
        items = []
        for kind in ("Cat", "Dog"):
            for i in range(per_class):
                key = f"{kind.lower()}-{i:03d}.jpg"
                (root / key).write_bytes(draw(kind, i))
                self.kinds[key] = kind
                items.append(DataItem(dataset=self.dataset, key=key, state=DataItem.State.READY))
        for i in range(broken):  # registered as images, but the bytes cannot be decoded
            (root / f"broken-{i}.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
            items.append(DataItem(dataset=self.dataset, key=f"broken-{i}.jpg", state=DataItem.State.READY))
        DataItem.objects.bulk_create(items)
        self.project = LabelingProject.objects.create(
            workspace=workspace,
            name="ML project",
            task_type=task_type,
            dataset=self.dataset,
            state=LabelingProject.State.INITIALIZING,
            ml_assisted=True,
            **{"ml_min_labels": 10, **ml},
        )
        self.classes = {
            name: LabelClass.objects.create(project=self.project, name=name, position=i, color=i)
            for i, name in enumerate(("Cat", "Dog", "Uncertain"))
        }
        project_tasks_sync(project=self.project)
        self.project.refresh_from_db()

    def tasks(self, kind: str | None = None):
        tasks = Task.objects.filter(project=self.project).select_related("item").order_by("item__key")
        return [t for t in tasks if kind is None or self.kinds.get(t.item.key) == kind]

    def label(self, n_per_class: int, user, *, start: int = 0, wrong: bool = False) -> list[Task]:
        """Label n images of each class from `start` on (with the other class when `wrong`)."""
        done = []
        for kind, other in (("Cat", "Dog"), ("Dog", "Cat")):
            tasks = self.tasks(kind)[start : start + n_per_class]
            tasks_label(self.project, tasks, user=user, labels=self.classes[other if wrong else kind])
            done += tasks
        return done


@pytest.fixture
def make_world(workspace, image_root, db):
    def make(per_class=20, task_type=LabelingProject.TaskType.MULTI_CLASS, **kwargs):
        return World(workspace, image_root, per_class=per_class, task_type=task_type, **kwargs)

    return make
