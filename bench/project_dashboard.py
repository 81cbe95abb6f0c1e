"""Benchmark: project initialization and the dashboard at large task counts.

    DATABASE_URL=postgres://… .venv/bin/python bench/project_dashboard.py --tasks 1000000

Creates a throw-away organization with one dataset of N ready items, times project_tasks_sync,
labels ~30 % of the tasks (counters rebuilt), then times the dashboard read and the project-list
progress (minimum and median of 7) and counts their queries. Before deleting what it created (unless
--keep) it checks that every dashboard counter equals a recount, and exits with status 1 otherwise.
The machine's load before and after is printed with the table row.
"""

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelsite.settings")
os.environ.setdefault("DEBUG", "true")  # the development setup, as before (the defaults are production's)

import django

django.setup()

from datetime import timedelta  # noqa: E402

from common import Load, counters_check  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from labeling.models import Task  # noqa: E402
from labeling.selectors import dashboard_stats_get, projects_progress  # noqa: E402
from labeling.services import project_tasks_sync  # noqa: E402
from labeling.stats import stats_rebuild  # noqa: E402
from projects.models import DataItem, Dataset, Datastore, LabelClass, LabelingProject, Organization, Workspace  # noqa: E402


def timed(fn, repeat=1):
    """fn's result, and the median and minimum of its times."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    n = args.tasks
    tag = uuid.uuid4().hex[:8]
    load = Load()
    org = Organization.objects.create(name=f"bench {tag}", slug=f"bench-{tag}")
    holder = get_user_model().objects.create(username=f"bench-{tag}")  # holds the 200 live leases
    try:
        ws = Workspace.objects.create(organization=org, name="bench", slug="bench")
        store = Datastore.objects.create(workspace=ws, name="bench", kind=Datastore.Kind.LOCAL, local_path="/nowhere")
        dataset = Dataset.objects.create(workspace=ws, name="bench", datastore=store)
        _, t_items, _ = timed(
            lambda: [
                DataItem.objects.bulk_create(
                    [
                        DataItem(dataset=dataset, key=f"i/{i:08d}.jpg", state=DataItem.State.READY)
                        for i in range(s, min(n, s + 10_000))
                    ]
                )
                for s in range(0, n, 10_000)
            ]
        )
        project = LabelingProject.objects.create(workspace=ws, name="bench", task_type="multiclass", dataset=dataset)
        for i in range(3):
            LabelClass.objects.create(project=project, name=f"c{i}", position=i, color=i)
        created, t_sync, _ = timed(lambda: project_tasks_sync(project=project))
        _, t_resync, _ = timed(lambda: project_tasks_sync(project=project))
        cut = (
            Task.objects.filter(project=project).order_by("order_key").values_list("order_key", flat=True)[int(n * 0.3)]
        )
        Task.objects.filter(project=project, order_key__lt=cut).update(
            state=Task.State.LABELED, labeled_at=timezone.now()
        )
        live = Task.objects.filter(project=project, state=Task.State.UNLABELED).values_list("pk", flat=True)[:200]
        Task.objects.filter(pk__in=list(live)).update(
            leased_to=holder, lease_expires=timezone.now() + timedelta(minutes=10)
        )
        stats_rebuild(project=project)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("ANALYZE labeling_task")
        with CaptureQueriesContext(connection) as ctx:
            dashboard_stats_get(project=project)
        _, t_dash, min_dash = timed(lambda: dashboard_stats_get(project=project), repeat=7)
        _, t_list, min_list = timed(lambda: projects_progress([project]), repeat=7)
        print(
            f"| database | tasks | creating the items | project_tasks_sync | sync again | dashboard queries "
            f"| dashboard min / median | list progress min / median |\n|---|---|---|---|---|---|---|---|\n"
            f"| {connection.vendor} | {n:,} | {t_items:.1f} s | {t_sync:.1f} s ({created:,} created) | "
            f"{t_resync:.1f} s | {len(ctx)} | {min_dash * 1000:.1f} / {t_dash * 1000:.1f} ms | "
            f"{min_list * 1000:.1f} / {t_list * 1000:.1f} ms |"
        )
        print(f"Machine load: {load.end()}.")
        counters_check([project])
    finally:
        if not args.keep:
            LabelingProject.objects.filter(workspace__organization=org).delete()
            Dataset.objects.filter(workspace__organization=org).delete()
            Datastore.objects.filter(workspace__organization=org).delete()
            org.delete()
            holder.delete()


if __name__ == "__main__":
    main()
