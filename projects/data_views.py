"""Pages for datasets (list, detail with live scan progress, Refresh now), the datastore Browse
fragment, and the two item media views (thumbnail, image) that are the only way images reach browsers."""

from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.files.storage import default_storage
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseStopPolling

from projects import services
from projects import storage as ds
from projects.access import workspace_view
from projects.models import DataItem, Datastore, Dataset

PROBLEM_STATES = [DataItem.State.SKIPPED, DataItem.State.UNREADABLE, DataItem.State.TOO_LARGE, DataItem.State.MISSING,
                  DataItem.State.REFUSED]
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp",
                 "BMP": "image/bmp", "TIFF": "image/tiff", "MPO": "image/jpeg"}
PLACEHOLDER = Path(settings.BASE_DIR) / "labelsite" / "static" / "labelsite" / "thumbnail-placeholder.svg"


def _dataset_or_404(access, uuid):
    return get_object_or_404(Dataset.objects.for_workspace(access.workspace).select_related("datastore"), uuid=uuid)


def _counts(dataset) -> dict:
    rows = DataItem.objects.filter(dataset=dataset).values("state").annotate(n=Count("pk")).order_by()
    found = {row["state"]: row["n"] for row in rows}
    return {label: found.get(value, 0) for value, label in DataItem.State.choices}


@require_GET
@workspace_view("projects.view_dataset")
def datasets(request, access):
    rows = Dataset.objects.for_workspace(access.workspace).select_related("datastore").annotate(n_items=Count("items"))
    return render(request, "projects/datasets.html", {"access": access, "datasets": rows})


@require_GET
@vary_on_headers("HX-Request")
@workspace_view("projects.view_dataset")
def dataset_detail(request, access, dataset):
    found = _dataset_or_404(access, dataset)
    problems = Paginator(DataItem.objects.filter(dataset=found, state__in=PROBLEM_STATES).order_by("key"), 50)
    page = problems.get_page(request.GET.get("page"))
    context = {"access": access, "dataset": found, "counts": _counts(found), "problems": page}
    if request.htmx and request.GET.get("page"):
        return render(request, "projects/dataset.html#problems", context)
    return render(request, "projects/dataset.html", context)


@require_GET
@workspace_view("projects.view_dataset")
def dataset_progress(request, access, dataset):
    found = _dataset_or_404(access, dataset)
    context = {"access": access, "dataset": found, "counts": _counts(found)}
    response = render(request, "projects/dataset.html#progress", context)
    busy = found.busy_until is not None and found.busy_until > timezone.now()
    if found.scan_state in (Dataset.ScanState.DONE, Dataset.ScanState.FAILED) and not busy:
        stop = HttpResponseStopPolling(response.content)  # 286: htmx swaps this last fragment and stops polling
        stop["Content-Type"] = response["Content-Type"]
        return stop
    return response


@require_POST
@workspace_view("projects.change_dataset")
def dataset_refresh(request, access, dataset):
    found = _dataset_or_404(access, dataset)
    services.dataset_refresh(dataset=found, actor=request.user)
    messages.success(request, "Refresh started: new files will be added in the background.")
    return redirect("dataset", org=access.organization.slug, ws=access.workspace.slug, dataset=found.uuid)


@require_GET
@vary_on_headers("HX-Request")
@workspace_view("projects.view_datastore")
def datastore_browse(request, access, datastore):
    found = get_object_or_404(Datastore.objects.for_workspace(access.workspace), uuid=datastore)
    path = "/".join(p for p in request.GET.get("path", "").split("/") if p and p not in (".", ".."))
    error, folders, files = "", [], []
    try:
        folders, files = ds.datastore_list(found, path)
    except ds.DatastoreError as failure:
        error = failure.message_text
    parent = "/".join(path.split("/")[:-1]) if path else None
    context = {"access": access, "datastore": found, "path": path, "parent": parent, "error": error,
               "folders": [(name, f"{path}/{name}" if path else name) for name in folders], "n_files": len(files)}
    template = "projects/browse.html#browse" if request.htmx else "projects/browse.html"
    return render(request, template, context)


def _item_or_404(access, uuid):
    return get_object_or_404(DataItem.objects.for_workspace(access.workspace).select_related("dataset__datastore"), uuid=uuid)


@require_GET
@workspace_view("projects.view_labelingproject")
def item_thumbnail(request, access, item):
    found = _item_or_404(access, item)
    if found.thumbnail and default_storage.exists(found.thumbnail):
        response = FileResponse(default_storage.open(found.thumbnail), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=86400"
    else:
        response = FileResponse(PLACEHOLDER.open("rb"), content_type="image/svg+xml")
        response["Cache-Control"] = "no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
@workspace_view("projects.view_labelingproject")
def item_image(request, access, item):
    found = _item_or_404(access, item)
    # Only files recognised as images are served, typed by their content, never by their name.
    content_type = CONTENT_TYPES.get(found.image_format)
    if found.state != DataItem.State.READY or not content_type:
        return HttpResponse("This item has no viewable image.", status=404, content_type="text/plain")
    datastore = found.dataset.datastore
    try:
        if datastore.kind != Datastore.Kind.LOCAL:
            response = HttpResponseRedirect(ds.signed_url(datastore, found.key))
            response["Cache-Control"] = "private, no-store"
            return response
        path = ds.local_file_path(datastore, found.key)
        response = FileResponse(path.open("rb"), content_type=content_type, filename=_safe_filename(found.key))
    except (ds.DatastoreError, OSError, ValueError) as failure:
        message = failure.message_text if isinstance(failure, ds.DatastoreError) else "The file cannot be read."
        return HttpResponse(message, status=502, content_type="text/plain")
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response


def _safe_filename(key: str) -> str:
    name = key.rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '"\\;\r\n') or "image"
    return name[:150]

