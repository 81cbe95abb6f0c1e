"""The suite's test data, one way: factory-boy factories for tenants, people, datastores and datasets, and
projects, tasks, labels and reviews made by the product's own services, so the dashboard counters stay
equal to a recount (`assert_counters_true`).

Tenants, people, datastores, datasets and data items are plain rows (what signup, admin and a scan leave
behind). A project is created by `project_create` and gets its tasks from `project_tasks_sync`; a task is
labeled by being held and submitted (`page_submit`), skipped by `task_skip`, approved, rejected or
corrected by `review_decide`. `when=` runs those services at a fixed time, so what they stamp (labeled_at,
annotation and review times, the activity hour) tells a story a test can assert.

Each factory is typed with its model: call `XFactory.create(...)` (or `create_batch`), which mypy knows returns
that model.
"""

from __future__ import annotations

import io
import itertools
import os
from collections.abc import Mapping
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from typing import cast
from unittest import mock

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.db.models import F
from factory.django import DjangoModelFactory
from PIL import Image

from labeling import services as labeling_services
from labeling import stats
from labeling.models import PreLabel, Task
from labeling.tasks import project_tasks_sync_task
from labelsite.celery import app as celery_app
from projects.datastores import crypto
from projects.definition.services import project_create, project_state_set
from projects.models import (
    DataItem,
    Dataset,
    Datastore,
    LabelClass,
    LabelingProject,
    Membership,
    Organization,
    OrganizationMember,
    Workspace,
)
from review.services import review_decide

PASSWORD = "pw-Labelsite-123"
# Where a local datastore points unless a test asks for served images (the `served_images` fixture
# points it at a real folder inside an allowed root; item files are written only when the folder exists).
LOCAL_PATH = "/srv/images"
OWNER = "factory-owner"


# --- Tenants and people -----------------------------------------------------------------------------


class OrganizationFactory(DjangoModelFactory[Organization]):
    class Meta:
        model = Organization
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Organization {n}")
    slug = factory.LazyAttribute(lambda o: o.name.lower().replace(" ", "-"))


class WorkspaceFactory(DjangoModelFactory[Workspace]):
    class Meta:
        model = Workspace
        django_get_or_create = ("organization", "slug")

    organization = factory.SubFactory(OrganizationFactory)
    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.LazyAttribute(lambda w: w.name.lower().replace(" ", "-"))


def member_add(user, workspace, role: str | None = None, *, org_admin: bool = False):
    """Make `user` a member of the workspace's organization (its admin with `org_admin`) and give them `role`
    (a role group's name) in the workspace."""
    OrganizationMember.objects.get_or_create(
        organization=workspace.organization, user=user, defaults={"is_admin": org_admin}
    )
    if role:
        Membership.objects.create(workspace=workspace, user=user, group=Group.objects.get(name=role))
    return user


class UserFactory(DjangoModelFactory[User]):
    """An account; `workspace=` with `role=` (and/or `org_admin=True`) makes it a member there."""

    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @classmethod
    def _create(cls, model_class, *, workspace=None, role=None, org_admin=False, password=PASSWORD, **fields):
        user = model_class.objects.create_user(password=password, **fields)
        if workspace is not None:
            member_add(user, workspace, role, org_admin=org_admin)
        return user


def owner():
    """The account factories act as when a test names nobody: a superuser outside every organization, so it
    shows up in no member list, role table or labeler statistics."""
    found = get_user_model().objects.filter(username=OWNER).first()
    return found or get_user_model().objects.create_superuser(OWNER, f"{OWNER}@example.com", PASSWORD)


# --- Datastores, datasets and their items (what admin and a scan leave behind) ------------------------


class DatastoreFactory(DjangoModelFactory[Datastore]):
    """A datastore row, a local folder unless told otherwise; `secret=` is stored encrypted, as admin does.
    Names are unique in a workspace: asking for one that exists (by default "images") returns it."""

    class Meta:
        model = Datastore

    workspace = factory.SubFactory(WorkspaceFactory)
    name = "images"
    kind = Datastore.Kind.LOCAL
    local_path = factory.LazyFunction(lambda: LOCAL_PATH)

    @classmethod
    def _create(cls, model_class, *, secret="", **fields):
        existing = model_class.objects.filter(workspace=fields["workspace"], name=fields["name"]).first()
        if existing is not None:
            return existing
        datastore = model_class(**fields)
        if secret:
            datastore.secret_encrypted = crypto.encrypt(secret)
        datastore.save()
        return datastore


