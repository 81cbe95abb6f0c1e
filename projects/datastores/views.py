"""Pages for datasets (list, detail with live scan progress, Refresh now) and the datastore Browse fragment.
(The item media views live in `labeling.media_views`: who may see an item depends on its tasks.)"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseStopPolling

from core.htmx import render_page_or_fragment, shows_failures
from projects.datastores import services as datastore_services
from projects.datastores import storage as ds
from projects.datastores.paths import path_child, path_clean, path_parent
from projects.tenancy.access import workspace_object_or_404, workspace_view
from projects.models import DataItem, Datastore, Dataset

PROBLEM_STATES = [DataItem.State.SKIPPED, DataItem.State.UNREADABLE, DataItem.State.TOO_LARGE, DataItem.State.MISSING,
                  DataItem.State.REFUSED]


def _dataset_or_404(access, uuid):
    return workspace_object_or_404(access, Dataset, related=("datastore",), uuid=uuid)


def _counts(dataset) -> dict:
    rows = dataset.items.values("state").annotate(n=Count("pk")).order_by()
    found = {row["state"]: row["n"] for row in rows}
    return {label: found.get(value, 0) for value, label in DataItem.State.choices}


@require_GET
@workspace_view("projects.view_dataset")
def datasets(request, access):
    rows = Dataset.objects.for_workspace(access.workspace).select_related("datastore").annotate(n_items=Count("items"))
    return render(request, "projects/datasets.html", {"access": access, "datasets": rows})


@require_GET
@workspace_view("projects.view_dataset")
def dataset_detail(request, access, dataset):
    found = _dataset_or_404(access, dataset)
    problems = Paginator(found.items.filter(state__in=PROBLEM_STATES).order_by("key"), 50)
    page = problems.get_page(request.GET.get("page"))
    context = {"access": access, "dataset": found, "counts": _counts(found), "problems": page}
    # Only paging swaps the problem list; the page's own polling and links ask for the whole page.
    partial = "problems" if request.GET.get("page") else None
    return render_page_or_fragment(request, "projects/dataset.html", context, partial=partial)


def _refresh_state(dataset, after) -> dict:
    """Where a Refresh now asked for on this page stands. `after`: the dataset's last refresh time (epoch
    seconds, 0 for never) when it was asked for, carried by the page's polling; a newer one is its result."""
    if after is None:
        return {}
    done = dataset.last_refresh_at is not None and dataset.last_refresh_at.timestamp() > after
    return {"refresh_after": after, "refresh_pending": not done, "refresh_done": done}


def _refresh_after(request) -> float | None:
    try:
        return float(request.GET["refresh_after"])
    except (KeyError, ValueError):
        return None


@require_GET
@workspace_view("projects.view_dataset")
def dataset_progress(request, access, dataset):
    found = _dataset_or_404(access, dataset)
    refresh = _refresh_state(found, _refresh_after(request))
    context = {"access": access, "dataset": found, "counts": _counts(found), **refresh}
    response = render(request, "projects/dataset.html#progress", context)
    busy = found.busy_until is not None and found.busy_until > timezone.now()
    if found.scan_state in (Dataset.ScanState.DONE, Dataset.ScanState.FAILED) and not busy \
            and not refresh.get("refresh_pending"):
        stop = HttpResponseStopPolling(response.content)  # 286: htmx swaps this last fragment and stops polling
        stop["Content-Type"] = response["Content-Type"]
        return stop
    return response


@require_POST
@workspace_view("projects.change_dataset")
def dataset_refresh(request, access, dataset):
    found = _dataset_or_404(access, dataset)
    datastore_services.dataset_refresh(dataset=found, actor=request.user)
    if request.htmx:  # the progress block above the button says it started, then follows it to its result
        after = found.last_refresh_at.timestamp() if found.last_refresh_at else 0.0
        context = {"access": access, "dataset": found, "counts": _counts(found), **_refresh_state(found, after)}
        return render(request, "projects/dataset.html#progress", context)
    messages.success(request, "Refresh started: new files will be added in the background.")
    return redirect("dataset", org=access.organization.slug, ws=access.workspace.slug, dataset=found.uuid)


def _browse(request, access, datastore, path, *, refusal="", status=200):
    """One folder's sub-folders; a datastore that cannot be listed is said in their place (a 200: the page works)."""
    error, folders, files = refusal, [], []
    try:
        folders, files = ds.datastore_list(datastore, path)
    except ds.DatastoreError as failure:
        error = error or failure.message_text
    context = {"access": access, "datastore": datastore, "path": path, "parent": path_parent(path), "error": error,
               "folders": [(name, path_child(path, name)) for name in folders], "n_files": len(files)}
    return render_page_or_fragment(request, "projects/browse.html", context, partial="browse", status=status)


def _browse_refused(failure, request, access, datastore):
    """A path that cannot be browsed (`..`, a control character): said above the folders of the top."""
    found = workspace_object_or_404(access, Datastore, uuid=datastore)
    return _browse(request, access, found, "", refusal=failure.message, status=failure.status)


@require_GET
@workspace_view("projects.view_datastore")
@shows_failures(_browse_refused)
def datastore_browse(request, access, datastore):
    found = workspace_object_or_404(access, Datastore, uuid=datastore)
    return _browse(request, access, found, path_clean(request.GET.get("path", ""), field=None))
