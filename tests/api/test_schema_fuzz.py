"""Schemathesis against the live schema: no workspace endpoint answers a generated request with a 5xx."""

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings

from projects.tenancy.services import api_token_create

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402

from labelsite.wsgi import application  # noqa: E402

EXAMPLES = 4


@pytest.fixture
def keep_test_connection():
    """The raw WSGI app would close the test's database connection after each request (the test Client
    switches that off the same way)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def test_workspace_endpoints_never_answer_5xx(keep_test_connection, manager, workspace, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    _, key = api_token_create(user=manager, name="fuzz")
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex=r"^/api/v1/o/")
    failures, seen = [], []
    for result in schema.get_all_operations():
        operation = result.ok()
        if "imports" in operation.path:  # multipart uploads: covered by tests/exports
            continue

        @hsettings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case):
            case.path_parameters = {**(case.path_parameters or {}), "org": "acme", "ws": "vision"}
            response = case.call(headers={"Authorization": f"Bearer {key}"})
            seen.append(response.status_code)
            try:
                case.validate_response(response, checks=[not_a_server_error])
            except Exception as error:  # collect them all, fail once with the list
                failures.append(f"{case.method} {case.formatted_path}: {error}")
                raise

        try:
            run()
        except Exception:  # noqa: BLE001, S110 — every failure is in `failures`, reported below
            pass
    assert not failures, "\n".join(failures[:5])
    assert len(seen) > 50 and any(code < 300 for code in seen)  # it really called the endpoints