class DatasetFactory(DjangoModelFactory[Dataset]):
    """A dataset whose scan is done; `items=n` registers n ready images in it (see `items_add`)."""

    class Meta:
        model = Dataset
        skip_postgeneration_save = True

    workspace = factory.SubFactory(WorkspaceFactory)
    datastore = factory.SubFactory(DatastoreFactory, workspace=factory.SelfAttribute("..workspace"))
    name = factory.Sequence(lambda n: f"dataset-{n}")
    path = ""
    scan_state = Dataset.ScanState.DONE

    @factory.post_generation
    def items(dataset, create, extracted, **kwargs):
        if create and extracted:
            items_add(dataset, extracted)


class DataItemFactory(DjangoModelFactory[DataItem]):
    """One registered image with the details a scan reads from its header."""

    class Meta:
        model = DataItem

    dataset = factory.SubFactory(DatasetFactory)
    key = factory.Sequence(lambda n: f"img/item-{n:07d}.jpg")
    state = DataItem.State.READY
    image_format = "JPEG"
    width = 64
    height = 48


_keys = itertools.count()


def items_add(dataset, n: int, *, state=DataItem.State.READY) -> list[DataItem]:
    """Register `n` images in the dataset the way a scan does (and count them on it). When the datastore's
    folder exists, each gets a small JPEG file, so pages can show it."""
    items = DataItem.objects.bulk_create(
        [
            DataItem(
                dataset=dataset, key=f"img/{next(_keys):07d}.jpg", state=state, image_format="JPEG", width=64, height=48
            )
            for _ in range(n)
        ],
        batch_size=2000,
    )
    Dataset.objects.filter(pk=dataset.pk).update(
        scan_found=F("scan_found") + n, scan_registered=F("scan_registered") + n
    )
    _files_write(dataset, items)
    return items


