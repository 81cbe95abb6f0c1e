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
    # The suite's own settings module and switches are dropped too: this is a bare deployment.
    dropped = {
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DEBUG",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "DJANGO_SETTINGS_MODULE",
        "LABELSITE_OPEN_SIGNUP",
        "LABELSITE_SIGNUP_ADMIN_ACCESS",
    }
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_secret_key():
    result = _manage("check", DEBUG="false", ALLOWED_HOSTS="labels.example.com")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    result = _manage("check", DEBUG="false", SECRET_KEY="x" * 60)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


def test_debug_is_off_unless_set():
    # Nothing but the required production values: the deployment that forgot DEBUG=false.
    result = _manage("check")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
    result = _manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from django.conf import settings as s; print(s.DEBUG, s.LABELSITE_OPEN_SIGNUP, s.SECURE_SSL_REDIRECT)",
        SECRET_KEY="k3y-" + "q" * 60,
        ALLOWED_HOSTS="labels.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "True"]


def test_open_signup_does_not_follow_debug():
    script = "from django.conf import settings as s; print(s.DEBUG, s.LABELSITE_OPEN_SIGNUP, s.LABELSITE_SIGNUP_ADMIN_ACCESS)"
    assert _manage("shell", "-v", "0", "-c", script, DEBUG="true").stdout.split() == ["True", "False", "False"]
    opened = _manage("shell", "-v", "0", "-c", script, DEBUG="true", LABELSITE_OPEN_SIGNUP="true")
    assert opened.stdout.split() == ["True", "True", "False"]


