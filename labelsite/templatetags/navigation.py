"""Where am I, and where can I go: the breadcrumb and the workspace/project navigation of every page, in one place.

base.html renders `{% page_navigation %}`; it reads the request's route name, the view's `access` and `project`
from the context, and the table below. A page never writes its own way back.
"""

from __future__ import annotations

from dataclasses import dataclass

from django import template
from django.template import Variable, VariableDoesNotExist
from django.urls import NoReverseMatch, reverse

register = template.Library()


@dataclass(frozen=True)
class Page:
    title: str
    tab: str = ""  # the highlighted item of the workspace or project navigation
    parent: str = ""  # route name of the crumb before this one (inside the same workspace/project)
    detail: str = ""  # a context variable naming this very object (the last crumb), e.g. a dataset's name


# Route name → its place. Routes missing here show only the crumbs their context gives (organization / workspace).
PAGES = {
    "workspace": Page("Projects", tab="projects"),
    "project_wizard": Page("New project", tab="projects"),
    "project_wizard_step": Page("New project", tab="projects"),
    "project_wizard_dataset_create": Page("New project", tab="projects"),
    "datasets": Page("Datasets", tab="datasets"),
    "dataset": Page("Dataset", tab="datasets", parent="datasets", detail="dataset.name"),
    "members": Page("Members", tab="members"),
    "labeling:dashboard": Page("Dashboard", tab="dashboard"),
    "review:labeled": Page("Labeled data", tab="data"),
    "review:queue": Page("Next to review", tab="data"),
    "review:skipped": Page("Skipped items", tab="data"),
    "review:item": Page("Image", tab="data", parent="review:labeled", detail="task.item.key"),
    "labeling:start": Page("Label data", tab="label"),
    "labeling:grid": Page("Tasks", tab="label", parent="labeling:start"),
    "exports:list": Page("Export", tab="export"),
    "exports:import": Page("Import labels", tab="export", parent="exports:list"),
    "project_settings": Page("Settings", tab="settings"),
    "labeling:label_remove": Page("Remove a label class", tab="settings", parent="project_settings"),
    "organization": Page("Organization"),
    "api_tokens": Page("API tokens"),
    "password_change": Page("Change password"),
    "password_change_done": Page("Password changed"),
}

# (tab, label, route, permission): only what the role may use is shown.
PROJECT_TABS = (
    ("dashboard", "Dashboard", "labeling:dashboard", "projects.view_dashboard"),
    ("data", "Data", "review:labeled", "review.review_annotation"),
    ("label", "Label data", "labeling:start", "labeling.label_task"),
    ("export", "Export", "exports:list", "exports.view_export"),
    ("settings", "Settings", "project_settings", "projects.change_labelingproject"),
)
WORKSPACE_TABS = (
    ("projects", "Projects", "workspace", "projects.view_workspace"),
    ("datasets", "Datasets", "datasets", "projects.view_dataset"),
    ("members", "Members", "members", "projects.view_membership"),
)


def project_home_route(can_dashboard: bool) -> str:
    """A project's main page for a role: the dashboard for those who may see it (`projects.view_dashboard`),
    else labeling (every role without the dashboard labels)."""
    return "labeling:dashboard" if can_dashboard else "labeling:start"


def _url(route, kwargs):
    try:
        return reverse(route, kwargs=kwargs)
    except NoReverseMatch:
        return ""


def _resolve(context, dotted):
    try:
        return Variable(dotted).resolve(context)
    except VariableDoesNotExist:
        return ""


def _workspace_tabs(access, user, current):
    kw = {"org": access.organization.slug, "ws": access.workspace.slug}
    tabs = [
        {"label": label, "url": reverse(route, kwargs=kw), "current": tab == current}
        for tab, label, route, perm in WORKSPACE_TABS
        if access.can(perm)
    ]
    # Datastores are kept in Django admin, which only organization admins (staff) may use.
    if user.is_staff and (access.is_org_admin or user.is_superuser):
        tabs.insert(
            2 if access.can("projects.view_dataset") else 1,
            {
                "label": "Datastores",
                "url": reverse("admin:projects_datastore_changelist"),
                "current": False,
                "external": True,
            },
        )
    if access.is_org_admin:
        tabs.append(
            {
                "label": "Organization",
                "url": reverse("organization", kwargs={"org": access.organization.slug}),
                "current": False,
            }
        )
    return tabs


def _project_tabs(access, project, current):
    kw = {"org": access.organization.slug, "ws": access.workspace.slug, "project": project.uuid}
    return [
        {"label": label, "url": _url(route, kw), "current": tab == current}
        for tab, label, route, perm in PROJECT_TABS
        if access.can(perm)
    ]


@register.inclusion_tag("navigation.html", takes_context=True)
def page_navigation(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    match = getattr(request, "resolver_match", None)
    if user is None or not user.is_authenticated or match is None:
        return {}
    route = match.view_name
    page = PAGES.get(route)
    access = context.get("access") or getattr(request, "access", None)
    project = context.get("project") if access is not None else None
    crumbs, tabs, tabs_label = [], [], ""
    if access is not None:
        org, ws = access.organization, access.workspace
        kw = {"org": org.slug, "ws": ws.slug}
        crumbs.append(
            {"label": org.name, "url": reverse("organization", kwargs={"org": org.slug}) if access.is_org_admin else ""}
        )
        crumbs.append({"label": ws.name, "url": reverse("workspace", kwargs=kw)})
        if project is not None and getattr(project, "uuid", None):
            kw["project"] = project.uuid
            crumbs.append(
                {"label": project.name, "url": _url(project_home_route(access.can("projects.view_dashboard")), kw)}
            )
            tabs, tabs_label = _project_tabs(access, project, page.tab if page else ""), f"Project {project.name}"
        else:
            tabs, tabs_label = _workspace_tabs(access, user, page.tab if page else ""), f"Workspace {ws.name}"
        if page and page.parent:
            crumbs.append({"label": PAGES[page.parent].title, "url": _url(page.parent, kw)})
        if page and route != "workspace":
            crumbs.append({"label": (_resolve(context, page.detail) if page.detail else "") or page.title, "url": ""})
    elif page:
        crumbs.append({"label": "Home", "url": reverse("home")})
        organization = context.get("organization") if route == "organization" else None
        crumbs.append({"label": organization.name if organization is not None else page.title, "url": ""})
    if not crumbs:
        return {}
    # The page you are on is the last crumb: named, not linked.
    crumbs[-1] = {**crumbs[-1], "url": "", "current": True}
    return {"crumbs": crumbs, "tabs": tabs, "tabs_label": tabs_label}


@register.simple_tag
def project_home_url(project, workspace, can_dashboard):
    """`{% project_home_url project workspace can_dashboard %}`: the link a project's name carries in lists
    (`workspace` with its organization loaded, so no query is made per row)."""
    return _url(
        project_home_route(can_dashboard),
        {"org": workspace.organization.slug, "ws": workspace.slug, "project": project.uuid},
    )
