"""Reactions to what projects announces: new projects and new or missing items get their tasks
(re)synced after the sending transaction commits. No business logic here, only scheduling — and
the one cascade the ORM cannot express (a deleted account's leases)."""

from __future__ import annotations

from functools import partial

from django.db import transaction

from labeling.models import Task
from labeling.tasks import project_missing_items_withdraw_task, project_tasks_sync_task
from projects.models import LabelingProject


def _live_projects(dataset):
    return LabelingProject.objects.filter(dataset=dataset).exclude(state=LabelingProject.State.ARCHIVED)


def on_project_created(sender, project, **kwargs):
    transaction.on_commit(partial(project_tasks_sync_task.delay, project.pk))


def _from_refresh(dataset, mode=None) -> bool:
    """Whether the new items came from an incremental refresh rather than a (re)scan.

    The scanner stamps last_refresh_at or scan_finished_at just before sending the signal.
    """
    if mode:
        return mode == "refresh"
    refreshed, scanned = dataset.last_refresh_at, dataset.scan_finished_at
    return refreshed is not None and (scanned is None or refreshed > scanned)


def on_items_registered(sender, dataset, **kwargs):
    """Items from a scan join every live project of the dataset; items found by an incremental
    refresh join only the projects that have incremental refresh on."""
    projects = _live_projects(dataset)
    if _from_refresh(dataset, kwargs.get("mode")):
        projects = projects.filter(incremental_refresh=True)
    for project_id in projects.values_list("pk", flat=True):
        transaction.on_commit(partial(project_tasks_sync_task.delay, project_id))


def on_items_missing(sender, dataset, **kwargs):
    for project_id in _live_projects(dataset).values_list("pk", flat=True):
        transaction.on_commit(partial(project_missing_items_withdraw_task.delay, project_id))


def on_user_deleting(sender, instance, **kwargs):
    """A deleted account's leases end with it, holder and expiry together in one statement: the database
    refuses a lease without a holder, which `leased_to`'s SET_NULL alone would leave behind. Runs inside
    the deletion's transaction."""
    Task.objects.filter(leased_to=instance).update(leased_to=None, lease_expires=None, draft=[], suggested=[])
