"""Builders of review test data through the ORM (datastore → dataset → items → project → tasks → annotations)."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import timedelta

from django.utils import timezone

from labeling import stats
from labeling.models import Annotation, Task
from projects.models import Datastore, Dataset, DataItem, LabelClass, LabelingProject
from tests.images import write_item_files

_seq = itertools.count(1)
# Where test datastores point; browser tests set it to a real folder so images can be served.
LOCAL_PATH = "/srv/images"


def make_project(workspace, *, name=None, classes=("Cat", "Dog", "Bird"), task_type=LabelingProject.TaskType.MULTI_CLASS, **flags):
    n = next(_seq)
    store = Datastore.objects.create(workspace=workspace, name=f"store-{n}", kind=Datastore.Kind.LOCAL, local_path=LOCAL_PATH)
    dataset = Dataset.objects.create(workspace=workspace, name=f"dataset-{n}", datastore=store, path="pets/")
    project = LabelingProject.objects.create(
        workspace=workspace, name=name or f"Pets {n}", task_type=task_type, dataset=dataset,
        state=LabelingProject.State.RUNNING, **flags,
    )
    for position, class_name in enumerate(classes):
        LabelClass.objects.create(project=project, name=class_name, position=position, color=position)
    return project


def add_tasks(project, count, *, state=Task.State.UNLABELED, labeler=None, label=None, start=None, step=timedelta(minutes=1)) -> list[Task]:
    """`count` tasks in `state`; labeled/approved ones carry a current annotation with `label` by `labeler`."""
    offset = DataItem.objects.filter(dataset=project.dataset).count()
    items = DataItem.objects.bulk_create([
        DataItem(dataset=project.dataset, key=f"pets/img-{offset + i:06d}.jpg", state=DataItem.State.READY,
                 image_format="JPEG", width=64, height=48)
        for i in range(count)
    ])
    write_item_files(project, items)
    start = start or timezone.now() - step * count
    labeled = state in (Task.State.LABELED, Task.State.APPROVED)
    tasks = Task.objects.bulk_create([
        Task(project=project, item=item, state=state, order_key=offset + i,
             labeled_by=labeler if labeled or state == Task.State.SKIPPED else None,
             labeled_at=start + step * i if labeled or state == Task.State.SKIPPED else None, version=1 if labeled else 0)
        for i, item in enumerate(items)
    ])
    stats.tasks_moved(project_id=project.pk, moves=Counter({(None, state): count}))
    if labeled:
        label = label or LabelClass.objects.filter(project=project).first()
        annotations = Annotation.objects.bulk_create([
            Annotation(task=task, created_by=labeler, is_current=True) for task in tasks
        ])
        Annotation.labels.through.objects.bulk_create([
            Annotation.labels.through(annotation_id=a.pk, labelclass_id=label.pk) for a in annotations
        ])
        stats.labels_changed(project_id=project.pk, classes=Counter({label.pk: count}))
        stats.labeler_counted(project_id=project.pk, user_id=labeler.pk, labeled=count)
    return tasks


def relabel(task, labeler, label):
    """What the labeling grid does when a labeler submits a task again."""
    Annotation.objects.filter(task=task, is_current=True).update(is_current=False)
    annotation = Annotation.objects.create(task=task, created_by=labeler, is_current=True)
    annotation.labels.add(label)
    Task.objects.filter(pk=task.pk).update(
        state=Task.State.LABELED, labeled_by=labeler, labeled_at=timezone.now(), version=task.version + 1,
        leased_to=None, lease_expires=None,
    )
    task.refresh_from_db()
    return task
