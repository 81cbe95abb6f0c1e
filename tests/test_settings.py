"""Production settings refuse unsafe starts and pass Django's deployment checklist; pages carry a strict CSP."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args, **env):
    # Browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; a deployment never has it.
    dropped = {"SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="labels.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _manage("check", DEBUG="false", SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="false", SECRET_KEY="k3y-" + "q" * 60 + "-Zz9!", ALLOWED_HOSTS="labels.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_pages_carry_a_strict_content_security_policy(client, db):
    response = client.get(reverse("login"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    body = response.content.decode()
    assert "<script>" not in body and " style=" not in body
    assert 'src="/static/' in body  # htmx and our script come from our own origin


@pytest.mark.parametrize(("seconds", "timeout"), [(45, 45000), (0, 0)])
def test_pages_give_htmx_the_request_timeout_and_a_place_to_report_failures(client, db, settings, seconds, timeout):
    settings.LABELSITE_REQUEST_TIMEOUT = seconds
    body = client.get(reverse("login")).content.decode()
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'", body).group(1))
    assert config["timeout"] == timeout  # 0: htmx waits for ever
    assert config["responseHandling"][2] == {"code": "422", "swap": True}
    assert 'id="request-alert"' in body and "/static/labelsite/requests.js" in body


@pytest.mark.django_db
def test_demo_command_is_idempotent_and_prints_passwords_once():
    from io import StringIO

    from django.core.management import call_command

    from projects.models import Membership

    first, second = StringIO(), StringIO()
    call_command("demo", stdout=first)
    call_command("demo", stdout=second)
    assert "passwords are shown only this once" in first.getvalue()
    assert "labeler" in first.getvalue()
    assert "passwords" not in second.getvalue()
    roles = dict(Membership.objects.filter(workspace__slug="ml-team").values_list("user__username", "group__name"))
    assert roles["labeler"] == "Labeler" and roles["reviewer"] == "Reviewer" and roles["manager"] == "Manager"
