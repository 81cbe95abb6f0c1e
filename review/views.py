"""Review pages: labeled-data browser, review queue, item history, bulk decisions and skipped items."""

from django.contrib import messages
from django.http import QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import push_url

from core.htmx import render_page_or_fragment, shows_failures, valid_or_invalid
from labeling.models import Task
from projects.definition.label_classes import label_class_resolver
from projects.models import LabelingProject
from projects.tenancy.access import project_or_404, workspace_view
from review import selectors, services
from review.forms import DecisionForm, LabeledFilterForm, SkippedActionForm, filters_query
from review.models import Review
from review.selectors import LAYOUTS, LabeledFilters

REVIEW = "review.review_annotation"
MANAGE = "projects.change_labelingproject"


def _render(request, template, context, partial="results", status=200):
    """The whole page, or only the `partial` fragment for htmx (a history restore gets the page)."""
    return render_page_or_fragment(request, template, context, partial=partial, status=status)


def _push_canonical(request, response, query):
    """Filters and pages live in the URL: an htmx swap pushes the canonical query string to history."""
    if request.htmx:
        return push_url(response, f"{request.path}?{query}" if query else request.path)
    return response


def _back(access, project, name, query=""):
    url = reverse(
        f"review:{name}", kwargs={"org": access.organization.slug, "ws": access.workspace.slug, "project": project.uuid}
    )
    return f"{url}?{query}" if query else url


def _browser_context(access, project, query, *, manage=False, classes=None):
    """One keyset page of the labeled-data browser (or of skipped items) with its First/Previous/Next links;
    `classes`: the project's resolver when the caller has one."""
    classes = classes or label_class_resolver(project=project)
    rates = [] if manage else selectors.labeler_rates(project)  # its users are the labeler filter's choices
    form = LabeledFilterForm(query, classes=classes, labelers=[row["user"] for row in rates])
    filters = LabeledFilters(state="skipped") if manage else form.filters
    page = selectors.labeled_page(
        project=project,
        filters=filters,
        classes=classes.classes,
        size=form.page_size,
        after=form.cursor("after"),
        before=form.cursor("before"),
    )
    start = form.query(after=None, before=None)
    here = start if page.first else form.query()
    return {
        "access": access,
        "project": project,
        "form": form,
        "tasks": page.tasks,
        "layout": form.page_size,
        "layouts": LAYOUTS,
        "labeler_rates": rates,
        "query": here,
        "newest_first": filters.newest_first,
        "first_query": None if page.first else start,
        "prev_query": form.query(after=None, before=page.previous_cursor) if page.previous_cursor else None,
        "next_query": form.query(after=page.next_cursor, before=None) if page.next_cursor else None,
        "item_query": urlencode({"next": here}) if here and not manage else "",
        "status_message": f"{form.cursor_error} Showing the first page." if form.cursor_error else "",
        # A broken cursor in the address bar would show the note again on reload: the page swaps in the clean URL.
        "clean_query": here if form.cursor_error else None,
        "nav": "skipped" if manage else "labeled",
    }


@require_GET
@workspace_view(REVIEW)
def labeled(request, access, project):
    project = project_or_404(access, project, related=())
    context = _browser_context(access, project, request.GET)
    return _push_canonical(request, _render(request, "review/labeled.html", context), context["query"])


def _queue_context(access, project, reviewer, layout):
    held = selectors.queue_held(project=project, reviewer=reviewer, size=layout)
    tasks = selectors.queue_tasks(project=project, task_ids=held, classes=label_class_resolver(project=project).classes)
    return {
        "access": access,
        "project": project,
        "tasks": tasks,
        "layout": layout,
        "layouts": LAYOUTS,
        "mode": "queue",
        "nav": "queue",
    }


def _layout(data):
    try:
        layout = int(data.get("layout", selectors.DEFAULT_LAYOUT))
    except ValueError:
        return selectors.DEFAULT_LAYOUT
    return layout if layout in LAYOUTS else selectors.DEFAULT_LAYOUT


@require_GET
@workspace_view(REVIEW)
def queue(request, access, project):
    project = project_or_404(access, project, related=())
    return _render(request, "review/queue.html", _queue_context(access, project, request.user, _layout(request.GET)))


@require_POST
@workspace_view(REVIEW)
def queue_claim(request, access, project):
    project = project_or_404(access, project, related=())
    layout = _layout(request.POST)
    services.review_queue_claim(project=project, reviewer=request.user, size=layout)
    if request.htmx:
        return _render(request, "review/queue.html", _queue_context(access, project, request.user, layout))
    return redirect(_back(access, project, "queue", f"layout={layout}"))


@require_POST
@workspace_view(REVIEW)
def queue_release(request, access, project):
    project = project_or_404(access, project, related=())
    services.review_queue_release(project=project, reviewer=request.user)
    messages.info(request, "Your review page went back to the queue.")
    return redirect(_back(access, project, "labeled"))


