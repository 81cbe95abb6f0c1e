"""Benchmark of the labeling grid on PostgreSQL: claim a page of 9, render the grid fragment, submit it.

Usage (from the repository root):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ls_grid_bench .venv/bin/python bench/grid.py \
        --tasks 1000 10000 100000 1000000 --runs 200

Data is generated with bulk SQL (generate_series) into one project per size, of which 30 % is
already labeled, and 20 other labelers hold a page each (so the claim walks past leased rows as
in real life). Timings are in-process server time (Django test client through every middleware,
session and permission checks included); the script prints a Markdown table (minimum, median and
p95 of the runs, and the machine's load before, during and after them) and the PostgreSQL plan of
the claim query. Each run's submits are undone untimed, counters included, and at the end every
dashboard counter of the projects it used must equal a recount (exit status 1 otherwise).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "labelsite.settings")
os.environ.setdefault("LABELSITE_DATA_DIR", str(ROOT / "data" / "bench"))
# Production settings (DEBUG off: no query log, no template debug information), served over plain HTTP on
# loopback by the test client; the secret is throw-away and static files need no collectstatic.
for name, value in {
    "DEBUG": "false",
    "SECRET_KEY": "bench-" + os.urandom(24).hex(),
    "ALLOWED_HOSTS": "testserver",
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "LABELSITE_TESTING": "true",
}.items():
    os.environ.setdefault(name, value)

import warnings  # noqa: E402

import django  # noqa: E402

warnings.filterwarnings("ignore", message="Limit for query logging exceeded")

django.setup()

from common import Load, counters_check  # noqa: E402  (the other scripts take them from here too)
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.db.models import F  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from labeling import services, stats  # noqa: E402
from labeling.models import Annotation, Task  # noqa: E402
from projects.models import (  # noqa: E402
    Dataset,
    Datastore,
    LabelClass,
    LabelingProject,
    Membership,
    Organization,
    Workspace,
)
from projects.tenancy.roles import LABELER  # noqa: E402

PAGE = 9
OTHERS = 20


def ensure_project(
    size: int, name: str = "", ws_slug: str = "grid", labeled: float = 0.3, classes=("cat", "dog", "bird")
) -> LabelingProject:
    """The project `name` of `size` tasks, a `labeled` share of them labeled (generated once, then reused)."""
    org, _ = Organization.objects.get_or_create(slug="bench", defaults={"name": "Bench"})
    ws, _ = Workspace.objects.get_or_create(organization=org, slug=ws_slug, defaults={"name": ws_slug.title()})
    name = name or f"bench-{size}"
    project = LabelingProject.objects.filter(workspace=ws, name=name).first()
    if project and Task.objects.filter(project=project).count() == size:
        drift = stats.stats_verify(project=project)
        if drift:  # a database filled by an older bench, whose resets did not move the counters back
            print(
                f"  {name}: {len(drift)} counters differed from a recount before this run (first: {drift[0]}); rebuilt",
                flush=True,
            )
            stats.stats_rebuild(project=project)
        return project
    if project:
        raise SystemExit(f"{name} exists with the wrong number of tasks; drop the bench database and rerun")
    store, _ = Datastore.objects.get_or_create(
        workspace=ws, name="bench", defaults={"kind": "local", "local_path": "b"}
    )
    dataset = Dataset.objects.create(workspace=ws, name=name, datastore=store, path="")
    project = LabelingProject.objects.create(
        workspace=ws, name=name, task_type="multiclass", dataset=dataset, state="running"
    )
    LabelClass.objects.bulk_create(
        [LabelClass(project=project, name=n, position=i, color=i) for i, n in enumerate(classes)]
    )
    started = time.perf_counter()
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            """INSERT INTO projects_dataitem (uuid, dataset_id, key, state, reason, image_format, thumbnail, created_at)
               SELECT gen_random_uuid(), %s, 'img/' || g || '.jpg', 'ready', '', 'jpeg', '', now()
               FROM generate_series(1, %s) AS g""",
            [dataset.id, size],
        )
        cursor.execute(
            # A labeled task says when (the table checks it); the subquery draws each row's state once.
            """INSERT INTO labeling_task (project_id, item_id, state, labeled_at, order_key, version, draft, created_at)
               SELECT %s, id, state, CASE WHEN state = 'labeled' THEN now() END,
                      floor(random() * 2147483647)::int, 0, '[]'::jsonb, now()
               FROM (SELECT id, CASE WHEN random() < %s THEN 'labeled' ELSE 'unlabeled' END AS state
                     FROM projects_dataitem WHERE dataset_id = %s) AS drawn""",
            [project.id, labeled, dataset.id],
        )
        cursor.execute("ANALYZE labeling_task")
        cursor.execute("ANALYZE projects_dataitem")
        stats.stats_rebuild(project=project)  # the dashboard's counters, as the product keeps them
    print(f"  generated {size:,} tasks in {time.perf_counter() - started:.1f} s", flush=True)
    return project


def labeler(ws, name):
    user, created = get_user_model().objects.get_or_create(username=name)
    if created:
        Membership.objects.create(workspace=ws, user=user, group=Group.objects.get(name=LABELER))
    return user


class StatementCounter:
    """Counts the SQL statements a call sends (BEGIN and COMMIT are not statements here), at the cost of
    one function call each: unlike DEBUG's query log, it does not format and store every query."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def measure(fn):
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        started, cpu = time.perf_counter(), time.process_time()
        result = fn()
        elapsed = (time.perf_counter() - started) * 1000
        CPU.append((time.process_time() - cpu) * 1000)
    return elapsed, counter.count, result


