"""Shared fixtures: two organizations, a persona and a logged-in client for every role (made by tests/factories.py),
the service fixtures and the marker guard that keeps the quick loop free of real services."""

import os

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from projects.tenancy.roles import LABELER, MANAGER, REVIEWER, WORKSPACE_ADMIN
from tests import factories
from tests.factories import PASSWORD, OrganizationFactory, UserFactory, WorkspaceFactory

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
    "azurite": "integration",
    "moto": "integration",
    "worker": "integration",
    "postgres": "integration",
    "live_server": "browser",
    "chromium_browser": "browser",
    "browser_as": "browser",
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


@pytest.fixture
def postgres():
    """The test needs PostgreSQL itself (row locks under concurrency, query plans, its catalog)."""
    require(
        connection.vendor == "postgresql",
        "PostgreSQL",
        "set DATABASE_URL=postgres://... to run this test (SQLite cannot show it)",
    )


@pytest.fixture
def celery_eager():
    """Run Celery tasks inline (and raise their errors) for the duration of a test."""
    from labelsite import celery_app

    before = (celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates)
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield celery_app
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = before


@pytest.fixture
def served_images(settings, tmp_path, monkeypatch):
    """Local datastores made by the factories point at a real folder inside an allowed root, and every item
    registered there gets a small JPEG file, so pages and the full-size viewer can show the images."""
    root = tmp_path / "datastores"
    folder = root / "images"
    folder.mkdir(parents=True)
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(root)]
    monkeypatch.setattr(factories, "LOCAL_PATH", str(folder))
    return folder


@pytest.fixture
def counters_checked(db):
    """After the test, every project's dashboard counters must equal a recount (for tests that move tasks)."""
    yield
    from projects.models import LabelingProject

    factories.assert_counters_true(*LabelingProject.objects.all())


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()


@pytest.fixture
def make_user(db):
    """make_user(username, staff=False): an account with no role anywhere (tests.factories.UserFactory)."""

    def make(username, *, staff=False, password=PASSWORD):
        return UserFactory.create(username=username, is_staff=staff, password=password)

    return make


@pytest.fixture
def org(db):
    return OrganizationFactory.create(name="Acme", slug="acme")


@pytest.fixture
def workspace(org):
    return WorkspaceFactory.create(organization=org, name="Vision", slug="vision")


@pytest.fixture
def other_org(db):
    return OrganizationFactory.create(name="Globex", slug="globex")


@pytest.fixture
def other_workspace(other_org):
    return WorkspaceFactory.create(organization=other_org, name="Secret", slug="secret")


@pytest.fixture
def org_admin(workspace):
    return UserFactory.create(username="orgadmin", is_staff=True, workspace=workspace, org_admin=True)


@pytest.fixture
def ws_admin(workspace):
    return UserFactory.create(username="wsadmin", workspace=workspace, role=WORKSPACE_ADMIN)


@pytest.fixture
def manager(workspace):
    return UserFactory.create(username="manager", workspace=workspace, role=MANAGER)


@pytest.fixture
def reviewer(workspace):
    return UserFactory.create(username="reviewer", workspace=workspace, role=REVIEWER)


@pytest.fixture
def labeler(workspace):
    return UserFactory.create(username="labeler", workspace=workspace, role=LABELER)


@pytest.fixture
def labeler2(workspace):
    return UserFactory.create(username="labeler2", workspace=workspace, role=LABELER)


@pytest.fixture
def reviewer2(workspace):
    return UserFactory.create(username="reviewer2", workspace=workspace, role=REVIEWER)


@pytest.fixture
def outsider(other_workspace):
    """The admin of another organization: powerful at home, a stranger here."""
    return UserFactory.create(
        username="outsider", is_staff=True, workspace=other_workspace, role=MANAGER, org_admin=True
    )


def _client(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def client_for(db):
    """client_for(user): a test client logged in as that user."""
    return _client


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
    """Under CI=true nothing may be skipped: a skip means a component CI should have provided. Each phase's report
    stays on the test, so the browser harness knows at teardown whether the test failed (wherever the test lives)."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"Skipped under CI=true (not allowed): {reason}"
    setattr(item, f"_report_{report.when}", report)
