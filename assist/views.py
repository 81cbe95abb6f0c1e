"""The dashboard's ML assist section (polled while a cycle runs) and its Train now button."""

from django.contrib import messages
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from assist import selectors, services
from core.errors import Conflict
from core.htmx import render_page_or_fragment
from projects.tenancy.access import project_or_404, workspace_view


def _section(request, access, project, *, error=""):
    """The section alone for htmx (a poll, or the answer to Train now); the dashboard shows it otherwise. While a
    cycle runs the fragment carries a polling trigger; the first answer without one ends the polling."""
    data = selectors.ml_dashboard_section(project=project, access=access)
    context = {"access": access, "project": project, "section": data, "error": error}
    return render_page_or_fragment(request, "assist/section.html", context, partial="ml-section")


@require_GET
@workspace_view("projects.view_dashboard")
def section(request, access, project):
    project = project_or_404(access, project, related=())
    if not request.htmx:
        return redirect(
            "labeling:dashboard", org=access.organization.slug, ws=access.workspace.slug, project=project.uuid
        )
    return _section(request, access, project)


@require_POST
@workspace_view("projects.change_labelingproject")
def train(request, access, project):
    project = project_or_404(access, project, related=())
    error = ""
    try:
        services.ml_cycle_request(project=project, actor=request.user)
    except Conflict as refused:
        error = refused.message
    if request.htmx:  # the section in place, with the reason when nothing was queued
        return _section(request, access, project, error=error)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Training queued: the ML assist section shows its progress.")
    return redirect("labeling:dashboard", org=access.organization.slug, ws=access.workspace.slug, project=project.uuid)