CPU: list[float] = []  # Python CPU time of each measured call (the rest is waiting: database, scheduler)


def statements(counts: set[int]) -> str:
    """The statements a request sent, over the runs: one number, or the range when runs differed (a submit
    that meets a task back from review retires its old tags with one more)."""
    return f"{min(counts)}" if min(counts) == max(counts) else f"{min(counts)}–{max(counts)}"


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def undo_submit(project, user, ids) -> None:
    """Untimed: put the submitted tasks back as they were before the submit, so every run does the same work
    (a first labeling, the common case), and give back the next page the htmx submit claimed.

    The submit's annotations (and their tags) are deleted and every counter it moved is moved back with the
    Tally the services use, by what is really deleted: the data is then exactly what it was, and the counters
    equal a recount (which `counters_check` proves at the end of every script).
    """
    done = Task.State.LABELED
    with transaction.atomic():
        tasks = list(
            Task.objects.select_for_update()
            .filter(project=project, id__in=ids, state=done, labeled_by=user)
            .order_by("id")
            .values_list("id", "labeled_at")
        )
        submitted = Annotation.objects.filter(task_id__in=[t for t, _ in tasks], is_current=True, created_by=user)
        classes = Counter(
            Annotation.labels.through.objects.filter(annotation__in=submitted).values_list("labelclass_id", flat=True)
        )
        submitted.delete()
        Task.objects.filter(id__in=[t for t, _ in tasks]).update(
            state=Task.State.UNLABELED, labeled_by=None, labeled_at=None, version=F("version") - 1
        )
        tally = (
            stats.Tally(project.id)
            .tasks_moved(Counter({(done, Task.State.UNLABELED): len(tasks)}))
            .labels_changed(Counter({c: -n for c, n in classes.items()}))
            .labeler_counted(user.id, labeled=-len(tasks))
        )
        for at in (at for _, at in tasks):  # the submit counted its hour from the time it gave the tasks
            tally.activity_counted(-1, at)
        tally.save()
    services.tasks_release(project=project, user=user)


def claim_plan(project, user) -> str:
    """PostgreSQL's plans for the two queries of a claim: the labeler's held tasks, and the free ones."""
    plans = []
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        services.tasks_claim(project=project, user=user, size=PAGE)
        held = next(q["sql"] for q in queries if q["sql"].startswith("SELECT"))  # the claim's first query
        free = next(q["sql"] for q in queries if "SKIP LOCKED" in q["sql"])
        with connection.cursor() as cursor:
            for title, sql in (("held by the labeler", held), ("free tasks (FOR UPDATE SKIP LOCKED)", free)):
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql)
                plans.append(f"-- {title}\n" + "\n".join(row[0] for row in cursor.fetchall()))
        transaction.set_rollback(True)
    return "\n".join(plans)


