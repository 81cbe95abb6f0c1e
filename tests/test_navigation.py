"""Where am I and how do I get back: the breadcrumb, the workspace and project navigation, and project links in lists."""

import re
from html import unescape

import pytest
from django.urls import reverse

from labeling.models import Task
from tests.factories import DatasetFactory, ProjectFactory, TaskFactory


def _nav(html, cls):
    match = re.search(rf'<nav class="{cls}"[^>]*>(.*?)</nav>', html, re.S)
    return match.group(1) if match else ""


def crumbs(response):
    """[(label, href or None, current?)] of the page's breadcrumb."""
    assert response.status_code == 200, response.status_code
    found = []
    for item in re.findall(r"<li>(.*?)</li>", _nav(response.content.decode(), "breadcrumb"), re.S):
        link = re.search(r'<a href="([^"]+)">(.*?)</a>', item)
        text = re.sub(r"<[^>]+>", "", item)
        found.append((unescape(text), link.group(1) if link else None, 'aria-current="page"' in item))
    return found


def tabs(response):
    """[(label, current?)] of the page's workspace or project navigation."""
    html = _nav(response.content.decode(), "sectionnav")
    return [
        (unescape(label), 'aria-current="page"' in attrs) for attrs, label in re.findall(r"<a ([^>]*)>(.*?)</a>", html)
    ]


def current_tab(response):
    return [label for label, current in tabs(response) if current]


@pytest.fixture
def nav_project(workspace, labeler):
    project = ProjectFactory.create(workspace=workspace, name="Pets & <Friends>", dataset__items=0)
    TaskFactory.create_batch(3, project=project, state=Task.State.LABELED, labeler=labeler)
    return project


@pytest.fixture
def purl(org, workspace, nav_project):
    def build(name, **kwargs):
        return reverse(name, kwargs={"org": org.slug, "ws": workspace.slug, "project": nav_project.uuid, **kwargs})

    return build


PROJECT_PAGES = [
    ("labeling:dashboard", "Dashboard", [], "Dashboard"),
    ("review:labeled", "Data", [], "Labeled data"),
    ("review:queue", "Data", [], "Next to review"),
    ("review:skipped", "Data", [], "Skipped items"),
    ("labeling:start", "Label data", [], "Label data"),
    ("labeling:grid", "Label data", ["Label data"], "Tasks"),
    ("exports:list", "Export", [], "Export"),
    ("exports:import", "Export", ["Export"], "Import labels"),
    ("project_settings", "Settings", [], "Settings"),
]


@pytest.mark.parametrize("route, tab, parents, page", PROJECT_PAGES)
def test_every_project_page_has_the_breadcrumb_and_the_project_navigation_with_its_place_marked(
    manager_client,
    purl,
    ws_url,
    route,
    tab,
    parents,
    page,
):
    response = manager_client.get(purl(route))
    trail = crumbs(response)
    assert [label for label, _, _ in trail] == ["Acme", "Vision", "Pets & <Friends>", *parents, page]
    # The way back: workspace and project are links, the project's to its main page (the dashboard for a manager).
    assert trail[1][1] == ws_url("workspace")
    assert trail[2][1] == purl("labeling:dashboard")
    assert trail[-1] == (page, None, True)
    assert [label for label, _ in tabs(response)] == ["Dashboard", "Data", "Label data", "Export", "Settings"]
    assert current_tab(response) == [tab]
    # User-typed names are escaped in the breadcrumb.
    assert "Pets &amp; &lt;Friends&gt;" in response.content.decode()


def test_item_history_and_label_removal_pages_name_their_object_after_their_parent(manager_client, purl, nav_project):
    task = Task.objects.filter(project=nav_project).select_related("item").first()
    trail = crumbs(manager_client.get(purl("review:item", item=task.item.uuid)))
    assert [label for label, _, _ in trail][-2:] == ["Labeled data", task.item.key]
    assert trail[-2][1] == purl("review:labeled")
    label = nav_project.label_classes.first()
    response = manager_client.get(purl("labeling:label_remove", label=label.uuid))
    assert [label for label, _, _ in crumbs(response)][-2:] == ["Settings", "Remove a label class"]
    assert current_tab(response) == ["Settings"]


