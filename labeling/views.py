"""The labeling pages: instructions, the htmx grid, and its small POST endpoints (tags, suggestions, submit, skip,
layout)."""

from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from labeling import selectors, services
from core.htmx import render_page_or_fragment
from projects.tenancy.access import project_or_404, workspace_view
from projects.definition.markup import render_markdown_subset

PERM = "labeling.label_task"
_ANY = "00000000-0000-0000-0000-000000000000"


def _urls(access, project) -> dict:
    """Every URL the grid needs, reversed once per request (per-item ones by filling in the item's uuid)."""
    org, ws = access.organization.slug, access.workspace.slug
    mine = {"org": org, "ws": ws, "project": project.uuid}
    urls = {name: reverse(f"labeling:{name}", kwargs=mine) for name in ("start", "grid", "tag", "accept", "submit", "layout")}
    urls["workspace"] = reverse("workspace", kwargs={"org": org, "ws": ws})
    urls["skip"] = reverse("labeling:skip", kwargs={**mine, "item": _ANY})
    urls["thumbnail"] = reverse("item_thumbnail", kwargs={"org": org, "ws": ws, "item": _ANY})
    urls["image"] = reverse("item_image", kwargs={"org": org, "ws": ws, "item": _ANY})
    return urls


def _context(access, project, urls=None, **extra) -> dict:
    urls = urls or _urls(access, project)
    for tile in getattr(extra.get("page"), "tiles", extra.get("tiles", [])):
        item = str(tile.uuid)
        tile.urls = {key: urls[key].replace(_ANY, item) for key in ("skip", "thumbnail", "image")}
    return {"access": access, "project": project, "urls": urls, **extra}


def _grid_response(request, access, project, *, alert="", status=200, classes=None):
    """The labeler's (possibly new) page: `#grid` for htmx, the whole screen otherwise."""
    page = selectors.grid_page_get(project=project, user=request.user, classes=classes)
    context = _context(access, project, page=page, alert=alert)
    return render_page_or_fragment(request, "labeling/grid.html", context, partial="grid", status=status)


def _refused(request, access, project, error, status):
    """Explain why an action was refused; htmx shows it above the grid and keeps the page as it is."""
    if not request.htmx:
        return _grid_response(request, access, project, alert=str(error), status=status)
    context = _context(access, project, alert=str(error), fresh_page=status == 409)
    response = render_page_or_fragment(request, "labeling/grid.html", context, partial="alert", status=status)
    return reswap(retarget(response, "#grid-alert"), "innerHTML")


def _stale(request, access, project, classes=None):
    """The page was submitted meanwhile (another tab): say so and show the labeler's fresh page in its place."""
    response = _grid_response(request, access, project, alert=services.PageSubmitted.default_message, classes=classes)
    return reswap(retarget(response, "#grid"), "outerHTML") if request.htmx else response


def _after_post(request, access, project, classes=None):
    if request.htmx:
        return _grid_response(request, access, project, classes=classes)
    return redirect("labeling:grid", org=access.organization.slug, ws=access.workspace.slug, project=project.uuid)


@require_GET
@workspace_view(PERM)
def start(request, access, project):
    project = project_or_404(access, project, related=())
    instructions = render_markdown_subset(project.instructions_text)
    return render(request, "labeling/start.html", {"access": access, "project": project, "instructions": instructions})


@require_GET
@workspace_view(PERM)
def grid(request, access, project):
    return _grid_response(request, access, project_or_404(access, project, related=()))


@require_POST
@workspace_view(PERM)
def tag(request, access, project):
    project = project_or_404(access, project, related=())
    tasks = selectors.tasks_by_item(project=project, item_uuids=request.POST.getlist("items"))
    labels = [value for value in request.POST.getlist("label") if value.isdigit()][-1:]
    mode = "remove" if request.POST.get("op") == "remove" else "apply"
    try:
        changed = services.draft_set(project=project, user=request.user, task_ids=[t.id for t in tasks.values()],
                                     label_ids=labels, mode=mode)
    except services.PageSubmitted:
        return _stale(request, access, project)
    except services.LeaseLost as error:
        return _refused(request, access, project, error, 409)
    except (ValidationError, services.ProjectNotOpen) as error:
        return _refused(request, access, project, _message(error), 422)
    return _chips_changed(request, access, project, tasks, changed)


@require_POST
@workspace_view(PERM)
def accept(request, access, project):
    """Accept the suggestions of the posted images (the page's, for "Accept all suggestions"; or one tile's)."""
    project = project_or_404(access, project, related=())
    tasks = selectors.tasks_by_item(project=project, item_uuids=request.POST.getlist("items"))
    try:
        changed = services.suggestions_accept(project=project, user=request.user, task_ids=[t.id for t in tasks.values()])
    except services.LeaseLost as error:
        return _refused(request, access, project, error, 409)
    except (ValidationError, services.ProjectNotOpen) as error:
        return _refused(request, access, project, _message(error), 422)
    return _chips_changed(request, access, project, tasks, changed)


def _chips_changed(request, access, project, tasks, changed):
    """htmx: the changed tiles' chips, swapped out of band; a plain form post goes back to the grid."""
    if not request.htmx:
        return _after_post(request, access, project)
    drafts = {t.id: t.draft for t in changed}
    shown = [t for t in tasks.values() if t.id in drafts]
    for task in shown:
        task.draft = drafts[task.id]
    tiles = selectors.tiles_build(shown, selectors.label_classes_get(project))
    return render(request, "labeling/grid.html#chips-oob", _context(access, project, tiles=tiles))


def _message(error):
    return " ".join(error.messages) if isinstance(error, ValidationError) else str(error)


@require_POST
@workspace_view(PERM)
def submit(request, access, project):
    project = project_or_404(access, project, related=())
    tasks = selectors.task_ids_by_item(project=project, item_uuids=request.POST.getlist("items"))
    labels = {task_id: [int(v) for v in request.POST.getlist(f"labels-{item}") if v.isdigit()] for item, task_id in tasks.items()}
    classes = selectors.label_classes_get(project)  # read once: to check the tags, then for the next page
    try:
        submitted = services.page_submit(project=project, user=request.user, labels=labels, classes=classes)
    except services.PageSubmitted:
        return _stale(request, access, project, classes)
    except services.LeaseLost as error:
        return _refused(request, access, project, error, 409)
    except (ValidationError, services.ProjectNotOpen) as error:
        return _refused(request, access, project, _message(error), 422)
    if not submitted and labels:  # every image of it was already submitted by this labeler
        return _stale(request, access, project, classes)
    return _after_post(request, access, project, classes)


@require_POST
@workspace_view(PERM)
def skip(request, access, project, item):
    project = project_or_404(access, project, related=())
    task = selectors.tasks_by_item(project=project, item_uuids=[item]).get(str(item))
    if task is None:
        return _refused(request, access, project, "That image is not part of this project.", 404)
    try:
        services.task_skip(project=project, user=request.user, task=task)
    except services.PageSubmitted:
        return _stale(request, access, project)
    except services.LeaseLost as error:
        return _refused(request, access, project, error, 409)
    except services.ProjectNotOpen as error:
        return _refused(request, access, project, error, 422)
    return _after_post(request, access, project)


@require_POST
@workspace_view(PERM)
def layout(request, access, project):
    project = project_or_404(access, project, related=())
    size = request.POST.get("size", "")
    try:
        services.grid_layout_set(project=project, user=request.user, page_size=int(size) if size.isdigit() else 0)
    except ValidationError as error:
        return _refused(request, access, project, _message(error), 422)
    return _after_post(request, access, project)
