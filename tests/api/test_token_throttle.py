"""Guessing API tokens: failed authentications are counted per client address and then answered 429."""

import pytest
from django.test import Client
from django.urls import reverse


@pytest.fixture
def valid_key(labeler_client):
    return labeler_client.post(reverse("api_tokens"), {"name": "notebook"}).context["new_key"]


def _get(key, address="203.0.113.7", **extra):
    return Client().get("/api/v1/workspaces/", headers={"Authorization": f"Bearer {key}"}, REMOTE_ADDR=address, **extra)


def test_eighty_wrong_tokens_are_cut_off_with_429_and_retry_after(valid_key, settings):
    settings.LABELSITE_API_TOKEN_FAILURES_PER_ADDRESS, settings.LABELSITE_API_TOKEN_FAILURE_WINDOW = 20, 300
    statuses = [_get(f"ls_{n:010x}_guess").status_code for n in range(80)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}
    response = _get(valid_key[:-3] + "xyz")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 300
    body = response.json()
    assert body["code"] == "throttled" and set(body) == {"code", "message", "errors"}


def test_a_blocked_address_is_refused_even_with_a_valid_token_but_others_are_not(valid_key, settings):
    settings.LABELSITE_API_TOKEN_FAILURES_PER_ADDRESS = 3
    for _ in range(5):  # successes are not counted
        assert _get(valid_key).status_code == 200
    for _ in range(3):
        assert _get("ls_0000000000_wrong").status_code == 401
    assert _get(valid_key).status_code == 429  # a right guess must look like a wrong one while blocked
    assert _get(valid_key, address="198.51.100.2").status_code == 200


def test_token_throttle_counts_the_client_address_behind_a_proxy(valid_key, settings):
    settings.LABELSITE_API_TOKEN_FAILURES_PER_ADDRESS = 2
    settings.LABELSITE_CLIENT_IP_HEADER = "HTTP_X_FORWARDED_FOR"
    for _ in range(2):
        _get("ls_0000000000_wrong", address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert _get(valid_key, address="10.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.7").status_code == 429
    assert _get(valid_key, address="10.0.0.1", HTTP_X_FORWARDED_FOR="198.51.100.2").status_code == 200


def test_malformed_authorization_headers_count_as_failed_guesses(settings):
    settings.LABELSITE_API_TOKEN_FAILURES_PER_ADDRESS = 3
    statuses = [_get(f"ls_{n} extra").status_code for n in range(5)]
    assert statuses[:3] == [401] * 3 and set(statuses[3:]) == {429}
