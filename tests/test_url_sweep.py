"""Every tenant URL (pages, fragments, downloads, API) as an outsider answers 404; as an anonymous user, login.

New URL patterns are picked up automatically: a pattern with a keyword this sweep has no sample
for fails with a message saying where to add one.
"""

import re

import pytest
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

from projects.models import Invitation, Membership
from tests.factories import ProjectFactory, TaskFactory


def _route(pattern) -> str:
    """A route string with `<name>` placeholders, for path() and re_path() (DRF routers) alike."""
    text = str(pattern)
    if isinstance(pattern, RegexPattern):
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", text).lstrip("^").rstrip("$").replace("\\.", ".")
    return text


def _patterns(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, prefix + _route(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + _route(entry.pattern), entry


def tenant_patterns():
    found = []
    for route, pattern in _patterns():
        if "<slug:org>" in route or "<org>" in route:
            found.append((route, pattern))
    return found


@pytest.fixture
def samples(org, workspace, labeler, org_admin):
    """Real objects of the Acme organization, by URL keyword. Add a sample here for each new keyword."""
    invitation = Invitation.objects.create(
        workspace=workspace, email="new@example.com", group=Group.objects.get(name="Labeler"), invited_by=org_admin
    )
    extra = {}
    for hook in SAMPLE_HOOKS:
        extra.update(hook(org=org, workspace=workspace, labeler=labeler, manager=org_admin))
    return {
        "org": org.slug,
        "ws": workspace.slug,
        "member": Membership.objects.get(user=labeler).uuid,
        "invitation": invitation.uuid,
        **extra,
    }


def _project_samples(*, org, workspace, labeler, manager):
    """A project of Acme with a label class (project pages, label editing) and a wizard step."""
    project = ProjectFactory.create(workspace=workspace, name="sweep", dataset__name="sweep-data", dataset__items=3)
    return {"project": project.uuid, "label": project.label_classes.first().uuid, "step": "details"}


# Feature tests register builders of further samples: callables(org, workspace, labeler, manager) -> dict.
SAMPLE_HOOKS: list = [_project_samples]


def _feature_samples(*, org, workspace, labeler, manager):
    """One consistent Acme world: a local datastore and dataset, a project with a labeled task, a finished export."""
    from exports.models import Export, LabelImport
    from labeling.models import Task

    task = TaskFactory.create(
        project__workspace=workspace, project__name="Sweep pets", state=Task.State.LABELED, labeler=labeler
    )
    project = task.project
    name = default_storage.save("exports/sweep.csv", ContentFile(b"image_url,label\n"))
    export = Export.objects.create(project=project, format="csv", state="done", file=name, created_by=manager)
    report = LabelImport.objects.create(
        project=project, format="csv", as_final=True, report={"rows": 1}, created_by=manager
    )
    dataset = project.dataset
    return {
        "project": project.uuid,
        "item": task.item.uuid,
        "export": export.uuid,
        "label": project.label_classes.first().uuid,
        "dataset": dataset.uuid,
        "datastore": dataset.datastore.uuid,
        "report": report.uuid,
    }


SAMPLE_HOOKS.append(_feature_samples)


def _url(route, samples):
    def fill(match):
        name = match.group(2)
        if name not in samples:
            pytest.fail(f"No sample for URL keyword {name!r} in {route!r}: add one in tests/test_url_sweep.py")
        return str(samples[name])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def test_every_app_has_tenant_urls_in_the_sweep():
    """The sweep sees the pages, fragments, media and API of every app (a resolver change cannot empty it)."""
    modules = {pattern.callback.__module__.split(".")[0] for _, pattern in tenant_patterns()}
    assert {"projects", "labeling", "review", "exports"} <= modules, modules
    assert any(route.startswith("api/") for route, _ in tenant_patterns())


def test_the_samples_are_real_objects_a_member_can_reach(org_admin_client, samples):
    """The outsider's 404s prove something only if the same URLs answer a member: one consistent sample world."""
    for route, _ in tenant_patterns():
        url = _url(route, samples)
        status = org_admin_client.get(url).status_code
        assert status != 404, f"GET {url} answers 404 to an organization admin: its sample is not a real object"


def test_outsider_gets_404_everywhere(outsider_client, samples):
    for route, _ in tenant_patterns():
        url = _url(route, samples)
        statuses = {method: getattr(outsider_client, method)(url).status_code for method in ("get", "post")}
        assert set(statuses.values()) <= {404, 405}, f"{url}: {statuses}"
        assert 404 in statuses.values(), f"{url}: {statuses}"


def test_anonymous_is_sent_to_login_everywhere(anon_client, samples):
    for route, _ in tenant_patterns():
        url = _url(route, samples)
        for method in ("get", "post"):
            response = getattr(anon_client, method)(url)
            if response.status_code == 405:
                continue
            if url.startswith("/api/"):
                assert response.status_code in (401, 403), f"{method} {url}: {response.status_code}"
            else:
                assert response.status_code == 302, f"{method} {url}: {response.status_code}"
                assert response["Location"].startswith("/accounts/login/"), f"{method} {url}"


def test_htmx_request_with_expired_session_gets_hx_redirect(anon_client, samples):
    url = _url("o/<slug:org>/<slug:ws>/", samples)
    response = anon_client.get(url, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/?next=")
    assert response.content == b""
