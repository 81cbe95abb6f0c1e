"""Pages of exports and imports: the export panel with its live status, downloads, and the label import."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from core.errors import Conflict
from exports import services
from exports.forms import ExportForm, ImportForm
from exports.models import Export, LabelImport
from exports.selectors import exports_for_project
from core.htmx import render_page_or_fragment, render_poll
from projects.tenancy.access import project_or_404, workspace_object_or_404, workspace_view

PAGE = "exports/exports.html"


def _export_or_404(access, project, export):
    return workspace_object_or_404(access, Export, related=("project", "created_by"),
                                   uuid=export, project__uuid=project, deleted_at=None)


def _panel(request, access, project, *, form=None, current=None, status=200):
    exports = list(exports_for_project(project))
    context = {
        "access": access, "project": project, "form": form or ExportForm(), "exports": exports,
        "current": current or (exports[0] if exports else None),
    }
    return render_page_or_fragment(request, PAGE, context, status=status)


def _fragment(request, partial, context, status=200):
    """A piece of the export panel for htmx (its context is smaller than the panel's, so the caller chooses)."""
    return render_page_or_fragment(request, PAGE, context, partial=partial, status=status)


@require_GET
@workspace_view("exports.view_export")
def export_list(request, access, project):
    project = project_or_404(access, project)
    if request.htmx:
        context = {"access": access, "project": project, "exports": exports_for_project(project)}
        return _fragment(request, "export-list", context)
    return _panel(request, access, project)


@require_POST
@workspace_view("exports.add_export")
def export_new(request, access, project):
    project = project_or_404(access, project)
    form = ExportForm(request.POST)
    if not form.is_valid():
        if request.htmx:
            context = {"access": access, "project": project, "form": form}
            return reswap(retarget(_fragment(request, "export-form", context, status=422), "#export-form"), "outerHTML")
        return _panel(request, access, project, form=form, status=422)
    export = services.export_create(project=project, actor=request.user, **form.cleaned_data)
    if request.htmx:
        response = _fragment(request, "export-status", {"access": access, "project": project, "current": export})
        return trigger_client_event(response, "exports-changed")
    return redirect("exports:list", org=access.organization.slug, ws=access.workspace.slug, project=project.uuid)


@require_GET
@workspace_view("exports.view_export")
def export_status(request, access, project, export):
    export = _export_or_404(access, project, export)
    if not request.htmx:
        return _panel(request, access, export.project, current=export)
    # Finished: the list of past exports and the notification bell refresh themselves.
    return render_poll(request, PAGE, {"access": access, "project": export.project, "current": export},
                       partial="export-status", finished=not export.is_active,
                       events=("exports-changed", "notifications-changed"))


@require_GET
@workspace_view("exports.view_export")
def export_download(request, access, project, export):
    export = _export_or_404(access, project, export)
    if export.state != Export.State.DONE or not export.file:
        raise Http404("This export has no file.")
    name = f"{slugify(export.project.name) or 'project'}-{export.format}-{export.created_at:%Y%m%d-%H%M%S}.{export.extension}"
    response = FileResponse(default_storage.open(export.file, "rb"), as_attachment=True, filename=name)
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@workspace_view("exports.add_export")
def export_retry(request, access, project, export):
    export = _export_or_404(access, project, export)
    try:
        export = services.export_retry(export=export, actor=request.user)
    except Conflict as error:
        messages.error(request, error.messages[0])
    if request.htmx:
        return _fragment(request, "export-status", {"access": access, "project": export.project, "current": export})
    return redirect("exports:list", org=access.organization.slug, ws=access.workspace.slug, project=export.project.uuid)


@require_POST
@workspace_view("exports.delete_export")
def export_delete(request, access, project, export):
    export = _export_or_404(access, project, export)
    try:
        services.export_delete(export=export, actor=request.user)
        messages.success(request, "Export deleted.")
    except Conflict as error:
        messages.error(request, error.messages[0])
    return redirect("exports:list", org=access.organization.slug, ws=access.workspace.slug, project=export.project.uuid)


@require_http_methods(["GET", "POST"])
@workspace_view("projects.import_labels")
def label_import(request, access, project):
    project = project_or_404(access, project)
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = services.labels_import(project=project, actor=request.user, file=form.cleaned_data["file"],
                                            format=form.cleaned_data["format"], as_final=form.cleaned_data["as_final"])
        except ValidationError as error:
            form.add_error("file", error)
    status = 422 if form.errors else 200
    context = {"access": access, "project": project, "form": form, "report": report}
    return render(request, "exports/import.html", context, status=status)


@require_GET
@workspace_view("projects.import_labels")
def label_import_report(request, access, project, report):
    """The report of an earlier import (where its notification leads), above the form for the next one."""
    record = workspace_object_or_404(access, LabelImport, related=("project", "created_by"), uuid=report,
                                     project__uuid=project)
    context = {"access": access, "project": record.project, "form": ImportForm(),
               "report": services.ImportReport.from_stored(record), "stored": record}
    return render(request, "exports/import.html", context)
