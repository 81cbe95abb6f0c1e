"""CI smoke of the benchmark loop: several labelers claim → tag → submit through the grid views at once.

Correctness only, never timing: no task held or labeled twice, no accepted submit lost, and the
maintained counters equal the real counts afterwards. Small (1,000 tasks) and bounded (a few seconds).
"""

import threading
import time
from collections import Counter

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.db.models import Count
from django.test import Client
from django.urls import reverse

from labeling import services
from labeling.models import Annotation, ClassCount, Task
from labeling.stats import state_counts, stats_rebuild
from projects.models import Membership
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
    project = ProjectFactory(workspace=workspace, dataset__items=TASKS)
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
    real = Counter(dict(Task.objects.filter(project=project).values("state").annotate(n=Count("id"))
                        .values_list("state", "n")))
    assert {s: n for s, n in state_counts(project).items() if n} == dict(real)
    # The class and suggestion counters (moved by concurrent submits in one upsert) equal a recount.
    def class_counts():
        return sorted(ClassCount.objects.filter(project=project).exclude(count=0, suggested=0, accepted=0)
                      .values_list("label_class_id", "count", "suggested", "accepted"))

    live = class_counts()
    stats_rebuild(project=project)
    assert live == class_counts()
    assert sum(row[2] for row in live) > 0
