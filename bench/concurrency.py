"""Concurrency benchmark: N labelers claim → tag → submit through real HTTP against gunicorn.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ls_bench .venv/bin/python bench/concurrency.py \
        --labelers 8 32 64 --seconds 30 --tasks 10000 --port 8160

Starts `gunicorn labelsite.wsgi --workers 4` on loopback with production settings (DEBUG off, as
`bench/grid.py` sets them: plain HTTP on loopback, a throw-away secret, no collectstatic needed). Each round gets a fresh project of --tasks tasks (30 % already labeled) and N labeler
processes, each with its own session (cookies of a `force_login` session) and its own CSRF cookie.
Each loops for --seconds: GET the grid fragment (htmx) → POST the tag for every tile → POST submit.
It reports labels/s and latency min/p50/p95 per request kind and the machine's load before and after
each round, then checks the database: every task of a 200 submit is LABELED by that labeler with exactly
one current annotation created by them, no task was accepted from two labelers, no task of the project
has two current annotations, and every dashboard counter of the round's project equals a recount.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import grid  # sets Django up, so it comes first

# isort: split
from django.db import connections
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from labeling.models import Annotation, Task
from projects.models import LabelClass

ROOT = Path(__file__).resolve().parent.parent
ITEMS = re.compile(r'form="submit-form" name="items" value="([0-9a-f-]{36})"')


def labeler_loop(args) -> dict:
    """One labeler process: bounded loop over loopback HTTP; returns latencies and accepted item uuids."""
    import requests

    base, session_cookie, urls, label, seconds = args
    http = requests.Session()
    csrf = secrets.token_hex(16)  # a 32-character secret: Django accepts it unmasked in the header
    http.cookies.set("sessionid", session_cookie, domain="127.0.0.1")
    http.cookies.set("csrftoken", csrf, domain="127.0.0.1")
    headers = {"HX-Request": "true", "X-CSRFToken": csrf}
    times: dict[str, list[float]] = {"grid": [], "tag": [], "submit": []}
    accepted: list = []
    errors: Counter = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = http.get(base + urls["grid"], headers=headers, timeout=30)
        times["grid"].append((time.perf_counter() - started) * 1000)
        items = ITEMS.findall(response.text) if response.status_code == 200 else []
        if not items:
            errors[f"grid {response.status_code}"] += 1
            if response.status_code == 200:
                break  # nothing left to label
            continue
        started = time.perf_counter()
        response = http.post(base + urls["tag"], {"items": items, "label": label}, headers=headers, timeout=30)
        times["tag"].append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            errors[f"tag {response.status_code}"] += 1
        data = {"items": items, **{f"labels-{uuid}": label for uuid in items}}
        started = time.perf_counter()
        response = http.post(base + urls["submit"], data, headers=headers, timeout=30)
        times["submit"].append((time.perf_counter() - started) * 1000)
        if response.status_code == 200:
            accepted.extend(items)
        else:
            errors[f"submit {response.status_code}"] += 1
    return {"session": session_cookie, "times": times, "accepted": accepted, "errors": dict(errors)}


def start_server(port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1"}  # the rest as bench/grid.py set it: DEBUG off
    server = subprocess.Popen(
        [
            str(ROOT / ".venv/bin/gunicorn"),
            "labelsite.wsgi",
            "--workers",
            str(workers),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    import requests

    for _ in range(60):
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200:
                return server
        except requests.RequestException:
            pass
        time.sleep(0.5)
    server.terminate()
    raise SystemExit("gunicorn did not answer on /healthz")


def check(project, results, users) -> list[str]:
    """The database after the round: problems found (empty = correct)."""
    problems = []
    by_uuid = dict(Task.objects.filter(project=project).values_list("item__uuid", "id"))
    owner: dict[int, int] = {}
    for result in results:
        user = users[result["session"]]
        for uuid in result["accepted"]:
            task = by_uuid[__import__("uuid").UUID(uuid)]
            if owner.setdefault(task, user) != user:
                problems.append(f"task {task} accepted from two labelers")
    labeled = dict(Task.objects.filter(id__in=owner).values_list("id", "labeled_by_id"))
    lost = [t for t, user in owner.items() if labeled.get(t) != user]
    if lost:
        problems.append(f"{len(lost)} accepted tasks not labeled by their submitter")
    current = Annotation.objects.filter(task__project=project, is_current=True)
    authors = dict(current.filter(task_id__in=owner).values_list("task_id", "created_by_id"))
    if any(authors.get(t) != user for t, user in owner.items()):
        problems.append("an accepted task lacks a current annotation by its submitter")
    doubles = current.values("task_id").annotate(n=Count("id")).filter(n__gt=1).count()
    if doubles:
        problems.append(f"{doubles} tasks with two current annotations")
    return problems


def round_(size: int, labelers: int, seconds: float, port: int) -> dict:
    tag = secrets.token_hex(3)
    project = grid.ensure_project(size, name=f"conc-{labelers}-{tag}", ws_slug="concurrency")
    ws = project.workspace
    kwargs = {"org": ws.organization.slug, "ws": ws.slug, "project": project.uuid}
    urls = {name: reverse(f"labeling:{name}", kwargs=kwargs) for name in ("grid", "tag", "submit")}
    label = str(LabelClass.objects.filter(project=project).order_by("position").values_list("uuid", flat=True)[0])
    users, jobs = {}, []
    for n in range(labelers):
        user = grid.labeler(ws, f"conc-labeler-{n}")
        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"].value
        users[cookie] = user.id
        jobs.append((f"http://127.0.0.1:{port}", cookie, urls, label, seconds))
    connections.close_all()
    load = grid.Load()
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(labelers) as pool:
        results = pool.map(labeler_loop, jobs)
    elapsed = time.perf_counter() - started
    times = {k: [ms for r in results for ms in r["times"][k]] for k in ("grid", "tag", "submit")}
    errors = sum((Counter(r["errors"]) for r in results), Counter())
    labels = sum(len(r["accepted"]) for r in results)
    load.end()
    return {
        "labelers": labelers,
        "labels": labels,
        "rate": labels / elapsed,
        "elapsed": elapsed,
        "times": times,
        "errors": dict(errors),
        "problems": check(project, results, users),
        "load": load,
        "project": project,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labelers", type=int, nargs="+", default=[8, 32, 64])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--port", type=int, default=8160)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    if grid.connection.vendor != "postgresql":
        raise SystemExit("Set DATABASE_URL=postgres://…: this benchmark is about PostgreSQL.")
    grid.call_command("migrate", verbosity=0)
    server = start_server(args.port, args.workers)
    rows = []
    try:
        for n in args.labelers:
            print(f"{n} labelers for {args.seconds:.0f} s ...", flush=True)
            rows.append(round_(args.tasks, n, args.seconds, args.port))
    finally:
        server.terminate()
        server.wait(10)
    print(
        f"\nMachine: {grid.machine()}\ngunicorn --workers {args.workers}, DEBUG off, loopback; "
        f"{args.tasks:,} tasks per round (30 % already labeled), page of {grid.PAGE}, {args.seconds:.0f} s per round.\n"
    )
    print(
        f"Load average (1 min) before → after each round, on {os.cpu_count()} cores (the load generator, gunicorn "
        "and PostgreSQL share them, with whatever else runs).\n"
    )
    print(
        "| labelers | labels/s | grid min / p50 / p95 ms | tag min / p50 / p95 ms | submit min / p50 / p95 ms | non-200 "
        "| DB check | load avg |"
    )
    print("|---:|---:|---|---|---|---|---|---|")
    for row in rows:
        cells = [
            f"{min(row['times'][k]):.0f} / {statistics.median(row['times'][k]):.0f} / "
            f"{grid.percentile(row['times'][k], 0.95):.0f}"
            if row["times"][k]
            else "—"
            for k in ("grid", "tag", "submit")
        ]
        errors = ", ".join(f"{k}: {v}" for k, v in row["errors"].items()) or "none"
        verdict = "ok" if not row["problems"] else "; ".join(row["problems"])
        print(
            f"| {row['labelers']} | {row['rate']:.0f} | "
            + " | ".join(cells)
            + f" | {errors} | {verdict} | {row['load'].before:.1f} → {row['load'].after:.1f} |"
        )
    if any(row["problems"] for row in rows):
        raise SystemExit(1)
    grid.counters_check(row["project"] for row in rows)


if __name__ == "__main__":
    main()