class Scenario:
    """One project size: a labeler who claims 9, renders the grid fragment and submits, over and over."""

    def __init__(self, size: int):
        self.size = size
        self.project = project = ensure_project(size)
        ws = project.workspace
        self.user = labeler(ws, "bench-labeler")
        for n in range(OTHERS):
            services.tasks_claim(project=project, user=labeler(ws, f"bench-other-{n}"), size=PAGE)
        services.tasks_release(project=project, user=self.user)
        self.client = Client()
        self.client.force_login(self.user)
        kwargs = {"org": ws.organization.slug, "ws": ws.slug, "project": project.uuid}
        self.grid_url, self.submit_url = (
            reverse("labeling:grid", kwargs=kwargs),
            reverse("labeling:submit", kwargs=kwargs),
        )
        self.cat = str(
            LabelClass.objects.filter(project=project).values_list("uuid", flat=True).first()
        )  # as the page posts it
        self.results: dict[str, list[float]] = {"claim": [], "render": [], "submit": [], "save": []}
        self.cpu: dict[str, list[float]] = {"claim": [], "render": [], "submit": [], "save": []}
        self.queries: dict[str, set[int]] = {}

    def step(self, record: bool) -> None:
        project, user, htmx = self.project, self.user, {"HX-Request": "true"}
        ms_claim, q_claim, page = measure(lambda: services.tasks_claim(project=project, user=user, size=PAGE))
        assert len(page) == PAGE
        ms_render, q_render, response = measure(lambda: self.client.get(self.grid_url, headers=htmx))
        assert response.status_code == 200
        data = {"items": [str(t.item.uuid) for t in page], **{f"labels-{t.item.uuid}": [self.cat] for t in page}}
        body = urlencode(data, doseq=True)  # what htmx sends for the submit form
        ms_submit, q_submit, response = measure(
            lambda: self.client.post(
                self.submit_url, body, content_type="application/x-www-form-urlencoded", headers=htmx
            )
        )
        assert response.status_code == 200, response.content[:300]
        undo_submit(project, user, [t.id for t in page])
        # The same save without htmx (a browser without JavaScript): the answer is a redirect to the grid,
        # so this is the submit alone, without claiming and rendering the next page.
        page = services.tasks_claim(project=project, user=user, size=PAGE)
        body = urlencode(
            {"items": [str(t.item.uuid) for t in page], **{f"labels-{t.item.uuid}": [self.cat] for t in page}},
            doseq=True,
        )
        ms_save, q_save, response = measure(
            lambda: self.client.post(self.submit_url, body, content_type="application/x-www-form-urlencoded")
        )
        assert response.status_code == 302, response.content[:300]
        undo_submit(project, user, [t.id for t in page])
        if record:
            timed = zip(
                ("claim", "render", "submit", "save"), (ms_claim, ms_render, ms_submit, ms_save), CPU[-4:], strict=True
            )
            for key, ms, used in timed:
                self.results[key].append(ms)
                self.cpu[key].append(used)
            for key, used in (("claim", q_claim), ("render", q_render), ("submit", q_submit), ("save", q_save)):
                self.queries.setdefault(key, set()).add(used)

    def summary(self) -> dict:
        summary = {
            key: (min(v), statistics.median(v), percentile(v, 0.95), statistics.median(self.cpu[key]))
            for key, v in self.results.items()
        }
        return {
            "size": self.size,
            "summary": summary,
            "queries": self.queries,
            "plan": claim_plan(self.project, self.user),
        }


def take_turns(make, sizes, runs: int, load: Load | None = None) -> list:
    """Build one scenario per size, then let them take turns run by run, so a busy moment on the
    machine hits every size alike. The first 5 rounds warm caches and connections; `load` is sampled
    once per timed round."""
    scenarios = []
    for size in sizes:
        print(f"{size:,} tasks ...", flush=True)
        made = make(size)  # one scenario, or several projects of this size
        scenarios += made if isinstance(made, list) else [made]
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE labeling_task")
    if load is not None:
        load.before = os.getloadavg()[0]
    for run in range(runs + 5):
        for scenario in scenarios:
            scenario.step(record=run >= 5)
        if load is not None and run >= 5:
            load.sample()
    return scenarios


def bench(sizes, runs: int, load: Load) -> tuple[list[dict], list]:
    scenarios = take_turns(Scenario, sizes, runs, load)
    load.end()
    return [scenario.summary() for scenario in scenarios], [scenario.project for scenario in scenarios]


def machine() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"Django {django.get_version()}, PostgreSQL {pg} on the same machine"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL=postgres://.../ls_grid_bench: this benchmark is about PostgreSQL.")
    call_command("migrate", verbosity=0)
    load = Load()
    rows, projects = bench(args.tasks, args.runs, load)
    print(
        f"\nMachine: {machine()}\nRuns per size: {args.runs} (after 5 warm-up runs), sizes taking turns; page of {PAGE}; "
        f"{OTHERS} other labelers hold a page each; 30 % of tasks already labeled.\n"
    )
    print(f"Machine load: {load} (other work on the machine shows here).\n")
    print("Cells: wall-clock min / median / p95 ms [median Python CPU ms] (queries per call)\n")
    print("| tasks | claim 9 | grid fragment (htmx GET) | submit 9 + next page (htmx) | submit 9 alone (no-JS POST) |")
    print("|---:|---|---|---|---|")
    for row in rows:
        cells = [
            "{:.1f} / {:.1f} / {:.1f} [{:.1f}]".format(*row["summary"][k]) + f" ({statements(row['queries'][k])})"
            for k in ("claim", "render", "submit", "save")
        ]
        print(f"| {row['size']:,} | " + " | ".join(cells) + " |")
    print(f"\nClaim query plan at {rows[-1]['size']:,} tasks:\n\n```\n{rows[-1]['plan']}\n```")
    counters_check(projects)


if __name__ == "__main__":
    main()
