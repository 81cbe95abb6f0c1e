"""Pages for datasets (list, detail with live scan progress, Refresh now) and the datastore Browse fragment.
(The item media views live in `labeling.media_views`: who may see an item depends on its tasks.)"""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from core.htmx import render_page_or_fragment, render_poll, shows_failures
from projects.datastores import services as datastore_services
from projects.datastores import storage as ds
from projects.datastores.paths import path_child, path_clean, path_parent
from projects.models import DataItem, Dataset, Datastore
from projects.tenancy.access import workspace_object_or_404, workspace_view

PROBLEM_STATES = [
    DataItem.State.SKIPPED,
    DataItem.State.UNREADABLE,
    DataItem.State.TOO_LARGE,
    DataItem.State.MISSING,
    DataItem.State.REFUSED,
]


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
    # Paging swaps the problem list; the end of a scan or refresh swaps the counts and the list together.
    partial = "problems" if request.GET.get("page") else "contents" if request.GET.get("part") == "contents" else None
    return render_page_or_fragment(request, "projects/dataset.html", context, partial=partial)


def _progress(request, access, dataset):
    return render_poll(
        request,
        "projects/dataset.html",
        {"access": access, "dataset": dataset},
        partial="progress",
        finished=not dataset.sync_active,
        events=("dataset-synced", "notifications-changed"),
    )


@require_GET
@workspace_view("projects.view_dataset")
def dataset_progress(request, access, dataset):
    return _progress(request, access, _dataset_or_404(access, dataset))


@require_POST
@workspace_view("projects.change_dataset")
def dataset_refresh(request, access, dataset):
    found = _dataset_or_404(access, dataset)
    datastore_services.dataset_refresh(dataset=found, actor=request.user)
    if request.htmx:  # the progress takes the button's answer: waiting for a worker, then running, then done
        found.refresh_from_db()
        return _progress(request, access, found)
    messages.success(request, "Refresh started: new files will be added in the background.")
    return redirect("dataset", org=access.organization.slug, ws=access.workspace.slug, dataset=found.uuid)


def _browse(request, access, datastore, path, *, refusal="", status=200):
    """One folder's sub-folders; a datastore that cannot be listed is said in their place (a 200: the page works)."""
    error = refusal
    folders: list[str] = []
    files: list[str] = []
    try:
        folders, files = ds.datastore_list(datastore, path)
    except ds.DatastoreError as failure:
        error = error or failure.message_text
    context = {
        "access": access,
        "datastore": datastore,
        "path": path,
        "parent": path_parent(path),
        "error": error,
        "folders": [(name, path_child(path, name)) for name in folders],
        "n_files": len(files),
    }
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