def test_make_run_asks_for_the_development_setup_itself():
    # `make -n` prints the commands without running them.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "LABELSITE_OPEN_SIGNUP", "LABELSITE_SIGNUP_ADMIN_ACCESS"}
    }
    result = subprocess.run(["make", "-n", "run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    commands = [line for line in result.stdout.splitlines() if "manage.py" in line]
    assert [c for c in commands if c.endswith("manage.py run")], commands
    for command in commands:
        assert "DEBUG=true" in command and "LABELSITE_OPEN_SIGNUP=true" in command, command


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY="k3y-" + "q" * 60 + "-Zz9!",
        ALLOWED_HOSTS="labels.example.com",
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


@pytest.mark.parametrize("seconds, timeout", [(45, 45000), (0, 0)])
def test_pages_give_htmx_the_request_timeout_and_a_place_to_report_failures(client, db, settings, seconds, timeout):
    settings.LABELSITE_REQUEST_TIMEOUT = seconds
    body = client.get(reverse("login")).content.decode()
    config = json.loads(re.search(r"<meta name=\"htmx-config\" content='([^']*)'", body).group(1))
    assert config["timeout"] == timeout  # 0: htmx waits for ever
    assert config["responseHandling"][2] == {"code": "422", "swap": True}
    assert config["responseHandling"][3] == {"code": "409", "swap": True}  # a conflict's reason, as pages draw it
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


def test_labelsites_own_settings_are_named_labelsite():
    """Django's, Celery's and DRF's names stay; every setting Labelsite itself defines starts with LABELSITE_."""
    from django.conf import global_settings

    from labelsite import settings as ours

    own = {name for name in vars(ours) if name.isupper() and not name.startswith("_")}
    foreign = {name for name in own if hasattr(global_settings, name) or name.startswith("CELERY_")}
    # Names Django (ROOT_URLCONF has no default), its project template and the API libraries read.
    foreign |= {"ROOT_URLCONF", "BASE_DIR", "REST_FRAMEWORK", "SPECTACULAR_SETTINGS"}
    assert sorted(own - foreign) == sorted(name for name in own - foreign if name.startswith("LABELSITE_"))


@pytest.mark.parametrize(
    "old, new, script, value, expected",
    [
        ("LOG_LEVEL", "LABELSITE_LOG_LEVEL", "print(s.LOGGING['root']['level'])", "WARNING", "WARNING"),
        (
            "USE_X_FORWARDED_PROTO",
            "LABELSITE_USE_X_FORWARDED_PROTO",
            "print(s.SECURE_PROXY_SSL_HEADER[0])",
            "true",
            "HTTP_X_FORWARDED_PROTO",
        ),
        (
            "DATABASE_CONN_MAX_AGE",
            "LABELSITE_DATABASE_CONN_MAX_AGE",
            "print(s.DATABASES['default'].get('CONN_MAX_AGE'))",
            "7",
            "7",
        ),
    ],
)
def test_an_old_environment_name_still_works_for_a_release_and_says_so(old, new, script, value, expected):
    env = {"DEBUG": "true", "DATABASE_URL": "postgres://u@127.0.0.1:1/db"} if "CONN" in old else {"DEBUG": "true"}
    code = "from django.conf import settings as s; " + script
    result = _manage("shell", "-v", "0", "-c", code, **env, **{old: value})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-1] == expected
    assert f"{old} is deprecated" in result.stderr and f"set {new} instead" in result.stderr
    renamed = _manage("shell", "-v", "0", "-c", code, **env, **{new: value})
    assert renamed.stdout.split()[-1] == expected and "deprecated" not in renamed.stderr


@pytest.mark.django_db
def test_demo_leaves_the_tutorials_project_name_free():
    """The tutorial (step 1) names its project multi-class-cats-n-dogs: the demo's project must not take it."""
    from io import StringIO

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from projects.definition.services import project_create
    from projects.models import Dataset, LabelingProject, Workspace

    call_command("demo", stdout=StringIO())
    workspace = Workspace.objects.get(slug="ml-team")
    assert list(LabelingProject.objects.filter(workspace=workspace).values_list("name", flat=True)) == [
        "demo-cats-n-dogs"
    ]
    manager = get_user_model().objects.get(username="manager")
    project_create(
        workspace=workspace,
        actor=manager,
        name="multi-class-cats-n-dogs",
        task_type="multiclass",
        dataset=Dataset.objects.get(workspace=workspace),
        incremental_refresh=True,
        label_names=["Cat", "Dog", "Uncertain"],
    )
    call_command("demo", stdout=StringIO())
    assert LabelingProject.objects.filter(workspace=workspace).count() == 2


@pytest.mark.django_db
def test_demo_keeps_an_older_install_whose_demo_project_has_the_tutorials_name():
    from io import StringIO

    from django.core.management import call_command

    from projects.models import LabelingProject

    call_command("demo", stdout=StringIO())
    LabelingProject.objects.filter(name="demo-cats-n-dogs").update(name="multi-class-cats-n-dogs")  # as made before
    call_command("demo", stdout=StringIO())
    assert list(LabelingProject.objects.values_list("name", flat=True)) == ["multi-class-cats-n-dogs"]


def test_env_file_fills_the_environment_and_the_real_environment_wins(tmp_path, monkeypatch):
    from core.env import env_file_load

    env = tmp_path / ".env"
    env.write_text(
        "# a comment\n\n"
        "LABELSITE_T_PLAIN=127.0.0.1:10000,localhost:9000   # allowed emulators\n"
        "export LABELSITE_T_EXPORTED=yes\n"
        "LABELSITE_T_QUOTED='a # not a comment'\n"
        'LABELSITE_T_DOUBLE="x=1 ${HOME}"\n'
        "LABELSITE_T_EMPTY=\n"
        "LABELSITE_T_SET=from-file\n"
    )
    monkeypatch.setenv("LABELSITE_T_SET", "from-environment")
    monkeypatch.setenv("LABELSITE_ENV_FILE", str(env))
    for name in ("PLAIN", "EXPORTED", "QUOTED", "DOUBLE", "EMPTY"):
        monkeypatch.delenv(f"LABELSITE_T_{name}", raising=False)
    added = env_file_load(tmp_path / "unused")
    assert sorted(added) == sorted(f"LABELSITE_T_{n}" for n in ("PLAIN", "EXPORTED", "QUOTED", "DOUBLE", "EMPTY"))
    assert os.environ["LABELSITE_T_PLAIN"] == "127.0.0.1:10000,localhost:9000"
    assert os.environ["LABELSITE_T_EXPORTED"] == "yes"
    assert os.environ["LABELSITE_T_QUOTED"] == "a # not a comment"
    assert os.environ["LABELSITE_T_DOUBLE"] == "x=1 ${HOME}"  # no expansion
    assert os.environ["LABELSITE_T_EMPTY"] == ""
    assert os.environ["LABELSITE_T_SET"] == "from-environment"


def test_env_file_refuses_a_line_it_cannot_read_and_skips_a_missing_file(tmp_path, monkeypatch):
    from core.env import EnvFileError, env_file_load

    monkeypatch.delenv("LABELSITE_ENV_FILE", raising=False)
    assert env_file_load(tmp_path / "missing") == []
    bad = tmp_path / ".env"
    for text in ("LABELSITE_T_OK=1\nthis is not a setting\n", "LABELSITE_T_Q='open\n"):
        bad.write_text(text)
        with pytest.raises(EnvFileError, match="line"):
            env_file_load(bad)
    monkeypatch.setenv("LABELSITE_ENV_FILE", "")  # "" reads none, even when the default exists
    assert env_file_load(bad) == []


def test_manage_py_reads_the_env_file_before_settings(tmp_path):
    env = tmp_path / "labelsite.env"
    env.write_text("LABELSITE_DATASTORE_ALLOWED_HOSTS=127.0.0.1:10000\nLABELSITE_THUMBNAIL_SIZE=99\n")
    script = (
        "from django.conf import settings as s; print(s.LABELSITE_DATASTORE_ALLOWED_HOSTS, s.LABELSITE_THUMBNAIL_SIZE)"
    )
    result = _manage(
        "shell", "-v", "0", "-c", script, DEBUG="true", LABELSITE_ENV_FILE=str(env), LABELSITE_THUMBNAIL_SIZE="128"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["['127.0.0.1:10000']", "128"]  # the real environment wins over the file
