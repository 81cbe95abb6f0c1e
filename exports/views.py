"""Pages of exports and imports: the export panel with its live status, downloads, and the label import."""

from django.contrib import messages
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from core.htmx import render_page_or_fragment, render_poll, shows_failures, valid_or_invalid
from exports import services
from exports.forms import ExportForm, ImportForm
from exports.models import Export, LabelImport
from exports.selectors import exports_for_project
from projects.tenancy.access import project_or_404, workspace_object_or_404, workspace_view

PAGE = "exports/exports.html"


def _export_or_404(access, project, export):
    return workspace_object_or_404(
        access, Export, related=("project", "created_by"), uuid=export, project__uuid=project, deleted_at=None
    )


def _panel(request, access, project, *, form=None, current=None, alerts=None, status=200):
    """The export page; `alerts`: {"status" | "list": message} shown where the person acted (below Export, or
    above the past exports)."""
    exports = list(exports_for_project(project))
    context = {
        "access": access,
        "project": project,
        "form": form or ExportForm(),
        "exports": exports,
        "current": current or (exports[0] if exports else None),
        "alerts": alerts or {},
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


def _export_form_refused(failure, request, access, project):
    project = project_or_404(access, project)
    form = failure.shown_on(ExportForm(request.POST))
    if request.htmx:
        context = {"access": access, "project": project, "form": form}
        return reswap(
            retarget(_fragment(request, "export-form", context, status=failure.status), "#export-form"), "outerHTML"
        )
    return _panel(request, access, project, form=form, status=failure.status)


@require_POST
@workspace_view("exports.add_export")
@shows_failures(_export_form_refused)
def export_new(request, access, project):
    project = project_or_404(access, project)
    export = services.export_create(project=project, actor=request.user, **valid_or_invalid(ExportForm(request.POST)))
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
    return render_poll(
        request,
        PAGE,
        {"access": access, "project": export.project, "current": export},
        partial="export-status",
        finished=not export.is_active,
        events=("exports-changed", "notifications-changed"),
    )


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


def _export_refused(where):
    """Retry or Delete refused (the export changed meanwhile), said `where` the person acted: below Export
    ("status"), or above the past exports ("list"); htmx gets the export's status with the reason."""

    def refused(failure, request, access, project, export):
        export = _export_or_404(access, project, export)
        if request.htmx:
            context = {
                "access": access,
                "project": export.project,
                "current": export,
                "alerts": {"status": failure.message},
            }
            return _fragment(request, "export-status", context, status=failure.status)
        return _panel(
            request, access, export.project, current=export, alerts={where: failure.message}, status=failure.status
        )

    return refused


@require_POST
@workspace_view("exports.add_export")
@shows_failures(_export_refused("status"))
def export_retry(request, access, project, export):
    export = services.export_retry(export=_export_or_404(access, project, export), actor=request.user)
    if request.htmx:
        return _fragment(request, "export-status", {"access": access, "project": export.project, "current": export})
    return redirect("exports:list", org=access.organization.slug, ws=access.workspace.slug, project=export.project.uuid)


@require_POST
@workspace_view("exports.delete_export")
@shows_failures(_export_refused("list"))
def export_delete(request, access, project, export):
    export = _export_or_404(access, project, export)
    services.export_delete(export=export, actor=request.user)
    messages.success(request, "Export deleted.")
    return redirect("exports:list", org=access.organization.slug, ws=access.workspace.slug, project=export.project.uuid)


def _import_page(request, access, project, form, report=None, status=200):
    context = {"access": access, "project": project, "form": form, "report": report}
    return render(request, "exports/import.html", context, status=status)


def _import_refused(failure, request, access, project):
    form = failure.shown_on(ImportForm(request.POST, request.FILES), field="file")
    return _import_page(request, access, project_or_404(access, project), form, status=failure.status)


@require_http_methods(["GET", "POST"])
@workspace_view("projects.import_labels")
@shows_failures(_import_refused)
def label_import(request, access, project):
    project = project_or_404(access, project)
    if request.method == "GET":
        return _import_page(request, access, project, ImportForm())
    form = ImportForm(request.POST, request.FILES)
    data = valid_or_invalid(form)
    report = services.labels_import(
        project=project, actor=request.user, file=data["file"], format=data["format"], as_final=data["as_final"]
    )
    return _import_page(request, access, project, form, report)


@require_GET
@workspace_view("projects.import_labels")
def label_import_report(request, access, project, report):
    """The report of an earlier import (where its notification leads), above the form for the next one."""
    record = workspace_object_or_404(
        access, LabelImport, related=("project", "created_by"), uuid=report, project__uuid=project
    )
    context = {
        "access": access,
        "project": record.project,
        "form": ImportForm(),
        "report": services.ImportReport.from_stored(record),
        "stored": record,
    }
    return render(request, "exports/import.html", context)