def _files_write(dataset, items) -> None:
    root = dataset.datastore.local_path
    if dataset.datastore.kind != Datastore.Kind.LOCAL or not os.path.isdir(root):
        return
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 200)).save(buffer, "JPEG")
    for item in items:
        path = os.path.join(root, item.key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(buffer.getvalue())


# --- Projects and tasks, through the services ---------------------------------------------------------

# project_create's arguments; any other field given to ProjectFactory is a setting changed right after.
_CREATE_ARGS = {"name", "task_type", "incremental_refresh", "instructions_url", "instructions_text", "ml_assisted"}
_STATE_ACTIONS = {LabelingProject.State.PAUSED: "pause", LabelingProject.State.ARCHIVED: "archive"}


@contextmanager
def _inline_celery():
    """The Celery tasks a service enqueues on commit run in place (in a transactional test the commit is real)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = before


class ProjectFactory(factory.Factory[LabelingProject]):
    """A project created by `project_create`, its tasks made by `project_tasks_sync` (one per ready item of its
    dataset, 12 by default), then brought to `state` (running, paused, archived, or initializing: no tasks yet)
    by `project_state_set`. `actor` defaults to `owner()`."""

    class Meta:
        model = LabelingProject

    workspace = factory.SubFactory(WorkspaceFactory)
    dataset = factory.SubFactory(DatasetFactory, workspace=factory.SelfAttribute("..workspace"), items=12)
    name = factory.Sequence(lambda n: f"Pets {n}")
    task_type = LabelingProject.TaskType.MULTI_CLASS
    label_names = ("cat", "dog", "bird")
    state = LabelingProject.State.RUNNING
    actor = None

    @classmethod
    def _create(cls, model_class, *, workspace, dataset, label_names, state, actor, **fields):
        actor = actor or owner()
        settings_after = {k: fields.pop(k) for k in list(fields) if k not in _CREATE_ARGS}
        # An Initializing project is one whose task sync no worker has run yet: the one project_create schedules
        # is dropped (in a transactional test it would otherwise run at once, inline).
        no_worker = (
            mock.patch.object(project_tasks_sync_task, "delay")
            if state == LabelingProject.State.INITIALIZING
            else nullcontext()
        )
        with _inline_celery(), no_worker:
            project = project_create(
                workspace=workspace,
                actor=actor,
                dataset=dataset,
                label_names=list(label_names),
                incremental_refresh=fields.pop("incremental_refresh", False),
                **fields,
            )
        if settings_after:
            LabelingProject.objects.filter(pk=project.pk).update(**settings_after)
        if state != LabelingProject.State.INITIALIZING:
            labeling_services.project_tasks_sync(project=project)
        if state in _STATE_ACTIONS:
            project_state_set(project=project, actor=actor, action=_STATE_ACTIONS[state])
        project.refresh_from_db()
        return project


def project_items_add(project, n: int) -> list[Task]:
    """`n` new images in the project's dataset and their tasks, as a refresh followed by a task sync makes them."""
    items = items_add(project.dataset, n)
    labeling_services.project_tasks_sync(project=project)
    return list(Task.objects.filter(project=project, item__in=items).select_related("item").order_by("item_id"))


@contextmanager
def clock(when: datetime | None):
    """Python's clock stands at `when` (the database's, which leases use, runs on)."""
    if when is None:
        yield
        return
    with mock.patch("django.utils.timezone.now", return_value=when):
        yield


def _class_ids(project, labels) -> list[int]:
    if labels is None:
        return [
            LabelClass.objects.filter(project=project).active().order_by("position").values_list("id", flat=True)[0]
        ]
    if isinstance(labels, (LabelClass, int)):
        labels = [labels]
    return [getattr(label, "pk", label) for label in labels]


def _hold(project, user, tasks) -> None:
    """Lease exactly these tasks to `user`, as a claim of a page holding them would (their pre-labels offered as
    suggestions, so the submit records whether the labeler accepted or changed them)."""
    ids = [t.pk for t in tasks]
    Task.objects.filter(project=project, pk__in=ids, state=Task.State.UNLABELED).update(
        leased_to=user, lease_expires=labeling_services.lease_expiry(), draft=[], suggested=[]
    )
    with_prelabel = list(PreLabel.objects.filter(task_id__in=ids).values_list("task_id", flat=True))
    if with_prelabel:
        labeling_services._prelabels_to_suggestions(project, with_prelabel)


def _fresh(tasks) -> list[Task]:
    found = Task.objects.select_related("item").in_bulk([t.pk for t in tasks])
    return [found[t.pk] for t in tasks]


def tasks_label(
    project, tasks, *, user, labels=None, when: datetime | None = None, step: timedelta | None = None
) -> list[Task]:
    """The labeler holds `tasks` and submits them through `page_submit` (with `step`, one at a time at
    when, when + step, …). `labels`: a class (or id), a list of them, or {task: classes}; by default
    the project's first class. Returns the tasks as stored afterwards."""
    tasks = list(tasks)
    _label(project, tasks, user=user, labels=labels, when=when, step=step)
    return _fresh(tasks)


def _label(project, tasks, *, user, labels, when, step) -> None:
    if isinstance(labels, Mapping):
        choice = {t.pk: _class_ids(project, labels[t]) for t in tasks}
    else:
        same = _class_ids(project, labels)
        choice = {t.pk: same for t in tasks}
    groups = [[t] for t in tasks] if step is not None else [tasks]
    for n, group in enumerate(groups):
        at = when + step * n if when is not None and step is not None else when
        with clock(at), transaction.atomic():
            _hold(project, user, group)
            labeling_services.page_submit(project=project, user=user, labels={t.pk: choice[t.pk] for t in group})


def tasks_skip(project, tasks, *, user, when: datetime | None = None) -> list[Task]:
    """The labeler holds `tasks` and sets each aside through `task_skip`."""
    tasks = list(tasks)
    with clock(when), transaction.atomic():
        _hold(project, user, tasks)
        for task in tasks:
            labeling_services.task_skip(project=project, user=user, task=task)
    return _fresh(tasks)


def tasks_review(
    project, tasks, *, decision: str, reviewer=None, reason: str = "", corrected=None, when: datetime | None = None
) -> list[Task]:
    """`review_decide` on `tasks` at their current version: "approve", "reject" or "correct" (with
    `corrected` classes). `reviewer` defaults to `owner()`, who never labels. Returns the tasks as stored
    afterwards."""
    tasks = list(tasks)
    _review(project, tasks, decision=decision, reviewer=reviewer, reason=reason, corrected=corrected, when=when)
    return _fresh(tasks)


def _review(project, tasks, *, decision, reviewer=None, reason="", corrected=None, when=None) -> None:
    versions = dict(Task.objects.filter(pk__in=[t.pk for t in tasks]).values_list("pk", "version"))
    with clock(when):
        review_decide(
            project=project,
            reviewer=reviewer or owner(),
            decisions=[(t.pk, versions[t.pk]) for t in tasks],
            decision=decision,
            reason=reason,
            corrected_labels=_class_ids(project, corrected) if corrected is not None else None,
        )


REJECTED = "rejected"  # not a task state: labeled, then sent back to the queue by a reviewer


class TaskFactory(factory.Factory[Task]):
    """Tasks for new images of a project, taken by the services to `state`: unlabeled, labeled (held and
    submitted by `labeler` with `labels` at `labeled_at`), approved or REJECTED (then decided by `reviewer` at
    `reviewed_at`, with `reason`), or skipped (by `labeler`). `TaskFactory.create_batch(n, …)` makes n of
    them with one sync, one submit and one review; with `step`, each is submitted on its own, labeled_at,
    labeled_at + step, …"""

    class Meta:
        model = Task

    project = factory.SubFactory(ProjectFactory, dataset__items=0)
    state = Task.State.UNLABELED
    labeler = None
    labels = None
    reviewer = None
    reason = ""
    labeled_at = None
    step = None
    reviewed_at = None
    batch_size = None  # create_batch's size; a single task otherwise

    @classmethod
    def create_batch(cls, size: int, **kwargs) -> list[Task]:
        return cast(list[Task], cls.create(batch_size=size, **kwargs))  # one sync, one submit, one review for all

    @classmethod
    def _create(
        cls,
        model_class,
        *,
        project,
        state,
        labeler,
        labels,
        reviewer,
        reason,
        labeled_at,
        step,
        reviewed_at,
        batch_size,
    ):
        tasks = project_items_add(project, batch_size or 1)
        if state == Task.State.SKIPPED:
            tasks = tasks_skip(project, tasks, user=labeler, when=labeled_at)
        elif state != Task.State.UNLABELED:
            _label(project, tasks, user=labeler, labels=labels, when=labeled_at, step=step)
            if state in (Task.State.APPROVED, REJECTED):
                _review(
                    project,
                    tasks,
                    reviewer=reviewer,
                    reason=reason,
                    when=reviewed_at,
                    decision="approve" if state == Task.State.APPROVED else "reject",
                )
            tasks = _fresh(tasks)
        return tasks if batch_size is not None else tasks[0]


# --- The promise: counters equal a recount -------------------------------------------------------------


def assert_counters_true(*projects: LabelingProject) -> None:
    """The dashboard's maintained counters equal what a recount of the tables gives (`stats_verify`, which changes
    nothing)."""
    for project in projects:
        drift = [str(d) for d in stats.stats_verify(project=project)]
        assert not drift, f"counters of {project.name} drifted from a recount: {drift}"


def class_ids(project) -> list[int]:
    """The ids of the project's label classes in their order (keys 1, 2, 3…)."""
    return list(LabelClass.objects.filter(project=project).order_by("position").values_list("id", flat=True))


def class_uuids(project) -> list[str]:
    """The project's label classes as pages post them (UUIDs), in their order."""
    return [
        str(u) for u in LabelClass.objects.filter(project=project).order_by("position").values_list("uuid", flat=True)
    ]


def prelabels_add(tasks, labels, *, source=PreLabel.Source.IMPORT) -> list[PreLabel]:
    """Suggestions on unlabeled `tasks`, as an import or the assistant leaves them (they count nothing until a
    labeler submits). `labels`: a class (or id), a list of them, or {task: classes}."""
    tasks = list(tasks)
    chosen = {t.pk: _class_ids(None, labels[t] if isinstance(labels, Mapping) else labels) for t in tasks}
    prelabels = PreLabel.objects.bulk_create([PreLabel(task=t, source=source) for t in tasks])
    PreLabel.labels.through.objects.bulk_create(
        [PreLabel.labels.through(prelabel=p, labelclass_id=c) for p in prelabels for c in chosen[p.task_id]]
    )
    return prelabels