def _decision_shown(request, access, project, form, *, message, status):
    """The screen the decision came from, with the outcome where the reviewer acted: the item page, the review queue
    or the labeled data (htmx: its results fragment)."""
    mode, query = form.cleaned_data.get("mode") or "labeled", form.cleaned_data.get("next", "")
    items = form.cleaned_data.get("items") or []
    notice = {"status_message": message, "status": status}
    if mode == "item" and len(items) == 1:
        context = _item_context(request, access, project, items[0][0], back=query)
        return render(request, "review/item.html", {**context, **notice}, status=status)
    if mode == "queue":
        context = _queue_context(access, project, request.user, _layout(QueryDict(query)))
        return _render(request, "review/queue.html", {**context, **notice}, status=status)
    context = _browser_context(access, project, QueryDict(query), classes=form.fields["labels"].resolver)
    # The Labelers table below the results counts the decisions just made: it comes along, out of band.
    return _render(request, "review/labeled.html", {**context, **notice}, partial="decided", status=status)


def _decision_refused(failure, request, access, project):
    project = project_or_404(access, project, related=())
    form = DecisionForm(request.POST, classes=label_class_resolver(project=project))
    form.is_valid()  # for where to show it (mode, next, items), whatever was refused
    return _decision_shown(request, access, project, form, message=failure.message, status=failure.status)


@require_POST
@workspace_view(REVIEW)
@shows_failures(_decision_refused)
def decide(request, access, project):
    """Bulk or single decision. htmx gets the re-rendered fragment; plain HTTP a redirect, or the page with the error."""
    project = project_or_404(access, project, related=())
    form = DecisionForm(request.POST, classes=label_class_resolver(project=project))
    data = valid_or_invalid(form)
    result = services.review_decide(
        project=project,
        reviewer=request.user,
        decisions=data["items"],
        decision=data["decision"],
        reason=data["reason"],
        corrected_labels=data["labels"],
    )
    done = len(result.decided) + len(result.unchanged)
    message = f"{Review.Decision(result.decision).label}: {done} image{'s' if done != 1 else ''}."
    if data["mode"] == "item" or not request.htmx:
        messages.success(request, message)
        return _after_plain_decision(access, project, data["items"], data["mode"] or "labeled", data["next"])
    return _decision_shown(request, access, project, form, message=message, status=200)


def _after_plain_decision(access, project, items, mode, query):
    if mode == "item" and len(items) == 1:
        kwargs = {
            "org": access.organization.slug,
            "ws": access.workspace.slug,
            "project": project.uuid,
            "item": items[0][0],
        }
        url = reverse("review:item", kwargs=kwargs)
        return redirect(f"{url}?{urlencode({'next': query})}" if query else url)
    return redirect(_back(access, project, "queue" if mode == "queue" else "labeled", query))


def _item_context(request, access, project, item, *, back=""):
    """An item's page; `back` is the labeled-data query (filters and cursor) its Back link returns to."""
    classes = label_class_resolver(project=project)
    task = selectors.tasks_decorate([selectors.item_task_get(project=project, item=item)], classes.classes)[0]
    return {
        "access": access,
        "project": project,
        "task": task,
        "history": selectors.item_history(task),
        "lease": selectors.active_lease(task),
        "classes": classes.active,  # a correction sets new tags
        "can_decide": task.state == Task.State.LABELED,
        "own": task.labeled_by_id == request.user.pk,
        "multi": project.task_type == LabelingProject.TaskType.MULTI_LABEL,
        "nav": "labeled",
        "back_query": back,
    }


@require_GET
@workspace_view(REVIEW)
def item(request, access, project, item):
    project = project_or_404(access, project, related=())
    back = filters_query(request.GET.get("next", ""))
    return render(request, "review/item.html", _item_context(request, access, project, item, back=back))


@require_GET
@workspace_view(MANAGE)
def skipped(request, access, project):
    project = project_or_404(access, project, related=())
    context = _browser_context(access, project, request.GET, manage=True)
    return _push_canonical(request, _render(request, "review/skipped.html", context), context["query"])


def _skipped_shown(request, access, project, form, *, message, status):
    context = _browser_context(access, project, QueryDict(form.cleaned_data.get("next", "")), manage=True)
    return _render(
        request, "review/skipped.html", {**context, "status_message": message, "status": status}, status=status
    )


def _skipped_refused(failure, request, access, project):
    form = SkippedActionForm(request.POST)
    form.is_valid()  # for the page to return to
    return _skipped_shown(
        request,
        access,
        project_or_404(access, project, related=()),
        form,
        message=failure.message,
        status=failure.status,
    )


@require_POST
@workspace_view(MANAGE)
@shows_failures(_skipped_refused)
def skipped_action(request, access, project):
    project = project_or_404(access, project, related=())
    form = SkippedActionForm(request.POST)
    data = valid_or_invalid(form)
    action = services.skipped_requeue if data["action"] == "requeue" else services.skipped_remove
    done = action(project=project, actor=request.user, items=data["items"])
    verb = "Re-queued" if data["action"] == "requeue" else "Removed from the project"
    message = f"{verb}: {done} image{'s' if done != 1 else ''}."
    if not request.htmx:
        messages.success(request, message)
        return redirect(_back(access, project, "skipped", data["next"]))
    return _skipped_shown(request, access, project, form, message=message, status=200)
