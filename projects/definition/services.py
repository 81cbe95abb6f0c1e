"""Writes to labeling projects: creating one from the wizard, its settings and state, its label classes."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from core.errors import Conflict
from projects.definition.label_classes import label_class_resolver
from projects.guards import name_unique, perm_check
from projects.models import Dataset, LabelClass, LabelingProject, Workspace
from projects.signals import project_created

MAX_LABEL_CLASSES = 50


def label_names_clean(names) -> list[str]:
    """Trimmed names in order; blanks and duplicates (ignoring case) refused with a message."""
    cleaned, seen = [], set()
    for raw in names:
        name = " ".join((raw or "").split())
        if not name:
            raise ValidationError("A label class needs a name.")
        if len(name) > 100:
            raise ValidationError(f"“{name[:20]}…” is longer than 100 characters.")
        if name.casefold() in seen:
            raise ValidationError(f"“{name}” is already a label class.")
        seen.add(name.casefold())
        cleaned.append(name)
    if len(cleaned) > MAX_LABEL_CLASSES:
        raise ValidationError(f"At most {MAX_LABEL_CLASSES} label classes.")
    return cleaned


def project_name_taken(*, workspace: Workspace, name: str, exclude: LabelingProject | None = None) -> bool:
    found = LabelingProject.objects.for_workspace(workspace).filter(name__iexact=name.strip())
    if exclude is not None:
        found = found.exclude(pk=exclude.pk)
    return found.exists()


@transaction.atomic
def project_create(
    *,
    workspace: Workspace,
    actor,
    name: str,
    task_type: str,
    dataset: Dataset,
    incremental_refresh: bool,
    label_names: list[str],
    instructions_url: str = "",
    instructions_text: str = "",
    ml_assisted: bool = False,
    **ml_settings,
) -> LabelingProject:
    """A project in state Initializing with its label classes; labeling creates its tasks after commit."""
    perm_check(actor, workspace, "projects.add_labelingproject")
    if dataset.workspace_id != workspace.pk:
        raise ValidationError("That dataset belongs to another workspace.")
    name = name.strip()
    taken = f"A project named “{name}” already exists in this workspace."
    if project_name_taken(workspace=workspace, name=name):
        raise ValidationError(taken)
    names = label_names_clean(label_names)
    if len(names) < 2:
        raise ValidationError("Add at least two label classes.")
    with name_unique("uniq_project_name", taken):
        project = LabelingProject(
            workspace=workspace,
            name=name,
            task_type=task_type,
            dataset=dataset,
            incremental_refresh=incremental_refresh,
            instructions_url=instructions_url,
            instructions_text=instructions_text,
            ml_assisted=ml_assisted,
            state=LabelingProject.State.INITIALIZING,
            created_by=actor,
        )
        _ml_settings_apply(project, ml_settings)
        project.save()
    LabelClass.objects.bulk_create(
        LabelClass(project=project, name=label, position=i, color=i % LabelClass.PALETTE_SIZE)
        for i, label in enumerate(names)
    )
    project_created.send(sender=LabelingProject, project=project)
    return project


ML_SETTINGS = ("ml_min_labels", "ml_target_accuracy", "ml_cluster", "ml_active_learning")


def _ml_settings_apply(project: LabelingProject, values: dict) -> list[str]:
    """Set the given ML assist settings (the others keep their value), validated by the fields' own rules;
    returns the names that were given."""
    unknown = set(values) - set(ML_SETTINGS)
    if unknown:
        raise ValidationError(f"Unknown setting {sorted(unknown)[0]}.")
    for name, value in values.items():
        setattr(project, name, value)
    if values:
        project.clean_fields(exclude=[f.name for f in LabelingProject._meta.fields if f.name not in values])
    return list(values)


def project_update(
    *,
    project: LabelingProject,
    actor,
    name: str,
    incremental_refresh: bool,
    instructions_url: str,
    instructions_text: str,
    ml_assisted: bool,
    **ml_settings,
) -> LabelingProject:
    """Rename, instructions, refresh and ML assist; ML settings not given keep their value."""
    perm_check(actor, project.workspace, "projects.change_labelingproject")
    name = name.strip()
    taken = f"A project named “{name}” already exists in this workspace."
    if project_name_taken(workspace=project.workspace, name=name, exclude=project):
        raise ValidationError(taken)
    project.name, project.incremental_refresh, project.ml_assisted = name, incremental_refresh, ml_assisted
    project.instructions_url, project.instructions_text = instructions_url, instructions_text
    changed = _ml_settings_apply(project, ml_settings)
    with name_unique("uniq_project_name", taken):
        project.save(
            update_fields=[
                "name",
                "incremental_refresh",
                "ml_assisted",
                "instructions_url",
                "instructions_text",
                *changed,
            ]
        )
    return project


# Which state each action leads to, and from which states it is allowed.
PROJECT_ACTIONS = {
    "pause": (LabelingProject.State.PAUSED, {LabelingProject.State.RUNNING}),
    "resume": (LabelingProject.State.RUNNING, {LabelingProject.State.PAUSED}),
    "archive": (
        LabelingProject.State.ARCHIVED,
        {LabelingProject.State.RUNNING, LabelingProject.State.PAUSED, LabelingProject.State.INITIALIZING},
    ),
}


@transaction.atomic
def project_state_set(*, project: LabelingProject, actor, action: str) -> LabelingProject:
    """Pause, resume or archive; a conditional UPDATE so two clicks cannot both win."""
    perm_check(actor, project.workspace, "projects.change_labelingproject")
    if action not in PROJECT_ACTIONS:
        raise ValidationError("Unknown action.")
    target, allowed = PROJECT_ACTIONS[action]
    changed = LabelingProject.objects.filter(pk=project.pk, state__in=allowed).update(state=target)
    if not changed:
        raise Conflict(
            f"A project that is {project.get_state_display().lower()} cannot {action}.",
            data={"state": project.state, "action": action},
        )
    project.state = target
    return project


def _active_classes(project: LabelingProject):
    return LabelClass.objects.filter(project=project).active()


def label_classes_renumber(*, project: LabelingProject, ordered: list[LabelClass]) -> None:
    """Positions 0..n-1 in the given order (keys 1–9 follow the position)."""
    for i, label_class in enumerate(ordered):
        if label_class.position != i:
            label_class.position = i
            label_class.save(update_fields=["position"])


@transaction.atomic
def label_class_add(*, project: LabelingProject, actor, name: str) -> LabelClass:
    """A new class at the end; re-adding a removed class's name brings it (and its kept tags) back."""
    perm_check(actor, project.workspace, "projects.add_labelclass")
    LabelingProject.objects.select_for_update().filter(pk=project.pk).first()
    classes = label_class_resolver(project=project)
    active = classes.active
    [name] = label_names_clean([name])
    names = label_names_clean([c.name for c in active] + [name])  # raises on a duplicate
    if len(names) > MAX_LABEL_CLASSES:
        raise ValidationError(f"At most {MAX_LABEL_CLASSES} label classes.")
    removed = classes.named(name)  # not active, or the duplicate check above had refused it
    if removed is not None:
        removed.removed_at, removed.position, removed.name = None, len(active), name
        removed.save(update_fields=["removed_at", "position", "name"])
        return removed
    used = {c.color for c in classes.classes}
    color = next((c for c in range(LabelClass.PALETTE_SIZE) if c not in used), len(active) % LabelClass.PALETTE_SIZE)
    with name_unique("uniq_label_class_name", f"“{name}” is already a label class."):
        return LabelClass.objects.create(project=project, name=name, position=len(active), color=color)


@transaction.atomic
def label_class_move(*, project: LabelingProject, actor, label_class: LabelClass, offset: int) -> None:
    perm_check(actor, project.workspace, "projects.change_labelclass")
    ordered = list(_active_classes(project).select_for_update())
    index = next((i for i, c in enumerate(ordered) if c.pk == label_class.pk), None)
    if index is None:
        raise Conflict("That label class was removed.")
    target = max(0, min(len(ordered) - 1, index + offset))
    ordered.insert(target, ordered.pop(index))
    label_classes_renumber(project=project, ordered=ordered)
