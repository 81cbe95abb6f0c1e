"""What a page that lists projects shows beside each project when an app above projects owns it (labeling's progress).

A registry of plain selectors, not a signal: an app registers `selector(projects) -> {project pk: value}` once, at
its AppConfig.ready, and the page reads every registered selector for the whole list (one call each, whatever the
list's length). projects never imports the apps above it, and nothing here reacts to an event.
"""

from collections.abc import Callable, Sequence
from typing import Any

from projects.models import LabelingProject

ProjectListSelector = Callable[[Sequence[LabelingProject]], dict[int, Any]]

_extras: dict[str, ProjectListSelector] = {}


def project_list_extra_register(*, name: str, selector: ProjectListSelector) -> None:
    """From now on every listed project carries `project.<name>`: `selector(projects)[project.pk]`."""
    if name in _extras and _extras[name] is not selector:
        raise ValueError(f"A project list extra named {name!r} is registered already.")
    _extras[name] = selector


def project_list_extras_attach(*, projects: Sequence[LabelingProject]) -> None:
    """Set every registered extra on every project of the list (None where a selector has no value)."""
    for name, selector in _extras.items():
        values = selector(projects)
        for project in projects:
            setattr(project, name, values.get(project.pk))
