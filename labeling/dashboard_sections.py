"""What the project dashboard shows that an app above labeling owns (ML assist's section and badges).

A registry of plain builders, not a signal, in the way of `projects.definition.listing`: an app registers
`builder(project=..., access=...) -> DashboardSection | None` once, in its AppConfig.ready; the dashboard calls every
builder and includes each section's template with its context. labeling never imports the apps above it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from projects.models import LabelingProject


@dataclass
class DashboardSection:
    template: str  # included with `section` = this object
    context: dict[str, Any] = field(default_factory=dict)
    badges: list[str] = field(default_factory=list)  # short texts shown next to the project's name


SectionBuilder = Callable[..., DashboardSection | None]

_builders: dict[str, SectionBuilder] = {}


def dashboard_section_register(*, name: str, builder: SectionBuilder) -> None:
    if name in _builders and _builders[name] is not builder:
        raise ValueError(f"A dashboard section named {name!r} is registered already.")
    _builders[name] = builder


def dashboard_sections_get(*, project: LabelingProject, access) -> list[DashboardSection]:
    """Every registered section this viewer gets for the project, in registration order."""
    sections = [builder(project=project, access=access) for builder in _builders.values()]
    return [section for section in sections if section is not None]
