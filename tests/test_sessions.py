"""Sessions end after a spell of inactivity and, however active, after an absolute maximum."""

import time

import pytest
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from labelsite.middleware import SESSION_AUTH_AT, SESSION_SEEN_AT


@pytest.fixture(autouse=True)
def _limits(settings):
    settings.LABELSITE_SESSION_IDLE_SECONDS = 2 * 3600
    settings.LABELSITE_SESSION_MAX_SECONDS = 24 * 3600


def _age(client, **seconds_ago):
    """Move the session's stored timestamps into the past instead of waiting."""
    session = client.session
    now = int(time.time())
    for key, ago in seconds_ago.items():
        session[key] = now - ago
    session.save()


def _logged_out(client, response):
    return (
        response.status_code == 302
        and response["Location"].startswith(reverse("login"))
        and SESSION_KEY not in client.session
    )


def test_a_session_idle_longer_than_the_limit_is_logged_out(labeler_client, ws_url):
    assert labeler_client.get(reverse("home")).status_code == 200
    _age(labeler_client, **{SESSION_SEEN_AT: 2 * 3600 + 5})
    assert _logged_out(labeler_client, labeler_client.get(ws_url("workspace")))
    # Logged out for good, not just for one request.
    assert labeler_client.get(reverse("home")).status_code == 302


def test_activity_keeps_the_session_alive(labeler_client, ws_url):
    assert labeler_client.get(reverse("home")).status_code == 200
    for _ in range(3):  # three spells just under the limit: six hours in all, more than the idle limit
        _age(labeler_client, **{SESSION_SEEN_AT: 2 * 3600 - 60})
        assert labeler_client.get(ws_url("workspace")).status_code == 200
    assert int(time.time()) - labeler_client.session[SESSION_SEEN_AT] < 5


def test_an_active_session_ends_at_the_absolute_maximum(labeler_client, ws_url):
    assert labeler_client.get(reverse("home")).status_code == 200
    _age(labeler_client, **{SESSION_AUTH_AT: 24 * 3600 + 5, SESSION_SEEN_AT: 10})
    assert _logged_out(labeler_client, labeler_client.get(ws_url("workspace")))


def test_an_htmx_request_after_expiry_gets_hx_redirect_to_login(labeler_client, ws_url):
    assert labeler_client.get(reverse("home")).status_code == 200
    _age(labeler_client, **{SESSION_SEEN_AT: 2 * 3600 + 5})
    response = labeler_client.get(ws_url("workspace"), headers={"HX-Request": "true"})
    assert response.status_code == 200 and response["HX-Redirect"].startswith(reverse("login"))


def test_an_expired_session_no_longer_reaches_the_api(labeler_client):
    assert labeler_client.get("/api/v1/workspaces/").status_code == 200
    _age(labeler_client, **{SESSION_AUTH_AT: 24 * 3600 + 5})
    assert labeler_client.get("/api/v1/workspaces/").status_code in (401, 403)


def test_defaults_and_the_cookie_lifetime():
    from django.conf import settings

    from labelsite import settings as defaults

    assert defaults.LABELSITE_SESSION_IDLE_SECONDS == 4 * 3600 and defaults.LABELSITE_SESSION_MAX_SECONDS == 24 * 3600
    assert settings.SESSION_COOKIE_AGE == defaults.LABELSITE_SESSION_MAX_SECONDS


def test_logging_in_starts_both_clocks_afresh(client, labeler):
    client.post(reverse("login"), {"username": "labeler", "password": "pw-Labelsite-123"})
    now = int(time.time())
    assert now - client.session[SESSION_AUTH_AT] < 5 and now - client.session[SESSION_SEEN_AT] < 5
