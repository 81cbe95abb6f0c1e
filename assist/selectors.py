"""Reads of ML assist: the dashboard section (runs, metrics, badges) and the API's status, from a few small queries
whatever the project's size (run rows and their recorded metrics, never a count over tasks)."""

from __future__ import annotations

from dataclasses import dataclass, field

from assist.models import MlRun
from assist.services import STAGES, project_counts
from core.features import ml_available, ml_unavailable_reason
from labeling.dashboard_sections import DashboardSection
from labeling.models import ClassCount
from projects.models import ML_MIN_PER_CLASS, LabelingProject

RECENT_CYCLES = 5


@dataclass
class MlStatus:
    project: LabelingProject
    available: bool
    unavailable_reason: str
    runs: list[MlRun] = field(default_factory=list)  # the latest cycle's steps, in pipeline order
    history: list[MlRun] = field(default_factory=list)  # earlier steps, newest first (a few cycles)
    validation: dict = field(default_factory=dict)  # the latest finished validation's metrics
    prelabeled: int | None = None  # tasks the latest finished pre-label step suggested tags for
    clustered: int | None = None  # tasks the latest finished cluster step ordered
    labels: int = 0
    # Whether any submitted suggestion was counted: the dashboard's Suggestions table then shows acceptance per class
    # (labeling's ClassCount counters, model and imported suggestions together); the section links to it.
    suggestions_counted: bool = False

    @property
    def active(self) -> bool:
        return any(run.state in MlRun.ACTIVE for run in self.runs)

    @property
    def min_per_class(self) -> int:
        return ML_MIN_PER_CLASS


def _latest_done(runs: list[MlRun], kind: str) -> MlRun | None:
    return next((r for r in runs if r.kind == kind and r.state == MlRun.State.DONE), None)


def ml_status_get(*, project: LabelingProject) -> MlStatus:
    """Latest cycle, recent history and what the last finished steps measured (a few small queries)."""
    status = MlStatus(project=project, available=ml_available(), unavailable_reason=ml_unavailable_reason())
    recent = list(MlRun.objects.filter(project=project).order_by("-created_at", "-id")[: RECENT_CYCLES * len(STAGES)])
    if recent:
        cycle = recent[0].cycle
        order = {str(kind): i for i, kind in enumerate(STAGES)}
        status.runs = sorted((r for r in recent if r.cycle == cycle), key=lambda r: order[r.kind])
        status.history = [r for r in recent if r.cycle != cycle]
    validation = _latest_done(recent, MlRun.Kind.VALIDATE) or (  # it may be older than the recent cycles
        MlRun.objects.filter(project=project, kind=MlRun.Kind.VALIDATE, state=MlRun.State.DONE)
        .order_by("-created_at")
        .first()
    )
    prelabel, cluster = _latest_done(recent, MlRun.Kind.PRELABEL), _latest_done(recent, MlRun.Kind.CLUSTER)
    if validation is not None:
        status.validation = validation.metrics
    if prelabel is not None:
        status.prelabeled = prelabel.metrics.get("prelabeled")
    if cluster is not None:
        status.clustered = cluster.metrics.get("clustered")
    status.labels = project_counts(project)[0]
    if project.ml_assisted and status.prelabeled is not None:  # the link only matters once the model suggests
        status.suggestions_counted = ClassCount.objects.filter(project=project, suggested__gt=0).exists()
    return status


def ml_badges(status: MlStatus) -> list[str]:
    badges = []
    if status.prelabeled:
        badges.append(f"{status.prelabeled:,} tasks pre-labeled")
    if status.clustered:
        badges.append(f"{status.clustered:,} tasks clustered")
    return badges


def ml_dashboard_section(*, project: LabelingProject, access) -> DashboardSection:
    """labeling's dashboard shows this section (registered in AssistConfig.ready)."""
    status = ml_status_get(project=project)
    return DashboardSection(
        template="assist/section.html",
        context={"status": status, "can_train": access.can("projects.change_labelingproject")},
        badges=ml_badges(status),
    )
