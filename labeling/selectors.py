"""Reads behind the labeling grid: the labeler's page with its draft chips, and their preferences."""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field

from labeling import services
from labeling.models import GridPreference, Task
from projects.models import LabelClass, LabelingProject


@dataclass
class Tile:
    task: Task
    number: int
    chips: list[LabelClass]
    urls: dict = field(default_factory=dict)  # thumbnail, image, skip: filled in by the view

    @property
    def uuid(self):
        return self.task.item.uuid

    @property
    def name(self) -> str:
        return self.task.item.key.rsplit("/", 1)[-1]


@dataclass
class GridPage:
    project: LabelingProject
    classes: list[LabelClass]
    page_size: int
    tiles: list[Tile] = field(default_factory=list)
    closed: str = ""  # why the project takes no labels now, if it does not
    notice: str = ""  # e.g. an earlier page whose hold ran out

    @property
    def complete(self) -> bool:
        return bool(self.tiles) and all(tile.chips for tile in self.tiles)

    @property
    def fresh(self) -> bool:
        return not any(tile.chips for tile in self.tiles)

    @property
    def sizes(self) -> tuple[int, ...]:
        return GridPreference.PAGE_SIZES

    @property
    def multilabel(self) -> bool:
        return self.project.task_type == LabelingProject.TaskType.MULTI_LABEL


def page_size_get(user) -> int:
    size = GridPreference.objects.filter(user=user).values_list("page_size", flat=True).first()
    return size or GridPreference.DEFAULT_PAGE_SIZE


def label_classes_get(project) -> list[LabelClass]:
    return list(LabelClass.objects.filter(project=project).order_by("position", "id"))


def tiles_build(tasks, classes) -> list[Tile]:
    by_id = {c.id: c for c in classes}
    return [
        Tile(task=t, number=n, chips=[by_id[i] for i in t.draft if i in by_id])
        for n, t in enumerate(tasks, start=1)
    ]


def grid_page_get(*, project, user) -> GridPage:
    """The labeler's current page, claiming tasks from the pool as needed."""
    size = page_size_get(user)
    classes = label_classes_get(project)
    page = GridPage(project=project, classes=classes, page_size=size)
    try:
        tasks = services.tasks_claim(project=project, user=user, size=size)
    except services.ProjectNotOpen as error:
        page.closed = str(error)
        return page
    page.tiles = tiles_build(tasks, classes)
    if tasks.expired:
        n = tasks.expired
        page.notice = (
            f"Your hold on {n} image{'s' if n != 1 else ''} ran out (leases last {services.lease_minutes()} minutes), "
            "so they went back to the pool and their unsaved tags were discarded. Here is a fresh page."
        )
    return page


def _valid_uuids(values) -> list[str]:
    found = []
    for value in values:
        try:
            found.append(str(uuidlib.UUID(str(value))))
        except ValueError:
            continue
    return found


def held_tasks_by_item(*, project, user, item_uuids) -> dict:
    """Map item uuids the labeler holds on this project to their tasks (one query)."""
    tasks = services.tasks_held(project=project, user=user).filter(item__uuid__in=_valid_uuids(item_uuids)).select_related("item")
    return {str(t.item.uuid): t for t in tasks}


def tasks_by_item(*, project, item_uuids) -> dict:
    """Tasks of this project for the given item uuids, whoever holds them (one query)."""
    tasks = Task.objects.filter(project=project, item__uuid__in=_valid_uuids(item_uuids)).select_related("item")
    return {str(t.item.uuid): t for t in tasks}
