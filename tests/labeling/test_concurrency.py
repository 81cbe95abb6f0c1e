"""Many labelers claiming and submitting at once on PostgreSQL: no task held twice, no submit lost."""

import threading
from collections import Counter

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from django.db.models import F

from labeling import services
from labeling.models import Annotation, ClassCount, Task, TaskStateCount
from projects.models import Membership
from projects.tenancy.roles import LABELER
from tests.factories import ProjectFactory, class_ids

LABELERS = 16
TASKS = 400
PAGE = 5


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_many_labelers_at_once_never_share_a_task_and_lose_no_submit(postgres, workspace, make_user):
    project = ProjectFactory.create(workspace=workspace, dataset__items=TASKS)
    labels = class_ids(project)
    group = Group.objects.get(name=LABELER)
    users = [make_user(f"crowd{i}") for i in range(LABELERS)]
    Membership.objects.bulk_create([Membership(workspace=workspace, user=u, group=group) for u in users])

    start = threading.Barrier(LABELERS)
    submitted: dict[int, list[int]] = {}
    claimed_now: dict[int, set[int]] = {}
    overlaps, errors = [], []
    guard = threading.Lock()

    def work(n, user):
        mine = submitted.setdefault(user.id, [])
        try:
            start.wait()
            while True:
                page = services.tasks_claim(project=project, user=user, size=PAGE)
                if not page:
                    break
                ids = {t.id for t in page}
                with guard:  # nobody else may hold any of these right now
                    for other, held in claimed_now.items():
                        if held & ids:
                            overlaps.append((user.id, other, held & ids))
                    claimed_now[user.id] = ids
                choice = {t.id: [labels[(t.id + n) % len(labels)]] for t in page}
                services.page_submit(project=project, user=user, labels=choice)
                with guard:
                    claimed_now[user.id] = set()
                mine.extend(ids)
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(n, u)) for n, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert errors == []
    assert overlaps == []
    every = [t for ids in submitted.values() for t in ids]
    assert len(every) == len(set(every)) == TASKS
    assert sum(1 for ids in submitted.values() if ids) > 1  # the work really was shared
    # The database agrees: each task labeled once, by the labeler who submitted it, no lease left over.
    assert Task.objects.filter(project=project, state=Task.State.LABELED).count() == TASKS
    assert not Task.objects.filter(project=project, leased_to__isnull=False).exists()
    per_task = Counter(Annotation.objects.filter(task__project=project).values_list("task_id", flat=True))
    assert set(per_task.values()) == {1} and len(per_task) == TASKS
    owner = dict(Task.objects.filter(project=project).values_list("id", "labeled_by_id"))
    assert all(owner[t] == uid for uid, ids in submitted.items() for t in ids)
    counts = dict(TaskStateCount.objects.filter(project=project).values_list("state", "count"))
    assert counts == {"unlabeled": 0, "labeled": TASKS}
    assert sum(ClassCount.objects.filter(project=project).values_list("count", flat=True)) == TASKS


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_repeated_concurrent_submits_of_one_page_save_it_once(postgres, workspace, labeler):
    project = ProjectFactory.create(workspace=workspace, dataset__items=20)
    cat = class_ids(project)[0]
    page = services.tasks_claim(project=project, user=labeler, size=9)
    choice = {t.id: [cat] for t in page}
    start = threading.Barrier(8)
    results, errors = [], []

    def again():
        try:
            start.wait()
            results.append(services.page_submit(project=project, user=labeler, labels=choice))
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=again) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(results) == [0] * 7 + [9]
    assert Annotation.objects.filter(task__project=project).count() == 9


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_labelers_and_reviewers_at_once_keep_the_dashboard_counters_exact(postgres, workspace, make_user):
    """Submits, approvals and rejections all adjust the same counter rows; they must neither deadlock nor drift."""
    from labeling.stats import state_counts, stats_rebuild
    from projects.tenancy.roles import REVIEWER
    from review.services import review_decide

    project = ProjectFactory.create(workspace=workspace, dataset__items=240)
    labels = class_ids(project)
    labelers = [make_user(f"mixer{i}") for i in range(6)]
    reviewers = [make_user(f"checker{i}") for i in range(3)]
    Membership.objects.bulk_create(
        [Membership(workspace=workspace, user=u, group=Group.objects.get(name=LABELER)) for u in labelers]
        + [Membership(workspace=workspace, user=u, group=Group.objects.get(name=REVIEWER)) for u in reviewers]
    )
    start = threading.Barrier(len(labelers) + len(reviewers))
    errors: list[str] = []
    labeling_done = threading.Event()

    def label(n, user):
        try:
            start.wait()
            for _ in range(12):
                page = services.tasks_claim(project=project, user=user, size=PAGE)
                if not page:
                    break
                services.page_submit(project=project, user=user, labels={t.id: [labels[(t.id + n) % 2]] for t in page})
        except Exception as error:  # noqa: BLE001 - reported by the assertions below
            errors.append(repr(error))
        finally:
            connections.close_all()

    def review(n, user):
        try:
            start.wait()
            while True:
                finished = labeling_done.is_set()
                mine = Task.objects.filter(project=project, state=Task.State.LABELED).alias(r=F("id") % 3).filter(r=n)
                batch = list(mine.values_list("id", "version")[:4])
                if batch:
                    review_decide(
                        project=project,
                        reviewer=user,
                        decisions=batch,
                        decision="approve" if batch[0][0] % 2 else "reject",
                        reason="blurry",
                    )
                elif finished:
                    break
        except Exception as error:  # noqa: BLE001
            errors.append(repr(error))
        finally:
            connections.close_all()

    workers = [threading.Thread(target=label, args=(n, u)) for n, u in enumerate(labelers)]
    checkers = [threading.Thread(target=review, args=(n, u)) for n, u in enumerate(reviewers)]
    for thread in workers + checkers:
        thread.start()
    for thread in workers:
        thread.join(120)
    labeling_done.set()
    for thread in checkers:
        thread.join(120)

    assert errors == []
    live = (
        state_counts(project),
        dict(ClassCount.objects.filter(project=project).values_list("label_class_id", "count")),
    )
    assert live[0]["approved"] > 0 and live[0]["unlabeled"] > 0  # both kinds of decision happened
    assert sum(live[0].values()) == 240
    stats_rebuild(project=project)
    rebuilt = (
        state_counts(project),
        dict(ClassCount.objects.filter(project=project).values_list("label_class_id", "count")),
    )
    assert {k: v for k, v in live[1].items() if v} == rebuilt[1]
    assert live[0] == rebuilt[0]  # the counters kept in step with every concurrent write
