"""Shared fixtures: two organizations and a logged-in client for every role."""

import os

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.test import Client

from projects.models import Membership, Organization, OrganizationMember, Workspace
from projects.tenancy.roles import LABELER, MANAGER, REVIEWER, WORKSPACE_ADMIN

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}

# The emulators (azurite, moto, azure_container, s3_bucket) are one set of session fixtures for every folder.
pytest_plugins = ["tests.emulators"]


def pytest_configure(config):
    from django.conf import settings

    # Hashing passwords at full strength makes every login in the suite slow; tests need no strength.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def require(available: bool, component: str, how: str) -> None:
    """Skip loudly when a component is missing locally; under CI=true a missing component fails the run."""
    if available:
        return
    message = f"MISSING COMPONENT: {component} — {how}"
    if IN_CI:
        pytest.fail(message + " (CI=true: components may not be skipped)", pytrace=False)
    pytest.skip(message)


# Fixtures that start or need a real service, and the marker a test using one must carry, so that
# `pytest -m "not integration and not browser"` is a fast loop that never starts a service.
SERVICE_FIXTURES = {
    "azurite": "integration", "moto": "integration", "worker": "integration", "postgres": "integration",
    "live_server": "browser", "chromium_browser": "browser", "browser_as": "browser",
}


def pytest_collection_modifyitems(config, items):
    unmarked = []
    for item in items:
        marks = {mark.name for mark in item.iter_markers()}
        for fixture in sorted(SERVICE_FIXTURES.keys() & set(getattr(item, "fixturenames", ()))):
            if SERVICE_FIXTURES[fixture] not in marks:
                unmarked.append(f"{item.nodeid} uses {fixture!r} without @pytest.mark.{SERVICE_FIXTURES[fixture]}")
    if unmarked:
        raise pytest.UsageError("Tests that need a real service must say so:\n  " + "\n  ".join(unmarked))


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


@pytest.fixture
def make_user(db):
    def make(username, *, staff=False, password="pw-Labelsite-123"):
        return get_user_model().objects.create_user(
            username=username, email=f"{username}@example.com", password=password, is_staff=staff
        )

    return make


def _add(org, workspace, user, role=None, *, org_admin=False):
    OrganizationMember.objects.get_or_create(organization=org, user=user, defaults={"is_admin": org_admin})
    if role:
        Membership.objects.create(workspace=workspace, user=user, group=Group.objects.get(name=role))
    return user


@pytest.fixture
def org(db):
    return Organization.objects.create(name="Acme", slug="acme")


@pytest.fixture
def workspace(org):
    return Workspace.objects.create(organization=org, name="Vision", slug="vision")


@pytest.fixture
def other_org(db):
    return Organization.objects.create(name="Globex", slug="globex")


@pytest.fixture
def other_workspace(other_org):
    return Workspace.objects.create(organization=other_org, name="Secret", slug="secret")


@pytest.fixture
def org_admin(org, workspace, make_user):
    return _add(org, workspace, make_user("orgadmin", staff=True), org_admin=True)


@pytest.fixture
def ws_admin(org, workspace, make_user):
    return _add(org, workspace, make_user("wsadmin"), WORKSPACE_ADMIN)


@pytest.fixture
def manager(org, workspace, make_user):
    return _add(org, workspace, make_user("manager"), MANAGER)


@pytest.fixture
def reviewer(org, workspace, make_user):
    return _add(org, workspace, make_user("reviewer"), REVIEWER)


@pytest.fixture
def labeler(org, workspace, make_user):
    return _add(org, workspace, make_user("labeler"), LABELER)


@pytest.fixture
def outsider(other_org, other_workspace, make_user):
    """The admin of another organization: powerful at home, a stranger here."""
    user = _add(other_org, other_workspace, make_user("outsider", staff=True), org_admin=True)
    Membership.objects.create(workspace=other_workspace, user=user, group=Group.objects.get(name=MANAGER))
    return user


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def org_admin_client(org_admin):
    return _client(org_admin)


@pytest.fixture
def ws_admin_client(ws_admin):
    return _client(ws_admin)


@pytest.fixture
def manager_client(manager):
    return _client(manager)


@pytest.fixture
def reviewer_client(reviewer):
    return _client(reviewer)


@pytest.fixture
def labeler_client(labeler):
    return _client(labeler)


@pytest.fixture
def outsider_client(outsider):
    return _client(outsider)


@pytest.fixture
def anon_client(db):
    return Client()


@pytest.fixture
def ws_url(org, workspace):
    """Build a URL inside the Acme / Vision workspace: ws_url('members')."""
    from django.urls import reverse

    def build(name, **kwargs):
        return reverse(name, kwargs={"org": org.slug, "ws": workspace.slug, **kwargs})

    return build


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under CI=true nothing may be skipped: a skip means a component CI should have provided."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"Skipped under CI=true (not allowed): {reason}"