@pytest.mark.parametrize(
    "client_name, expected, home",
    [
        ("labeler_client", ["Label data"], "labeling:start"),
        ("reviewer_client", ["Dashboard", "Data"], "labeling:dashboard"),
        ("manager_client", ["Dashboard", "Data", "Label data", "Export", "Settings"], "labeling:dashboard"),
        ("org_admin_client", ["Dashboard", "Data", "Label data", "Export", "Settings"], "labeling:dashboard"),
    ],
)
def test_the_project_navigation_offers_only_what_the_role_may_use(request, purl, client_name, expected, home):
    client = request.getfixturevalue(client_name)
    url = purl("labeling:start") if client_name == "labeler_client" else purl("labeling:dashboard")
    response = client.get(url)
    assert [label for label, _ in tabs(response)] == expected
    assert crumbs(response)[2][1] == purl(home)
    for label, _ in tabs(response):
        href = re.search(
            rf'<a href="([^"]+)"[^>]*>{re.escape(label)}</a>', _nav(response.content.decode(), "sectionnav")
        ).group(1)
        assert client.get(href).status_code == 200, (label, href)


@pytest.mark.parametrize(
    "client_name, expected",
    [
        ("labeler_client", ["Projects"]),
        ("reviewer_client", ["Projects"]),
        ("manager_client", ["Projects", "Datasets"]),
        ("ws_admin_client", ["Projects", "Datasets", "Members"]),
        ("org_admin_client", ["Projects", "Datasets", "Datastores", "Members", "Organization"]),
    ],
)
def test_workspace_pages_show_the_workspace_navigation_for_the_role(request, ws_url, client_name, expected):
    response = request.getfixturevalue(client_name).get(ws_url("workspace"))
    assert [label for label, _ in tabs(response)] == expected
    assert current_tab(response) == ["Projects"]
    assert crumbs(response) == [
        ("Acme", reverse("organization", kwargs={"org": "acme"}) if client_name == "org_admin_client" else None, False),
        ("Vision", None, True),
    ]


def test_workspace_subpages_mark_their_tab_and_lead_back(ws_admin_client, ws_url, workspace):
    dataset = DatasetFactory.create(workspace=workspace, name="cats & dogs", items=1)
    for route, kwargs, tab, trail in [
        ("datasets", {}, "Datasets", ["Acme", "Vision", "Datasets"]),
        ("dataset", {"dataset": dataset.uuid}, "Datasets", ["Acme", "Vision", "Datasets", "cats & dogs"]),
        ("members", {}, "Members", ["Acme", "Vision", "Members"]),
        ("project_wizard", {}, "Projects", ["Acme", "Vision", "New project"]),
    ]:
        response = ws_admin_client.get(ws_url(route, **kwargs), follow=True)
        assert current_tab(response) == [tab], route
        assert [label for label, _, _ in crumbs(response)] == trail, route
        assert crumbs(response)[1][1] == ws_url("workspace")


def test_datastores_link_goes_to_django_admin_only_for_organization_admins(org_admin_client, ws_admin_client, ws_url):
    admin_list = reverse("admin:projects_datastore_changelist")
    assert f'href="{admin_list}"' in org_admin_client.get(ws_url("workspace")).content.decode()
    assert f'href="{admin_list}"' not in ws_admin_client.get(ws_url("workspace")).content.decode()
    assert org_admin_client.get(admin_list).status_code == 200


@pytest.mark.parametrize(
    "client_name, route",
    [
        ("labeler_client", "labeling:start"),
        ("reviewer_client", "labeling:dashboard"),
        ("manager_client", "labeling:dashboard"),
    ],
)
def test_project_names_in_lists_link_to_the_projects_main_page_for_the_role(request, ws_url, purl, client_name, route):
    client = request.getfixturevalue(client_name)
    link = f'href="{purl(route)}">Pets &amp; &lt;Friends&gt;</a>'
    assert link in client.get(ws_url("workspace")).content.decode()
    assert link in client.get(reverse("home")).content.decode()
    assert client.get(purl(route)).status_code == 200


def test_account_pages_lead_home_and_the_home_page_has_no_breadcrumb(labeler_client):
    assert crumbs(labeler_client.get(reverse("api_tokens"))) == [
        ("Home", reverse("home"), False),
        ("API tokens", None, True),
    ]
    assert crumbs(labeler_client.get(reverse("home"))) == []


def test_anonymous_pages_have_no_navigation(anon_client):
    html = anon_client.get(reverse("login")).content.decode()
    assert 'class="breadcrumb"' not in html and 'class="sectionnav"' not in html


def test_htmx_fragments_carry_no_navigation(reviewer_client, purl):
    html = reviewer_client.get(purl("review:labeled"), headers={"HX-Request": "true"}).content.decode()
    assert 'class="breadcrumb"' not in html
