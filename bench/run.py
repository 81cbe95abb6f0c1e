"""`make bench`: the labeling benchmarks at several project sizes, one table per kind of project, written into
BENCHMARKS.md.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ls_bench .venv/bin/python bench/run.py \
        --tasks 1000 10000 100000 [--runs 100] [--no-write] [--filters]

Reuses `bench/grid.py` (one project per size generated with bulk SQL, 20 other labelers holding a
page, claim → grid fragment → submit). On top of that data this adds what a manager and a reviewer
look at: the labeled tasks get a labeler, a labeling time spread over 30 days, a current annotation
with one class, and half of them are approved (counters rebuilt). Per size it also makes two projects
where nothing is left to label: one with every task labeled, one with every task approved. Then, per
size and run, it times through the Django test client (every middleware, session and permission check
included): the labeled-data review page (first page, and a deep page: the one after the cursor of the
labeled task halfway down, found untimed), the workspace's project list, and the project dashboard.
Projects take turns run by run so a busy moment hits every size alike. It prints the minimum, median
and p95 of the runs and the machine's load before, during and after them, and at the end PostgreSQL's
plan of the deep page's task query at the largest size. Finally every dashboard counter of every project
it used must equal a recount; it exits with status 1, naming the counters, otherwise.
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grid  # sets Django up, so it comes first

# isort: split
import filters
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from labeling.models import Annotation, Task
from labeling.stats import stats_rebuild
from projects.models import LabelClass, LabelingProject, Membership
from projects.tenancy.roles import MANAGER
from review.selectors import Cursor, LabeledFilters, labeled_page

OPERATIONS = [
    ("claim", "claim 9 (service)", 30),
    ("render", "grid fragment", 30),
    ("save", "submit 9 alone (no-JS POST → redirect)", 30),
    ("submit", "submit 9 + next page (htmx)", 30),
    ("labeled", "labeled data, page 1", 50),
    ("labeled_deep", "labeled data, deep page", 50),
    ("projects", "project list", 50),
    ("dashboard", "dashboard", 50),
]
START, END = "<!-- make bench: start -->", "<!-- make bench: end -->"


def enrich(project, labeler, approved: float = 0.5) -> None:
    """Give the generated labeled tasks what real ones have: labeler, time, annotation, and an `approved` share
    approved."""
    if Annotation.objects.filter(task__project=project).exists():
        return
    cat = LabelClass.objects.filter(project=project).order_by("position").values_list("id", flat=True)[0]
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            """UPDATE labeling_task SET labeled_by_id = %s, labeled_at = now() - random() * interval '30 days',
                      state = CASE WHEN random() < %s THEN 'approved' ELSE 'labeled' END
               WHERE project_id = %s AND state = 'labeled'""",
            [labeler.id, approved, project.id],
        )
        cursor.execute(
            """INSERT INTO labeling_annotation (task_id, source, is_current, created_by_id, created_at)
               SELECT id, 'labeler', true, labeled_by_id, labeled_at FROM labeling_task
               WHERE project_id = %s AND state IN ('labeled', 'approved')""",
            [project.id],
        )
        cursor.execute(
            """INSERT INTO labeling_annotation_labels (annotation_id, labelclass_id)
               SELECT a.id, %s FROM labeling_annotation a JOIN labeling_task t ON t.id = a.task_id
               WHERE t.project_id = %s""",
            [cat, project.id],
        )
        stats_rebuild(project=project)
    with connection.cursor() as cursor:
        for table in ("labeling_task", "labeling_annotation", "labeling_annotation_labels"):
            cursor.execute(f"ANALYZE {table}")


class Pages:
    """The manager's and reviewer's pages of one project, timed each run through the test client."""

    project: LabelingProject
    few: LabelingProject | None
    results: dict[str, list[float]]
    cpu: dict[str, list[float]]
    queries: dict[str, set[int]]

    def pages_set_up(self, with_filters: bool, approved: float = 0.5) -> None:
        ws = self.project.workspace
        enrich(self.project, grid.labeler(ws, "bench-labeler-history"), approved)
        manager = grid.labeler(ws, "bench-manager")
        Membership.objects.update_or_create(
            workspace=ws, user=manager, defaults={"group": Group.objects.get(name=MANAGER)}
        )
        self.manager = Client()
        self.manager.force_login(manager)
        kwargs = {"org": ws.organization.slug, "ws": ws.slug, "project": self.project.uuid}
        self.deep = halfway(self.project)
        review = reverse("review:labeled", kwargs=kwargs)
        self.pages = {
            "labeled": review,
            "labeled_deep": f"{review}?after={self.deep.token}",
            "projects": reverse("workspace", kwargs={"org": ws.organization.slug, "ws": ws.slug}),
            "dashboard": reverse("labeling:dashboard", kwargs=kwargs),
        }
        if with_filters:
            self.pages.update(filters.pages(self, manager, enrich))
        for key in self.pages:
            self.results[key], self.cpu[key] = [], []

    def pages_step(self, record: bool) -> None:
        for key, url in self.pages.items():
            ms, used, response = grid.measure(functools.partial(self.manager.get, url))
            assert response.status_code == 200, (url, response.status_code)
            if record:
                self.results[key].append(ms)
                self.cpu[key].append(grid.CPU[-1])
                self.queries.setdefault(key, set()).add(used)

    def projects_used(self) -> list:
        return [self.project] + ([self.few] if getattr(self, "few", None) else [])


class Suite(grid.Scenario, Pages):
    """grid.Scenario plus the manager's and reviewer's pages on the same project (30 % labeled)."""

    kind = "partial"

    def __init__(self, size: int, with_filters: bool = False):
        super().__init__(size)
        self.pages_set_up(with_filters)

    def step(self, record: bool) -> None:
        super().step(record)
        self.pages_step(record)


class Finished(Pages):
    """A project with nothing left to label: every task labeled, or every task approved. Only the pages."""

    def __init__(self, size: int, kind: str, with_filters: bool = False):
        self.size, self.kind = size, kind
        self.project = grid.ensure_project(
            size, name=f"bench-{size}-{kind}", ws_slug="finished", labeled=1.0, classes=filters.FINISHED_CLASSES
        )
        self.results, self.cpu, self.queries = {}, {}, {}
        self.pages_set_up(with_filters, approved=1.0 if kind == "approved" else 0.0)

    def step(self, record: bool) -> None:
        self.pages_step(record)


KINDS = {
    "partial": "30 % of the tasks labeled (half of those approved), 20 labelers holding a page",
    "labeled": "every task labeled, none reviewed yet",
    "approved": "every task approved",
}


def halfway(project) -> Cursor:
    """Untimed: the cursor of the labeled task halfway down the Labeled data page's newest-first order."""
    labeled = Task.objects.filter(project=project, state__in=("labeled", "approved"), labeled_at__isnull=False)
    return Cursor.of(labeled.order_by("-labeled_at", "-pk").only("pk", "labeled_at")[labeled.count() // 2])


def deep_plan(suite) -> str:
    """PostgreSQL's plan of the deep page's task query (the one that walks the time index from the cursor)."""
    connection.queries_log.clear()
    with CaptureQueriesContext(connection) as queries:
        page = labeled_page(project=suite.project, filters=LabeledFilters(), classes=[], size=12, after=suite.deep)
    assert len(page.tasks) == 12
    sql = next(q["sql"] for q in queries if 'FROM "labeling_task"' in q["sql"] and "LIMIT" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


def scenarios(size: int, with_filters: bool) -> list:
    return [
        Suite(size, with_filters),
        Finished(size, "labeled", with_filters),
        Finished(size, "approved", with_filters),
    ]


def run(sizes, runs: int, with_filters: bool, load: grid.Load) -> tuple[list[dict], list]:
    made = grid.take_turns(lambda size: scenarios(size, with_filters), sizes, runs, load)
    load.end()
    rows = [
        {
            "size": s.size,
            "kind": s.kind,
            "results": s.results,
            "queries": s.queries,
            "plan": deep_plan(s),
            "filter_plans": filters.plans(s, s.manager) if with_filters else "",
        }
        for s in made
    ]
    return rows, [project for s in made for project in s.projects_used()]


def table(rows) -> str:
    sizes = [row["size"] for row in rows]
    head = "| operation (target) | " + " | ".join(f"{s:,} tasks" for s in sizes) + f" | {sizes[-1]:,} / {sizes[0]:,} |"
    lines = [head, "|---|" + "---|" * (len(sizes) + 1)]
    for key, title, target in [op for op in OPERATIONS + filters.OPERATIONS if op[0] in rows[0]["results"]]:
        cells, medians = [], []
        for row in rows:
            values = row["results"][key]
            median, p95 = statistics.median(values), grid.percentile(values, 0.95)
            medians.append(median)
            cells.append(f"{min(values):.1f} / {median:.1f} / {p95:.1f} ({grid.statements(row['queries'][key])} q)")
        ratio = medians[-1] / medians[0] if medians[0] else float("nan")
        missed = [s for s, m in zip(sizes, medians, strict=True) if m > target]
        verdict = "" if not missed and ratio <= 1.5 else " ✗"
        lines.append(f"| {title} (≤ {target} ms) | " + " | ".join(cells) + f" | {ratio:.2f}×{verdict} |")
    return "\n".join(lines)


def report(rows, runs: int, seconds: float, load: grid.Load) -> str:
    memory = ""
    try:
        found = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
        kb = int(found.group(1)) if found else 0
        memory = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, AttributeError):
        pass
    tables = [
        f"**{KINDS[kind]}**\n\n" + table([row for row in rows if row["kind"] == kind])
        for kind in KINDS
        if any(row["kind"] == kind for row in rows)
    ]
    return (
        f"Machine: {grid.machine()}{memory}. Machine load: {load}.\n"
        f"Runs per project: {runs} after 5 warm-up runs, projects taking turns; {seconds:.0f} s in all.\n"
        "Cells: server time min / median / p95 in ms (SQL statements per request, BEGIN/COMMIT not counted). "
        "✗ = a target missed "
        "(median above the target, or largest size slower than 1.5× the smallest).\n\n" + "\n\n".join(tables)
    )


def write(text: str) -> None:
    path = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"
    doc = path.read_text()
    block = f"{START}\n{text}\n{END}"
    if START in doc:
        doc = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: block, doc, flags=re.S)
    else:
        doc += f"\n## Summary (make bench)\n\nRerun with `make bench` (see README, *Benchmarks*).\n\n{block}\n"
    path.write_text(doc)
    print(f"Results written to {path.name}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    parser.add_argument(
        "--filters",
        action="store_true",
        help="also time the filtered pages on generated reviews, classes and item states (bench/filters.py); "
        "prints only",
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("make bench needs PostgreSQL: set DATABASE_URL=postgres://user@host:5432/ls_bench")
    call_command("migrate", verbosity=0)
    started, load = time.perf_counter(), grid.Load()
    rows, projects = run(sorted(args.tasks), args.runs, args.filters, load)
    text = report(rows, args.runs, time.perf_counter() - started, load)
    print("\n" + text)
    largest = [row for row in rows if row["size"] == max(args.tasks)]
    print(f"\nDeep labeled-data page, task query at {largest[0]['size']:,} tasks:\n\n```\n{largest[0]['plan']}\n```")
    if args.filters:
        for row in largest:
            print(
                f"\nFiltered pages at {row['size']:,} tasks, {KINDS[row['kind']]}:\n\n```\n{row['filter_plans']}\n```"
            )
    grid.counters_check(projects)  # before writing: figures taken on wrong counters are not published
    if not args.filters and not args.no_write:
        write(text)


if __name__ == "__main__":
    main()
