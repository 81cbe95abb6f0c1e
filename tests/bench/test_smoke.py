"""CI smoke of the benchmarks: the scripts themselves at a tiny size, and their loop with labelers at once.

Correctness only, never timing: every script runs to its end, where it checks that every dashboard counter
of the projects it wrote equals a recount; several labelers looping claim → tag → submit through the grid
views never share a task, lose no submit, and leave every counter true. Small and bounded.
"""

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.db import connection, connections
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from labeling import services
from labeling.models import Annotation, ClassCount, Task
from labeling.stats import stats_verify
from projects.models import LabelingProject, Membership
from projects.tenancy.roles import LABELER
from tests.factories import ProjectFactory, class_ids, class_uuids, prelabels_add

TASKS = 1_000
LABELERS = 6
SECONDS = 4
HTMX = {"HX-Request": "true"}


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_labelers_looping_through_the_grid_never_share_a_task_and_lose_no_submit(postgres, workspace, make_user):
    """PostgreSQL: the smoke loop needs concurrent writers."""
    project = ProjectFactory.create(workspace=workspace, dataset__items=TASKS)
    label_id, other_id, _ = class_ids(project)
    # Every third image carries a suggestion (half of them the label the loop submits): the submits record them.
    suggested = list(Task.objects.filter(project=project).order_by("id")[::3])
    prelabels_add(suggested, {t: (label_id, other_id)[i % 2] for i, t in enumerate(suggested)})
    label = class_uuids(project)[0]  # as the page posts it
    group = Group.objects.get(name=LABELER)
    users = [make_user(f"smoke{i}") for i in range(LABELERS)]
    Membership.objects.bulk_create([Membership(workspace=workspace, user=u, group=group) for u in users])
    kwargs = {"org": workspace.organization.slug, "ws": workspace.slug, "project": project.uuid}
    grid_url, submit_url = reverse("labeling:grid", kwargs=kwargs), reverse("labeling:submit", kwargs=kwargs)
    clients = []
    for user in users:
        client = Client()
        client.force_login(user)
        clients.append(client)

    accepted: dict[int, list[int]] = {u.id: [] for u in users}
    errors: list[str] = []
    start = threading.Barrier(LABELERS)
    deadline = time.monotonic() + SECONDS

    def work(user, client):
        try:
            start.wait()
            while time.monotonic() < deadline:
                response = client.get(grid_url, headers=HTMX)
                assert response.status_code == 200, response.status_code
                page = list(services.tasks_held(project=project, user=user).select_related("item"))
                if not page:
                    break
                data = {"items": [str(t.item.uuid) for t in page], **{f"labels-{t.item.uuid}": [label] for t in page}}
                response = client.post(submit_url, data, headers=HTMX)
                assert response.status_code == 200, (response.status_code, response.content[:200])
                accepted[user.id].extend(t.id for t in page)
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=pair) for pair in zip(users, clients, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    every = [t for ids in accepted.values() for t in ids]
    assert every, "nothing was submitted"
    assert len(every) == len(set(every))  # no task submitted by two labelers
    assert sum(1 for ids in accepted.values() if ids) > 1  # the work really was shared
    labeled = dict(Task.objects.filter(project=project, state=Task.State.LABELED).values_list("id", "labeled_by_id"))
    assert labeled == {t: user_id for user_id, ids in accepted.items() for t in ids}  # no submit lost
    current = Annotation.objects.filter(task__project=project, is_current=True)
    assert dict(current.values_list("task_id", "created_by_id")) == labeled
    assert not current.values("task_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert stats_verify(project=project) == []  # every counter (states, classes, suggestions) equals a recount
    assert ClassCount.objects.filter(project=project, suggested__gt=0).exists()  # the submits recorded suggestions


BENCH = Path(__file__).resolve().parents[2] / "bench"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def bench_env(postgres, tmp_path):
    """The environment a bench script needs to work in this test's database (committed rows, flushed after);
    PostgreSQL: the benchmarks are PostgreSQL only."""
    db = connection.settings_dict
    url = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    return {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": "memory://", "LABELSITE_DATA_DIR": str(tmp_path)}


# Each script at a tiny size; run.py must not rewrite BENCHMARKS.md.
SCRIPTS = {
    "run": ["run.py", "--tasks", "600", "--runs", "2", "--filters", "--no-write"],
    "grid": ["grid.py", "--tasks", "600", "--runs", "2"],
    "project_dashboard": ["project_dashboard.py", "--tasks", "500"],
    "export": ["export.py", "--n", "300", "--formats", "csv"],
    "concurrency": ["concurrency.py", "--labelers", "2", "--seconds", "2", "--tasks", "600", "--workers", "1"],
}


@pytest.mark.integration  # starts a Django process per script (and gunicorn for concurrency.py)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("script", SCRIPTS)
def test_the_bench_script_runs_at_a_tiny_size_and_leaves_every_counter_true(bench_env, script):
    args = SCRIPTS[script] + (["--port", str(_free_port())] if script == "concurrency" else [])
    done = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:]], env=bench_env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "equals a recount" in done.stdout  # the script checked its counters at the end
    assert "load average (1 min)" in done.stdout.lower()  # and says how busy the machine was
    projects = list(LabelingProject.objects.all())
    assert projects or script == "project_dashboard"  # (that one deletes what it made)
    assert {p.name: [str(d) for d in stats_verify(project=p)] for p in projects} == {p.name: [] for p in projects}
