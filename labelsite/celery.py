"""The Celery app; tasks live in each app's tasks.py (projects' in projects/datastores/tasks.py), periodic work in
the beat schedule below."""

import os
from pathlib import Path

from celery import Celery

from core.env import env_file_load, env_int

# `celery -A labelsite` starts here, not in manage.py: read the .env file before anything reads settings.
env_file_load(Path(__file__).resolve().parent.parent / ".env")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelsite.settings")

app = Celery("labelsite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["projects.datastores"])  # projects keeps its dataset tasks with its datastore code

# Periodic work is added here by the apps that own it (refresh, lease expiry, export reaper).
app.conf.beat_schedule = {
    # Incremental refresh of datasets whose projects ask for it (LABELSITE_REFRESH_INTERVAL seconds).
    "datasets-refresh": {
        "task": "projects.tasks.datasets_refresh_due_task",
        "schedule": float(env_int("LABELSITE_REFRESH_INTERVAL", 300)),
    },
    "exports-reap": {"task": "exports.tasks.exports_reap_task", "schedule": 60.0},
}
