"""Build labeling projects with items and tasks straight through the ORM (the product makes them in Celery)."""

import random

from projects.models import Datastore, Dataset, DataItem, LabelClass, LabelingProject
from labeling.models import Task
from tests.images import write_item_files

CLASSES = ["cat", "dog", "bird"]
# Where the test datastore points; browser tests set a real folder so the images can be served.
LOCAL_PATH = "images"


def labeling_project(workspace, *, items=12, task_type="multiclass", state="running", classes=CLASSES,
                     name="Pets", task_order="random", instructions_text="", instructions_url=""):
    datastore, _ = Datastore.objects.get_or_create(
        workspace=workspace, name="Local images", defaults={"kind": Datastore.Kind.LOCAL, "local_path": LOCAL_PATH}
    )
    dataset = Dataset.objects.create(workspace=workspace, name=f"{name} images", datastore=datastore, path="pets/")
    project = LabelingProject.objects.create(
        workspace=workspace, name=name, task_type=task_type, dataset=dataset, state=state, task_order=task_order,
        instructions_text=instructions_text, instructions_url=instructions_url,
    )
    LabelClass.objects.bulk_create(
        [LabelClass(project=project, name=c, position=i, color=i % 12) for i, c in enumerate(classes)]
    )
    tasks_add(project, items)
    return project


def tasks_add(project, n, *, start=0):
    found = DataItem.objects.bulk_create(
        [DataItem(dataset=project.dataset, key=f"pets/img{i:05d}.jpg", state=DataItem.State.READY,
                  image_format="JPEG", width=64, height=48)
         for i in range(start, start + n)]
    )
    write_item_files(project, found)
    Task.objects.bulk_create(
        [Task(project=project, item=item, order_key=random.randint(0, 2**31 - 1)) for item in found]
    )
    return found


def class_ids(project):
    return list(LabelClass.objects.filter(project=project).order_by("position").values_list("id", flat=True))


def class_uuids(project):
    """The classes as pages post them."""
    return [str(u) for u in LabelClass.objects.filter(project=project).order_by("position").values_list("uuid", flat=True)]
