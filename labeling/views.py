"""The labeling pages: instructions, the htmx grid, and its small POST endpoints (tags, suggestions, submit, skip,
layout)."""

from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import reswap, retarget

from core.errors import NotFound
from core.htmx import Failure, render_page_or_fragment, shows_failures
from labeling import selectors, services
from projects.definition.label_classes import label_class_resolver
from projects.definition.markup import render_markdown_subset
from projects.tenancy.access import project_or_404, workspace_view

PERM = "labeling.label_task"
_ANY = "00000000-0000-0000-0000-000000000000"


def _urls(access, project) -> dict:
    """Every URL the grid needs, reversed once per request (per-item ones by filling in the item's uuid)."""
    org, ws = access.organization.slug, access.workspace.slug
    mine = {"org": org, "ws": ws, "project": project.uuid}
    urls = {
        name: reverse(f"labeling:{name}", kwargs=mine)
        for name in ("start", "grid", "tag", "accept", "submit", "layout")
    }
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


def _refused(failure, request, access, project, **_):
    """A refused action, shown where the labeler acted: htmx puts the reason above the grid and keeps the page as it
    is (a lost hold also offers a fresh page); plain HTTP gets the grid with the reason."""
    project = project_or_404(access, project, related=())
    if isinstance(failure.error, services.PageSubmitted):  # not refused: this page was submitted in another tab
        return _stale(request, access, project)
    if not request.htmx:
        return _grid_response(request, access, project, alert=failure.message, status=failure.status)
    context = _context(access, project, alert=failure.message, fresh_page=isinstance(failure.error, services.LeaseLost))
    response = render_page_or_fragment(request, "labeling/grid.html", context, partial="alert", status=failure.status)
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
@shows_failures(_refused)
def tag(request, access, project):
    project = project_or_404(access, project, related=())
    classes = label_class_resolver(project=project)
    tasks = selectors.tasks_by_item(project=project, item_uuids=request.POST.getlist("items"))
    labels = classes.many(request.POST.getlist("label")[-1:])  # the button pressed (grid.js adds its own last)
    mode = "remove" if request.POST.get("op") == "remove" else "apply"
    changed = services.draft_set(
        project=project,
        user=request.user,
        task_ids=[t.id for t in tasks.values()],
        label_ids=[c.id for c in labels],
        mode=mode,
    )
    return _chips_changed(request, access, project, tasks, changed, classes.active)


@require_POST
@workspace_view(PERM)
@shows_failures(_refused)
def accept(request, access, project):
    """Accept the suggestions of the posted images (the page's, for "Accept all suggestions"; or one tile's)."""
    project = project_or_404(access, project, related=())
    tasks = selectors.tasks_by_item(project=project, item_uuids=request.POST.getlist("items"))
    changed = services.suggestions_accept(project=project, user=request.user, task_ids=[t.id for t in tasks.values()])
    return _chips_changed(request, access, project, tasks, changed, label_class_resolver(project=project).active)


def _chips_changed(request, access, project, tasks, changed, classes):
    """htmx: the changed tiles' chips, swapped out of band; a plain form post goes back to the grid."""
    if not request.htmx:
        return _after_post(request, access, project)
    drafts = {t.id: t.draft for t in changed}
    shown = [t for t in tasks.values() if t.id in drafts]
    for task in shown:
        task.draft = drafts[task.id]
    tiles = selectors.tiles_build(shown, classes)
    return render(request, "labeling/grid.html#chips-oob", _context(access, project, tiles=tiles))


@require_POST
@workspace_view(PERM)
@shows_failures(_refused)
def submit(request, access, project):
    project = project_or_404(access, project, related=())
    classes = label_class_resolver(project=project)  # read once: to resolve the tags, then for the next page
    tasks = selectors.task_ids_by_item(project=project, item_uuids=request.POST.getlist("items"))
    labels = {
        task_id: [c.id for c in classes.many(request.POST.getlist(f"labels-{item}"))] for item, task_id in tasks.items()
    }
    submitted = services.page_submit(project=project, user=request.user, labels=labels, classes=classes.active)
    if not submitted and labels:  # every image of it was already submitted by this labeler
        return _stale(request, access, project, classes.active)
    return _after_post(request, access, project, classes.active)


@require_POST
@workspace_view(PERM)
@shows_failures(_refused)
def skip(request, access, project, item):
    project = project_or_404(access, project, related=())
    task = selectors.tasks_by_item(project=project, item_uuids=[item]).get(str(item))
    if task is None:  # the URL names an image this project has no task for: said in the grid, like a refusal
        return _refused(Failure(NotFound("That image is not part of this project.")), request, access, project.uuid)
    services.task_skip(project=project, user=request.user, task=task)
    return _after_post(request, access, project)


@require_POST
@workspace_view(PERM)
@shows_failures(_refused)
def layout(request, access, project):
    project = project_or_404(access, project, related=())
    size = request.POST.get("size", "")
    services.grid_layout_set(project=project, user=request.user, page_size=int(size) if size.isdigit() else 0)
    return _after_post(request, access, project)
