"""Reviewers claiming at the same moment never get the same task (PostgreSQL row locks, skip locked)."""

import threading

import pytest
from django.db import connection, connections

from labeling.models import Task
from review.services import review_queue_claim
from tests.review.data import add_tasks, make_project

pytestmark = pytest.mark.django_db(transaction=True)


def test_simultaneous_claims_are_disjoint(workspace, labeler, make_user):
    # SQLite's in-memory test database cannot be shared by threads; its IMMEDIATE transactions make
    # claimers take turns anyway, so there the claims simply run one after another.
    concurrent = connection.vendor == "postgresql"
    project = make_project(workspace)
    add_tasks(project, 20, state=Task.State.LABELED, labeler=labeler)
    reviewers = [make_user(f"rev{i}") for i in range(4)]
    start, results, errors = threading.Barrier(len(reviewers)), {}, []

    def claim(user):
        try:
            start.wait()
            results[user.pk] = review_queue_claim(project=project, reviewer=user, size=6)
        except Exception as error:  # noqa: BLE001 — surfaced below
            errors.append(error)
        finally:
            connections.close_all()

    if concurrent:
        threads = [threading.Thread(target=claim, args=(user,)) for user in reviewers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for user in reviewers:
            results[user.pk] = review_queue_claim(project=project, reviewer=user, size=6)
    assert not errors
    claimed = [pk for ids in results.values() for pk in ids]
    assert len(claimed) == len(set(claimed)) and len(claimed) <= 20
    # Topping up afterwards (a reload) hands out whatever a racing claimer had to skip, still disjoint.
    pages = [review_queue_claim(project=project, reviewer=user, size=6) for user in reviewers]
    everything = [pk for ids in pages for pk in ids]
    assert len(everything) == len(set(everything)) == 20
