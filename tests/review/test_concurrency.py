"""Reviewers claiming at the same moment never get the same task (PostgreSQL row locks, skip locked)."""

import threading

import pytest
from django.db import connections

from labeling.models import Task
from review.services import review_queue_claim
from tests.factories import TaskFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_simultaneous_claims_are_disjoint(postgres, project, labeler, make_user):
    """Four reviewers claim in four threads (four connections) released by one barrier. (PostgreSQL: SQLite's
    in-memory test database cannot be shared by threads, and its writers take turns anyway.)"""
    TaskFactory.create_batch(20, project=project, state=Task.State.LABELED, labeler=labeler)
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

    threads = [threading.Thread(target=claim, args=(user,)) for user in reviewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and len(results) == len(reviewers)
    claimed = [pk for ids in results.values() for pk in ids]
    assert len(claimed) == len(set(claimed)) and len(claimed) <= 20
    # Topping up afterwards (a reload) hands out whatever a racing claimer had to skip, still disjoint.
    pages = [review_queue_claim(project=project, reviewer=user, size=6) for user in reviewers]
    everything = [pk for ids in pages for pk in ids]
    assert len(everything) == len(set(everything)) == 20
