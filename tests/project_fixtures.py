"""Fixtures for project pages and tasks: a datastore, datasets with READY items, projects, eager Celery.

Imported by tests/projects/conftest.py, tests/labeling/conftest.py and tests/browser/conftest.py.
"""

from collections import Counter

import pytest

from projects.models import DataItem, Datastore, Dataset, LabelClass, LabelingProject


@pytest.fixture
def celery_eager():
    """Run Celery tasks inline (and raise their errors) for the duration of a test."""
    from labelsite import celery_app

    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield celery_app
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


def make_dataset(workspace, name="cats-n-dogs", items=0, *, datastore=None):
    datastore = datastore or Datastore.objects.get_or_create(
        workspace=workspace, name="images", defaults={"kind": Datastore.Kind.LOCAL, "local_path": "/srv/images"}
    )[0]
    dataset = Dataset.objects.create(
        workspace=workspace, name=name, datastore=datastore, path="MultiClass - DogsCats",
        scan_state=Dataset.ScanState.DONE, scan_found=items, scan_registered=items,
    )
    add_items(dataset, items)
    return dataset


def add_items(dataset, n, *, start=None, state=DataItem.State.READY):
    start = dataset.items.count() if start is None else start
    DataItem.objects.bulk_create(
        [DataItem(dataset=dataset, key=f"img/{i:07d}.jpg", state=state) for i in range(start, start + n)],
        batch_size=2000,
    )


def make_project(workspace, dataset, name="multi-class-cats-n-dogs", labels=("Cat", "Dog", "Uncertain"),
                 state=LabelingProject.State.RUNNING, **fields):
    project = LabelingProject.objects.create(
        workspace=workspace, name=name, task_type=LabelingProject.TaskType.MULTI_CLASS, dataset=dataset,
        state=state, **fields,
    )
    for i, label in enumerate(labels):
        LabelClass.objects.create(project=project, name=label, position=i, color=i)
    return project


def label_tasks(project, tasks, label_class, user, *, state="labeled"):
    """Label tasks the way the grid will: an annotation, the task state, and every counter."""
    from django.utils import timezone

    from labeling import stats
    from labeling.models import Annotation, Task

    moves: Counter = Counter()
    for task in tasks:
        annotation = Annotation.objects.create(task=task, created_by=user)
        annotation.labels.add(label_class)
        moves[(task.state, state)] += 1
        Task.objects.filter(pk=task.pk).update(state=state, labeled_by=user, labeled_at=timezone.now())
    stats.tasks_moved(project_id=project.pk, moves=moves)
    stats.labels_changed(project_id=project.pk, classes=Counter({label_class.pk: len(tasks)}))
    stats.labeler_counted(project_id=project.pk, user_id=user.pk, labeled=len(tasks))
    stats.activity_counted(project_id=project.pk, labeled=len(tasks))


@pytest.fixture
def dataset(workspace):
    return make_dataset(workspace, items=12)


@pytest.fixture
def project(workspace, dataset, celery_eager):
    from labeling.services import project_tasks_sync

    project = make_project(workspace, dataset, state=LabelingProject.State.INITIALIZING)
    project_tasks_sync(project=project)
    project.refresh_from_db()
    return project
