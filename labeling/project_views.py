"""Project pages that read or change tasks: the progress dashboard, the live progress of a project being prepared,
and removing a label class."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from core.htmx import render_page_or_fragment, render_poll, shows_failures, valid_or_invalid
from labeling import selectors, services
from labeling.dashboard_sections import dashboard_sections_get
from labeling.forms import LabelRemoveForm
from projects.tenancy.access import label_class_or_404, project_or_404, workspace_view


@require_GET
@workspace_view("projects.view_dashboard")
def dashboard(request, access, project):
    project = project_or_404(access, project, related=("dataset", "dataset__datastore"))
    stats = selectors.dashboard_stats_get(project=project, activity=request.GET.get("activity", "hour"))
    sections = [] if request.htmx else dashboard_sections_get(project=project, access=access)  # htmx: the activity only
    badges = [badge for section in sections for badge in section.badges]
    context = {"access": access, "project": project, "stats": stats, "sections": sections, "head_badges": badges}
    return render_page_or_fragment(request, "labeling/dashboard.html", context, partial="activity")


@require_GET
@workspace_view("projects.view_labelingproject")
def project_progress(request, access, project):
    """A project being prepared: its tasks so far (a counter row read, never a count of tasks) and its dataset's
    scan. When it is ready, the answer stops the polling and sends project-ready (the dashboard turns into the
    running project's)."""
    project = project_or_404(access, project)
    context = {
        "access": access,
        "project": project,
        "project_tasks": selectors.projects_progress([project])[project.pk].total,
    }
    return render_poll(
        request,
        "labeling/project_progress.html",
        context,
        partial="project-progress",
        finished=not project.preparing,
        events=("project-ready",),
    )


def _remove_page(request, access, project, label_class, form, status=200):
    context = {"access": access, "project": project, "label_class": label_class, "form": form}
    return render(request, "labeling/label_remove.html", context, status=status)


def _remove_refused(failure, request, access, project, label):
    project = project_or_404(access, project)
    form = failure.shown_on(LabelRemoveForm(request.POST))
    return _remove_page(request, access, project, label_class_or_404(project, label), form, status=failure.status)


@require_http_methods(["GET", "POST"])
@workspace_view("projects.delete_labelclass")
@shows_failures(_remove_refused)
def label_remove(request, access, project, label):
    project = project_or_404(access, project)
    label_class = label_class_or_404(project, label)
    if request.method == "GET":
        return _remove_page(request, access, project, label_class, LabelRemoveForm())
    requeue = valid_or_invalid(LabelRemoveForm(request.POST))["tags"] == LabelRemoveForm.REQUEUE
    n = services.label_class_remove(project=project, label_class=label_class, requeue=requeue, actor=request.user)
    messages.success(
        request, f"Label class {label_class.name} removed." + (f" {n} items went back to the queue." if requeue else "")
    )
    return redirect("project_settings", org=access.organization.slug, ws=access.workspace.slug, project=project.uuid)
