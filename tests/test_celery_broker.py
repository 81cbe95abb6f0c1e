"""The embedded broker starts quietly: kombu's "No hostname was supplied" warning came once per process of `make run`."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What every process of `make run` (web, worker, beat) does with the broker: build its connection info.
PROBE = (
    "import logging; logging.basicConfig(level=logging.WARNING);"
    "from labelsite.celery import app; conn = app.connection_for_write(); conn.info();"
    "print('BROKER', conn.as_uri())"
)


def test_the_default_filesystem_broker_names_its_host_so_kombu_does_not_warn(tmp_path):
    # Celery reads CELERY_BROKER_URL from the environment before the settings: the default is what is tested here.
    env = {k: v for k, v in os.environ.items() if k not in ("CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DEBUG="true", LABELSITE_DATA_DIR=str(tmp_path))
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "BROKER filesystem://" in result.stdout
    assert "No hostname" not in result.stdout + result.stderr
