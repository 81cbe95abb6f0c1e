"""The web process (and the default worker) never load the ML stack: only the ML worker imports assist.worker."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
import django
django.setup()
from django.urls import get_resolver
get_resolver().url_patterns  # every URL module, the API's included
from labelsite.celery import app
app.loader.import_default_modules()  # what a worker imports at start: every app's tasks module
app.finalize()
from core.features import ml_available
ml_available()
print(sorted(name for name in ("torch", "sklearn", "efficientnet_lite_pytorch", "assist.pipeline", "assist.worker")
             if name in sys.modules))
print("assist.retrain_due" in app.tasks, "assist.pipeline_run" in app.tasks)
"""


def test_urls_tasks_and_the_availability_check_import_no_ml_package(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "LABELSITE_DATA_DIR": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    loaded, tasks = result.stdout.strip().splitlines()[-2:]
    assert loaded == "[]", f"the web process imported {loaded}"
    assert tasks == "True False", "the beat check is a default task; the pipeline task exists only in the ML worker"
