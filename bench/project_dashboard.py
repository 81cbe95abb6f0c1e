"""Benchmark: project initialization and the dashboard at large task counts.

    DATABASE_URL=postgres://… .venv/bin/python bench/project_dashboard.py --tasks 1000000

Creates a throw-away organization with one dataset of N ready items, times project_tasks_sync,
labels ~30 % of the tasks (counters rebuilt), then times the dashboard read and the project-list
progress and counts their queries. Everything it created is deleted at the end (unless --keep).
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelsite.settings")
os.environ.setdefault("DEBUG", "true")  # the development setup, as before (the defaults are production's)

import django  # noqa: E402

django.setup()

from datetime import timedelta  # noqa: E402

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from labeling.models import Task  # noqa: E402
from labeling.selectors import dashboard_stats_get, projects_progress  # noqa: E402
from labeling.services import project_tasks_sync  # noqa: E402
from labeling.stats import stats_rebuild  # noqa: E402
from projects.models import DataItem, Datastore, Dataset, LabelClass, LabelingProject, Organization, Workspace  # noqa: E402


def timed(fn, repeat=1):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    n = args.tasks
    tag = uuid.uuid4().hex[:8]
    org = Organization.objects.create(name=f"bench {tag}", slug=f"bench-{tag}")
    try:
        ws = Workspace.objects.create(organization=org, name="bench", slug="bench")
        store = Datastore.objects.create(workspace=ws, name="bench", kind=Datastore.Kind.LOCAL, local_path="/nowhere")
        dataset = Dataset.objects.create(workspace=ws, name="bench", datastore=store)
        _, t_items = timed(lambda: [DataItem.objects.bulk_create(
            [DataItem(dataset=dataset, key=f"i/{i:08d}.jpg", state=DataItem.State.READY) for i in range(s, min(n, s + 10_000))]
        ) for s in range(0, n, 10_000)])
        project = LabelingProject.objects.create(workspace=ws, name="bench", task_type="multiclass", dataset=dataset)
        for i in range(3):
            LabelClass.objects.create(project=project, name=f"c{i}", position=i, color=i)
        created, t_sync = timed(lambda: project_tasks_sync(project=project))
        _, t_resync = timed(lambda: project_tasks_sync(project=project))
        cut = Task.objects.filter(project=project).order_by("order_key").values_list("order_key", flat=True)[int(n * 0.3)]
        Task.objects.filter(project=project, order_key__lt=cut).update(state=Task.State.LABELED)
        live = Task.objects.filter(project=project, state=Task.State.UNLABELED).values_list("pk", flat=True)[:200]
        Task.objects.filter(pk__in=list(live)).update(lease_expires=timezone.now() + timedelta(minutes=10))
        stats_rebuild(project=project)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE labeling_task")
        with CaptureQueriesContext(connection) as ctx:
            dashboard_stats_get(project=project)
        _, t_dash = timed(lambda: dashboard_stats_get(project=project), repeat=7)
        _, t_list = timed(lambda: projects_progress([project]), repeat=7)
        print(f"| {connection.vendor} | {n:,} | {t_items:.1f} s | {t_sync:.1f} s ({created:,} created) | "
              f"{t_resync:.1f} s | {len(ctx)} | {t_dash * 1000:.1f} ms | {t_list * 1000:.1f} ms |")
    finally:
        if not args.keep:
            LabelingProject.objects.filter(workspace__organization=org).delete()
            Dataset.objects.filter(workspace__organization=org).delete()
            Datastore.objects.filter(workspace__organization=org).delete()
            org.delete()


if __name__ == "__main__":
    main()
