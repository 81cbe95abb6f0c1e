"""Labeling project pages owned by projects: the workspace's project list, the creation wizard and the settings page."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, push_url

from core.features import ml_available, ml_unavailable_reason
from core.htmx import render_page_or_fragment, shows_failures, valid_or_invalid
from projects.datastores import services as datastore_services
from projects.definition import services as project_services
from projects.definition.forms import LabelAddForm, LabelMoveForm, ProjectSettingsForm, ProjectStateForm
from projects.definition.listing import project_list_extras_attach
from projects.definition.services import ML_SETTINGS
from projects.definition.wizard import BY_SLUG, STEPS, DatasetCreateForm, Step, WizardState, labels_edit
from projects.models import LabelClass
from projects.tenancy.access import label_class_or_404, project_or_404, workspace_projects, workspace_view

SLUGS = [step.slug for step in STEPS]


@require_GET
@workspace_view("projects.view_workspace")
def workspace(request, access):
    projects = list(workspace_projects(access))
    project_list_extras_attach(projects=projects)  # labeling's `progress`
    return render(
        request,
        "projects/workspace.html",
        {
            "access": access,
            "projects": projects,
            "can_label": access.can("labeling.label_task"),
            "can_dashboard": access.can("projects.view_dashboard"),
            "can_manage": access.can("projects.change_labelingproject"),
        },
    )


def _step_url(access, slug):
    return reverse(
        "project_wizard_step", kwargs={"org": access.organization.slug, "ws": access.workspace.slug, "step": slug}
    )


def _redirect(request, url):
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _render_step(request, access, state, slug, form, *, status=200, error=None, substep=None, extra=None):
    index = SLUGS.index(slug)
    done = [state.done(s) for s in SLUGS]
    steps = [
        {
            "slug": s.slug,
            "title": s.title,
            "url": _step_url(access, s.slug),
            "current": s.slug == slug,
            "done": done[i],
            "reachable": all(done[:i]),
        }
        for i, s in enumerate(STEPS)
    ]
    context = {
        "access": access,
        "steps": steps,
        "step": substep or BY_SLUG[slug],
        "form": form,
        "error": error,
        "step_url": _step_url(access, slug),
        "first": index == 0,
        "last": index == len(STEPS) - 1,
        "step_template": f"projects/wizard/{(substep or BY_SLUG[slug]).slug}.html",
        **(extra or {}),
        "label_rows": _label_rows(getattr(form, "names", [])),
    }
    if slug == "ml":
        context["ml_unavailable"] = ml_unavailable_reason()
        context["summary"] = state.cleaned()
        context["summary_labels"] = _label_rows(context["summary"]["label_names"] if context["summary"] else [])
    return render_page_or_fragment(request, "projects/wizard.html", context, partial="wizard", status=status)


def _label_rows(names):
    """Each class with the chip colour and key it will get (the same rule as project_create)."""
    return [
        {"name": n, "color": i % LabelClass.PALETTE_SIZE, "key": i + 1 if i < 9 else None} for i, n in enumerate(names)
    ]


def _go(request, access, state, slug):
    """Show another step: the fragment (and its URL in the address bar) for htmx, a redirect otherwise."""
    if request.htmx:
        return push_url(_render_step(request, access, state, slug, state.for_display(slug)), _step_url(access, slug))
    return redirect(_step_url(access, slug))


@require_GET
@workspace_view("projects.add_labelingproject")
def wizard_start(request, access):
    state = WizardState(request.session, access.workspace)
    if "restart" in request.GET:
        state.clear()
    return redirect(_step_url(access, state.first_incomplete() or SLUGS[-1]))


def _step_refused(failure, request, access, step):
    """Creating the project was refused (say its name got taken meanwhile): the last step says why."""
    state = WizardState(request.session, access.workspace)
    return _render_step(request, access, state, step, state.bound(step), status=failure.status, error=failure.message)


@require_http_methods(["GET", "POST"])
@workspace_view("projects.add_labelingproject")
@shows_failures(_step_refused)
def wizard_step(request, access, step):
    if step not in BY_SLUG:
        raise Http404("No such step.")
    state = WizardState(request.session, access.workspace)
    blocker = state.first_incomplete()
    if blocker is not None and SLUGS.index(blocker) < SLUGS.index(step):
        return _go(request, access, state, blocker)
    if request.method == "GET":
        return _render_step(request, access, state, step, state.for_display(step))
    action = request.POST.get("action", "next")
    if step == "labels" and action != "back":
        return _labels_post(request, access, state, action)
    state.save(step, request.POST)
    if action == "back":
        return _go(request, access, state, SLUGS[max(0, SLUGS.index(step) - 1)])
    form = state.bound(step)
    if not form.is_valid():
        return _render_step(request, access, state, step, form, status=422)
    if step == SLUGS[-1]:
        return _create(request, access, state)
    return _go(request, access, state, SLUGS[SLUGS.index(step) + 1])


def _labels_post(request, access, state, action):
    names, new_label = request.POST.getlist("labels"), request.POST.get("new_label", "")
    if action == "enter":
        action = "add" if new_label.strip() else "next"
    if action == "next":
        state.save("labels", request.POST)
        form = state.bound("labels")
        if not form.is_valid():
            return _render_step(request, access, state, "labels", form, status=422)
        state.put("labels", {"labels": form.cleaned_data["label_names"], "new_label": [""]})
        return _go(request, access, state, "instructions")
    names, error = labels_edit(names, action, new_label)
    state.put("labels", {"labels": names, "new_label": [new_label if error else ""]})
    form = state.unbound("labels")
    return _render_step(request, access, state, "labels", form, status=422 if error else 200, error=error)


DATASET_CREATE = Step("dataset_create", "Create a dataset from datastore", DatasetCreateForm)


def _dataset_create_page(request, access, state, form, *, status=200, browse=None):
    return _render_step(
        request,
        access,
        state,
        "dataset",
        form,
        status=status,
        substep=DATASET_CREATE,
        extra={
            "step_url": reverse(
                "project_wizard_dataset_create", kwargs={"org": access.organization.slug, "ws": access.workspace.slug}
            ),
            "first": False,
            "last": False,
            "browse": browse,
            # Browse opens at the folder typed so far, once it is a path that can be browsed.
            "browse_path": "" if not browse or form["path"].errors else form.cleaned_data.get("path", ""),
        },
    )


def _dataset_create_refused(failure, request, access):
    state = WizardState(request.session, access.workspace)
    form = failure.shown_on(DatasetCreateForm(request.POST, workspace=access.workspace))
    return _dataset_create_page(request, access, state, form, status=failure.status)


@require_http_methods(["GET", "POST"])
@workspace_view("projects.add_labelingproject")
@shows_failures(_dataset_create_refused)
def wizard_dataset_create(request, access):
    """+ Create a dataset → From datastore without leaving the wizard; Browse folders shows inline."""
    access.require("projects.add_dataset")
    state = WizardState(request.session, access.workspace)
    if state.first_incomplete() == "details":
        return _go(request, access, state, "details")
    action = request.POST.get("action", "next")
    if request.method == "POST" and action == "back":
        return _go(request, access, state, "dataset")
    form = DatasetCreateForm(request.POST if request.method == "POST" else None, workspace=access.workspace)
    if request.method == "POST" and action in ("next", "enter"):
        dataset = datastore_services.dataset_create(
            workspace=access.workspace, actor=request.user, **valid_or_invalid(form)
        )
        state.put("dataset", {"dataset": [str(dataset.uuid)]})
        if not request.htmx:  # htmx shows it selected with its scan state right away
            messages.success(request, f"Dataset {dataset.name} created; it is being scanned.")
        return _go(request, access, state, "dataset")
    browse = (
        action == "browse"
        and form.is_bound
        and form["datastore"].data
        and form.datastores.filter(uuid=form["datastore"].data).first()
    )
    return _dataset_create_page(request, access, state, form, browse=browse or None)


def _create(request, access, state):
    data = state.cleaned()
    if data is None:  # a step no longer validates (its dataset was deleted meanwhile...): show that step
        slug = state.first_incomplete()
        return _render_step(request, access, state, slug, state.bound(slug), status=422)
    project = project_services.project_create(
        workspace=access.workspace,
        actor=request.user,
        name=data["name"],
        task_type=data["task_type"],
        dataset=data["dataset"],
        incremental_refresh=data["incremental_refresh"],
        label_names=data["label_names"],
        instructions_url=data["instructions_url"],
        instructions_text=data["instructions_text"],
        ml_assisted=data["ml_assisted"] and ml_available(),
        **{name: data[name] for name in ML_SETTINGS},
    )
    state.clear()
    messages.success(request, f"Project {project.name} created. Its tasks are being created now.")
    return _redirect(
        request,
        reverse(
            "labeling:dashboard",
            kwargs={"org": access.organization.slug, "ws": access.workspace.slug, "project": project.uuid},
        ),
    )


# ---- Settings ----------------------------------------------------------------------------------


def _settings_url(access, project):
    return reverse(
        "project_settings",
        kwargs={"org": access.organization.slug, "ws": access.workspace.slug, "project": project.uuid},
    )


def _settings_page(request, access, project, *, form=None, label_form=None, alerts=None, status=200, partial=None):
    """The settings page, or one of its partials; `alerts`: {"labels" | "state": message} shown in that section."""
    context = {
        "access": access,
        "project": project,
        "current": "settings",
        "ml_unavailable": ml_unavailable_reason(),
        "form": form
        or ProjectSettingsForm(
            project=project,
            ml=ml_available(),
            initial={f: getattr(project, f) for f in ProjectSettingsForm.base_fields},
        ),
        "label_form": label_form or LabelAddForm(),
        "label_classes": list(project.label_classes.active()),
        "removed_classes": list(project.label_classes.exclude(removed_at=None)),
        "state_form": ProjectStateForm(),
        "alerts": alerts or {},
    }
    return render_page_or_fragment(request, "projects/project_settings.html", context, partial=partial, status=status)


def _settings_refused(failure, request, access, project):
    project = project_or_404(access, project)
    form = failure.shown_on(ProjectSettingsForm(request.POST, project=project, ml=ml_available()))
    return _settings_page(request, access, project, form=form, status=failure.status, partial="settings-form")


@require_http_methods(["GET", "POST"])
@workspace_view("projects.change_labelingproject")
@shows_failures(_settings_refused)
def project_settings(request, access, project):
    project = project_or_404(access, project)
    if request.method == "GET":
        return _settings_page(request, access, project)
    data = valid_or_invalid(ProjectSettingsForm(request.POST, project=project, ml=ml_available()))
    project_services.project_update(project=project, actor=request.user, **data)
    messages.success(request, "Project settings saved.")
    return _redirect(request, _settings_url(access, project))


def _state_refused(failure, request, access, project):
    project = project_or_404(access, project)
    return _settings_page(request, access, project, alerts={"state": failure.message}, status=failure.status)


@require_POST
@workspace_view("projects.change_labelingproject")
@shows_failures(_state_refused)
def project_state(request, access, project):
    project = project_or_404(access, project)
    data = valid_or_invalid(ProjectStateForm(request.POST))
    project_services.project_state_set(project=project, actor=request.user, action=data["action"])
    messages.success(request, f"Project {project.name} is now {project.get_state_display().lower()}.")
    return _redirect(request, _settings_url(access, project))


def _label_add_refused(failure, request, access, project):
    project = project_or_404(access, project)
    form = failure.shown_on(LabelAddForm(request.POST), field="name")
    return _settings_page(request, access, project, label_form=form, status=failure.status, partial="labels")


@require_POST
@workspace_view("projects.add_labelclass")
@shows_failures(_label_add_refused)
def label_add(request, access, project):
    project = project_or_404(access, project)
    data = valid_or_invalid(LabelAddForm(request.POST))
    project_services.label_class_add(project=project, actor=request.user, name=data["name"])
    if request.htmx:
        return _settings_page(request, access, project, partial="labels")
    return redirect(_settings_url(access, project))


def _labels_refused(failure, request, access, project, label):
    project = project_or_404(access, project)
    return _settings_page(
        request, access, project, alerts={"labels": failure.message}, status=failure.status, partial="labels"
    )


@require_POST
@workspace_view("projects.change_labelclass")
@shows_failures(_labels_refused)
def label_move(request, access, project, label):
    project = project_or_404(access, project)
    label_class = label_class_or_404(project, label)
    data = valid_or_invalid(LabelMoveForm(request.POST))
    offset = -1 if data["direction"] == "up" else 1
    project_services.label_class_move(project=project, actor=request.user, label_class=label_class, offset=offset)
    if request.htmx:
        return _settings_page(request, access, project, partial="labels")
    return redirect(_settings_url(access, project))
