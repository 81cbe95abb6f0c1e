#!/usr/bin/env python
"""Export benchmark: N labeled tasks on PostgreSQL, each format exported in-process the way a worker runs it.

    .venv/bin/python bench/export.py --n 100000 --formats coco,csv,jsonl

Seeds (once per N) a project in the database `ls_exports_bench` (override with DATABASE_URL) with
bulk SQL and rebuilds its dashboard counters, then runs each export in a fresh child process and prints
wall time, rows per second, the child's peak resident memory (resource.getrusage, which includes Django
itself) and the machine's load before and after. At the end every counter of the project must equal a
recount (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ls_exports_bench")
os.environ.setdefault("LABELSITE_DATA_DIR", str(ROOT / "data" / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelsite.settings")
os.environ.setdefault("DEBUG", "true")  # the development setup, as before (the defaults are production's)


def _django():
    import django

    django.setup()


def _ensure_database() -> None:
    from urllib.parse import urlsplit

    import psycopg

    parts = urlsplit(os.environ["DATABASE_URL"])
    name = parts.path.lstrip("/")
    admin = f"{parts.scheme}://{parts.netloc}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(n: int, task_type: str) -> int:
    """The benchmark project with n labeled tasks (created once, reused afterwards); returns its id."""
    _ensure_database()
    _django()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from labeling.models import Task
    from labeling.stats import stats_rebuild, stats_verify
    from projects.models import Dataset, Datastore, LabelClass, LabelingProject, Organization, Workspace
    from tests.exports.bulk import bulk_label

    call_command("migrate", verbosity=0)
    org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    ws, _ = Workspace.objects.get_or_create(organization=org, slug="bench", defaults={"name": "Bench"})
    user, _ = get_user_model().objects.get_or_create(username="bench-labeler")
    store, _ = Datastore.objects.get_or_create(
        workspace=ws,
        name="bench",
        defaults={
            "kind": Datastore.Kind.AZURE_BLOB,
            "endpoint": "https://benchacct.blob.core.windows.net",
            "container": "images",
            "access_key_id": "benchacct",
        },
    )
    name = f"bench-{task_type}-{n}"
    dataset, _ = Dataset.objects.get_or_create(workspace=ws, name=name, defaults={"datastore": store})
    project, created = LabelingProject.objects.get_or_create(
        workspace=ws, name=name, defaults={"task_type": task_type, "dataset": dataset, "state": "running"}
    )
    if created or Task.objects.filter(project=project).count() != n:
        Task.objects.filter(project=project).delete()
        dataset.items.all().delete()
        for position, label in enumerate(["cat", "dog", "bird", "fish", "horse"]):
            LabelClass.objects.get_or_create(project=project, name=label, defaults={"position": position})
        started = time.perf_counter()
        bulk_label(project=project, labeler=user, n=n)  # recounts the counters its bulk SQL did not move
        print(f"seeded {n:,} labeled tasks in {time.perf_counter() - started:.1f} s", flush=True)
    elif stats_verify(project=project):
        stats_rebuild(project=project)  # seeded by an older version of this script, which kept no counters
    return project.pk


def run_one(project_id: int, fmt: str) -> dict:
    """Child process: one export, exactly as the Celery task runs it."""
    _django()
    from django.core.files.storage import default_storage

    from exports.models import Export
    from exports.runner import export_run

    export = Export.objects.create(project_id=project_id, format=fmt)
    before = resource.getrusage(resource.RUSAGE_SELF)
    baseline = before.ru_maxrss
    started = time.perf_counter()
    ok = export_run(export_id=export.pk)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    export.refresh_from_db()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = {
        "format": fmt,
        "ok": ok and export.state == "done",
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 1),
        "images": export.item_count,
        "size_mb": round((export.size or 0) / 1e6, 1),
        "peak_rss_mb": round(peak / 1024, 1),
        "rss_before_mb": round(baseline / 1024, 1),
        "error": export.error,
    }
    if export.file:
        default_storage.delete(export.file)
    export.delete()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--formats", default="coco,csv,jsonl")
    parser.add_argument("--task-type", default="multilabel", choices=["multiclass", "multilabel"])
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--project", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run_one(args.project, args.run)))
        return
    project_id = seed(args.n, args.task_type)
    sys.path.insert(0, str(ROOT / "bench"))
    from common import Load, counters_check

    from projects.models import LabelingProject

    load = Load()
    print("| format | tasks | seconds | worker CPU s | images/s | file MB | peak RSS MB (Django alone) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for fmt in args.formats.split(","):
        child = subprocess.run(
            [sys.executable, __file__, "--run", fmt, "--project", str(project_id)], capture_output=True, text=True
        )
        if child.returncode:
            print(f"| {fmt} | {args.n:,} | child failed: {child.stderr.strip().splitlines()[-1:]} |", flush=True)
            continue
        r = json.loads(child.stdout.strip().splitlines()[-1])
        rate = r["images"] / r["seconds"] if r["seconds"] else 0
        flag = "" if r["ok"] else f" FAILED: {r['error']}"
        print(
            f"| {fmt} | {args.n:,} | {r['seconds']} | {r['cpu_seconds']} | {rate:,.0f} | {r['size_mb']} | {r['peak_rss_mb']} ({r['rss_before_mb']}) |{flag}",
            flush=True,
        )
    print(f"\nMachine load: {load.end()}.")
    counters_check([LabelingProject.objects.get(pk=project_id)])


if __name__ == "__main__":
    main()
