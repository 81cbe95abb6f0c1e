"""Writes to tasks: the grid (claiming pages under a lease, suggestions, draft tags, submit, skip), task creation,
label removal.

Every function runs in one short transaction and keeps the dashboard counters (`labeling.stats`)
in step. The number of queries each one makes does not depend on the page size or project size.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import cast

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BooleanField, Count, DateTimeField, Exists, ExpressionWrapper, F, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now
from django.db.models.sql import Query
from django.utils import timezone

from core.errors import Conflict, Refused
from labeling import stats
from labeling.models import ML_UNORDERED, Annotation, GridPreference, PreLabel, Task
from projects.definition.services import label_classes_renumber
from projects.models import DataItem, LabelClass, LabelingProject

State = Task.State


class ProjectNotOpen(Conflict):
    """The project does not take labels right now (initializing, paused or archived)."""

    def __init__(self, project):
        self.project = project
        reasons = {
            LabelingProject.State.INITIALIZING: "is still being prepared; its tasks are not ready yet",
            LabelingProject.State.PAUSED: "is paused by a manager; labeling resumes when it is restarted",
            LabelingProject.State.ARCHIVED: "is archived and takes no more labels",
        }
        super().__init__(
            f"“{project.name}” {reasons.get(project.state, 'is not open for labeling')}.", data={"state": project.state}
        )


class LeaseLost(Conflict):
    """Some tasks are no longer held by this labeler (lease expired or taken by someone else)."""

    def __init__(self, task_ids):
        self.task_ids = sorted(task_ids)
        n = len(self.task_ids)
        super().__init__(
            f"Your hold on {n} image{'s' if n != 1 else ''} of this page ran out "
            f"(leases last {lease_minutes()} minutes), so they went back to the pool. "
            "Nothing was saved from this page; your tags on the images you still hold are kept. "
            "Load a fresh page to continue.",
            data={"task_ids": self.task_ids},
        )


class PageSubmitted(Conflict):
    """The tasks were already submitted (or skipped) by this same labeler: the page is stale, not lost.

    Typically a second tab showing the page that the first tab submitted."""

    code = "page_submitted"
    default_message = "This page was already submitted (in another tab?). Here is a fresh page."

    def __init__(self, task_ids=()):
        self.task_ids = sorted(task_ids)
        super().__init__(data={"task_ids": self.task_ids})


def _lost_error(tasks, lost: set[int], user) -> Conflict:
    """Why tasks are no longer held: submitted by this labeler already (another tab), or the hold ran out."""
    mine = {t.id for t in tasks if t.state != State.UNLABELED and t.labeled_by_id == user.id}
    if lost <= mine:
        return PageSubmitted(lost)
    return LeaseLost(lost - mine)


def lease_minutes() -> int:
    return settings.LABELSITE_LEASE_MINUTES


def _require_open(project) -> None:
    if project.state != LabelingProject.State.RUNNING:
        raise ProjectNotOpen(project)


def _ephemeral(outermost: bool) -> None:
    """Leases and drafts are cheap to lose in a crash, so their commits need not wait for the disk flush.

    Only when this transaction is our own: never relax the durability of a caller's transaction.
    """
    if outermost and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _claim_order(project) -> str:
    """The task column a claim walks (each has its own index starting with the project)."""
    if project.task_order == LabelingProject.TaskOrder.OLDEST:
        return "id"
    if project.ml_assisted and (project.ml_cluster or project.ml_active_learning):
        return "ml_order"  # ML assist's order: similar images together, least sure first
    return "order_key"


# Leases expire by the database's clock, never a web machine's: with several web machines whose clocks
# disagree, one running ahead would otherwise take (or refuse) another's leases early.
LIVE = Q(lease_expires__gt=Now())


def lease_live():
    """Whether a task's lease is still valid, as an annotation computed by the database."""
    return ExpressionWrapper(LIVE, output_field=BooleanField())


def lease_expiry():
    """The expiry of a lease given now: the database's time plus the lease length."""
    return ExpressionWrapper(Now() + timedelta(minutes=lease_minutes()), output_field=DateTimeField())


def tasks_held(*, project, user):
    """The labeler's tasks in this project whose lease is still valid."""
    return Task.objects.filter(LIVE, project=project, state=State.UNLABELED, leased_to=user)


class ClaimedPage(list):
    """The tasks of a labeler's page; `expired` says how many of their earlier holds ran out meanwhile."""

    expired = 0


def tasks_claim(*, project, user, size: int) -> ClaimedPage:
    """The labeler's page: tasks they still hold, topped up to `size` from the pool (order kept stable)."""
    _require_open(project)
    order = _claim_order(project)
    holding = Task.objects.filter(project=project, state=State.UNLABELED, leased_to=user).annotate(live=lease_live())
    mine = list(holding.select_related("item").order_by(order, "id")[: size + 100])
    held = [t for t in mine if t.live][:size]
    expired = [t.id for t in mine if not t.live]
    missing = size - len(held)
    ids = []
    if missing > 0 or expired:
        outermost = not connection.in_atomic_block
        with transaction.atomic():
            _ephemeral(outermost)
            if expired:  # back to the pool, unless someone took them already
                Task.objects.filter(id__in=expired, leased_to=user, lease_expires__lte=Now()).update(
                    leased_to=None, lease_expires=None, draft=[], suggested=[]
                )
            if missing > 0:
                ids = _take_free(project=project, user=user, order=order, count=missing)
    page = ClaimedPage(held)
    page.expired = len(expired)
    if ids:
        page.extend(Task.objects.filter(id__in=ids).select_related("item"))
        page.sort(key=lambda task: (getattr(task, order), task.id))
    return page


def _take_free(*, project, user, order, count) -> list[int]:
    """Lease up to `count` free tasks to the labeler in one statement; returns their ids.

    `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED LIMIT n) RETURNING`: on PostgreSQL rows
    another labeler is claiming right now are skipped, never waited for; on SQLite the IMMEDIATE
    transaction already serializes writers. Each row also says whether it carries a pre-label, which it then
    offers as its suggestion.
    """
    free = (
        Task.objects.filter(project=project, state=State.UNLABELED)
        .filter(Q(leased_to__isnull=True) | Q(lease_expires__lte=Now()))
        .order_by(order)
        .select_for_update(skip_locked=True)
        .values("id")[:count]
    )
    free_sql, free_params = free.query.sql_with_params()
    quote = connection.ops.quote_name
    table, prelabels = quote(Task._meta.db_table), quote(PreLabel._meta.db_table)
    expires_sql, expires_params = _compiled(lease_expiry())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET leased_to_id = %s, lease_expires = {expires_sql}, draft = '[]', suggested = '[]' "
            f"WHERE id IN ({free_sql}) "
            f"RETURNING id, EXISTS (SELECT 1 FROM {prelabels} p WHERE p.task_id = {table}.id)",
            [user.id, *expires_params, *free_params],
        )
        rows = cursor.fetchall()
    suggested = [task_id for task_id, has_prelabel in rows if has_prelabel]
    if suggested:
        _prelabels_to_suggestions(project, suggested)
    return [task_id for task_id, _ in rows]


def _compiled(expression) -> tuple[str, list]:
    """SQL and parameters of an ORM expression, for the hand-written statements on the task table."""
    query = Query(Task)
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.compile(expression.resolve_expression(query))
    return sql, list(params)


def _prelabels_to_suggestions(project, task_ids) -> None:
    """Pre-labels arrive as the held tasks' suggestions, apart from the draft: the labeler accepts or changes them.

    Copied at claim time (as the draft lives on the task) so that showing the page and submitting it read no
    pre-label table, and the submit compares the labels with exactly what the labeler was shown."""
    rows = (
        PreLabel.labels.through.objects.filter(prelabel__task_id__in=task_ids, labelclass__removed_at=None)
        .order_by("labelclass__position", "labelclass_id")
        .values_list("prelabel__task_id", "labelclass_id")
    )
    suggested: dict[int, list[int]] = {}
    for task_id, class_id in rows:
        suggested.setdefault(task_id, []).append(class_id)
    if project.task_type == LabelingProject.TaskType.MULTI_CLASS:
        suggested = {task_id: classes[:1] for task_id, classes in suggested.items()}
    if suggested:
        Task.objects.bulk_update(
            [Task(id=task_id, suggested=classes) for task_id, classes in suggested.items()], ["suggested"]
        )


def tasks_release(*, project, user, keep_tagged: bool = False) -> int:
    """Give back the tasks the labeler holds in this project (their draft tags are discarded); with `keep_tagged`,
    only those without a draft tag, so a changed layout loses no work."""
    held = Task.objects.filter(project=project, state=State.UNLABELED, leased_to=user)
    if keep_tagged:
        held = held.filter(draft=[])
    return held.update(leased_to=None, lease_expires=None, draft=[], suggested=[])


def _held_for_update(*, project, user, task_ids) -> list[Task]:
    """Lock the given tasks; raise LeaseLost unless this labeler holds every one of them."""
    tasks = list(
        Task.objects.select_for_update()
        .filter(project=project, id__in=task_ids)
        .annotate(live=lease_live())
        .order_by("id")
    )
    held = {t.id for t in tasks if t.state == State.UNLABELED and t.leased_to_id == user.id and t.live}
    lost = set(task_ids) - held
    if lost:
        raise _lost_error(tasks, lost, user)
    return cast(list[Task], tasks)  # Tasks annotated with `live`


def _prelabels_drop(task_ids: list[int]) -> None:
    """Delete the tasks' imported suggestions: two plain DELETEs (the ORM would first SELECT them to
    cascade by hand, a query on every submit although few tasks ever carry one)."""
    q = connection.ops.quote_name
    links, prelabels = q(PreLabel.labels.through._meta.db_table), q(PreLabel._meta.db_table)
    marks = ", ".join(["%s"] * len(task_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {links} WHERE prelabel_id IN (SELECT id FROM {prelabels} WHERE task_id IN ({marks}))",
            task_ids,
        )
        cursor.execute(f"DELETE FROM {prelabels} WHERE task_id IN ({marks})", task_ids)


def _class_ids(project) -> set[int]:
    return set(LabelClass.objects.filter(project=project).active().values_list("id", flat=True))


def draft_set(*, project, user, task_ids, label_ids, mode: str = "apply") -> list[Task]:
    """Change the in-progress tags of held tasks; nothing becomes a label before `page_submit`.

    mode "apply": multi-class replaces the tag; multi-label adds it, or removes it when every
    selected task already has it. mode "remove": takes the tags off.
    """
    _require_open(project)
    task_ids = {int(t) for t in task_ids}
    label_ids = [int(label) for label in label_ids]
    if not task_ids or not label_ids:
        raise ValidationError("Select at least one image and one tag.")
    if mode not in ("apply", "remove"):
        raise ValidationError(f"Unknown mode {mode!r}.")
    if project.task_type == LabelingProject.TaskType.MULTI_CLASS and mode == "apply" and len(label_ids) != 1:
        raise ValidationError("A multi-class image takes exactly one tag.")
    if not set(label_ids) <= _class_ids(project):  # a removed class takes no new tags, as in page_submit
        raise ValidationError("That tag does not belong to this project.")
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        _ephemeral(outermost)
        tasks = _held_for_update(project=project, user=user, task_ids=task_ids)
        _draft_change(project, tasks, label_ids, mode)
        Task.objects.bulk_update(tasks, ["draft"])
    return tasks


def suggestions_accept(*, project, user, task_ids) -> list[Task]:
    """The suggestions of these held tasks become their draft tags, on tasks the labeler has not tagged yet
    (a tile with tags of the labeler's own keeps them). Returns the tasks whose draft changed."""
    _require_open(project)
    task_ids = {int(t) for t in task_ids}
    if not task_ids:
        raise ValidationError("There are no suggestions to accept on this page.")
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        _ephemeral(outermost)
        tasks = _held_for_update(project=project, user=user, task_ids=task_ids)
        open_ones = [t for t in tasks if t.suggested and not t.draft]
        active = _class_ids(project) if open_ones else set()
        for task in open_ones:
            task.draft = [i for i in task.suggested if i in active]
        changed = [t for t in open_ones if t.draft]
        if changed:
            Task.objects.bulk_update(changed, ["draft"])
    return changed


def _suggestion_outcomes(todo, labels) -> tuple[dict[int, str], Counter, Counter]:
    """Per task what the labeler did with its suggestion; per class how often it was suggested and kept.

    A suggestion is accepted when the submitted tags are exactly the suggested ones, changed otherwise. Per class,
    a suggested tag counts as accepted when the submitted tags include it (in a multi-class project the same thing)."""
    outcome: dict[int, str] = {}
    suggested: Counter[int] = Counter()
    accepted: Counter[int] = Counter()
    for task in todo:
        if not task.suggested:
            continue
        chosen = set(labels[task.id])
        same = chosen == set(task.suggested)
        outcome[task.id] = Annotation.Suggestion.ACCEPTED if same else Annotation.Suggestion.CHANGED
        for class_id in dict.fromkeys(task.suggested):
            suggested[class_id] += 1
            accepted[class_id] += class_id in chosen
    return outcome, suggested, accepted


def _draft_change(project, tasks, label_ids, mode) -> None:
    if mode == "remove":
        for task in tasks:
            task.draft = [i for i in task.draft if i not in label_ids]
    elif project.task_type == LabelingProject.TaskType.MULTI_CLASS:
        for task in tasks:
            task.draft = list(label_ids)
    elif all(set(label_ids) <= set(task.draft) for task in tasks):
        for task in tasks:
            task.draft = [i for i in task.draft if i not in label_ids]
    else:
        for task in tasks:
            task.draft = task.draft + [i for i in label_ids if i not in task.draft]


@transaction.atomic
def page_submit(*, project, user, labels: dict[int, list[int]], classes: list[LabelClass] | None = None) -> int:
    """Save the page's tags as Annotations and move the tasks to LABELED; returns how many were saved.

    Idempotent: tasks this labeler already submitted are left alone, so a repeated POST changes
    nothing. Tasks the labeler no longer holds refuse the whole page with LeaseLost. `classes`: the
    project's active label classes when the caller has just read them (the grid view), else read here.
    """
    _require_open(project)
    labels = {int(t): [int(i) for i in ids] for t, ids in labels.items()}
    if not labels:
        raise ValidationError("There is nothing to submit on this page.")
    tasks = list(
        Task.objects.select_for_update()
        .filter(project=project, id__in=labels)
        .annotate(live=lease_live())
        .order_by("id")
    )
    now = timezone.now()
    done = {t.id for t in tasks if t.state != State.UNLABELED and t.labeled_by_id == user.id}
    todo = [
        t for t in tasks if t.id not in done and t.state == State.UNLABELED and t.leased_to_id == user.id and t.live
    ]
    lost = set(labels) - done - {t.id for t in todo}
    if lost:
        raise LeaseLost(lost)
    if not todo:
        return 0
    class_ids = {c.id for c in classes} if classes is not None else _class_ids(project)
    multiclass = project.task_type == LabelingProject.TaskType.MULTI_CLASS
    for task in todo:
        chosen = labels[task.id]
        if not chosen:
            raise ValidationError("Every image on the page needs a tag before you submit.")
        if not set(chosen) <= set(class_ids):
            raise ValidationError("A tag does not belong to this project.")
        if multiclass and len(set(chosen)) != 1:
            raise ValidationError("A multi-class image takes exactly one tag.")
    ids = [t.id for t in todo]
    # A task back from review may still carry current tags: retire them and their counts. Only tasks
    # that were ever changed can have any, so a first labeling pays no query for this.
    through = Annotation.labels.through
    retired: Counter = Counter()
    touched = [t.id for t in todo if t.version > 0 or t.labeled_at is not None]
    current = (
        list(Annotation.objects.filter(task_id__in=touched, is_current=True).values_list("id", flat=True))
        if touched
        else []
    )
    if current:
        for class_id in through.objects.filter(annotation_id__in=current).values_list("labelclass_id", flat=True):
            retired[class_id] -= 1
        Annotation.objects.filter(id__in=current).update(is_current=False)
    outcome, suggested, accepted = _suggestion_outcomes(todo, labels)
    annotations = Annotation.objects.bulk_create(
        [
            Annotation(
                task=t,
                source=Annotation.Source.LABELER,
                created_by=user,
                suggestion=outcome.get(t.id, Annotation.Suggestion.NONE),
            )
            for t in todo
        ]
    )
    added: Counter = Counter()
    rows = []
    for annotation in annotations:
        for class_id in dict.fromkeys(labels[annotation.task_id]):
            rows.append(through(annotation_id=annotation.id, labelclass_id=class_id))
            added[class_id] += 1
    through.objects.bulk_create(rows)
    if outcome:  # only a page that carried suggestions pays for recording them
        offered = {t.id: t.suggested for t in todo}
        Annotation.suggested_labels.through.objects.bulk_create(
            [
                Annotation.suggested_labels.through(annotation_id=a.id, labelclass_id=class_id)
                for a in annotations
                if a.task_id in outcome
                for class_id in dict.fromkeys(offered[a.task_id])
            ]
        )
    Task.objects.filter(id__in=ids).update(
        state=State.LABELED,
        labeled_by=user,
        labeled_at=now,
        version=F("version") + 1,
        leased_to=None,
        lease_expires=None,
        draft=[],
        suggested=[],
    )
    added.update(retired)
    _prelabels_drop(ids)  # a submitted label replaces any imported suggestion
    (
        stats.Tally(project.id)
        .tasks_moved(Counter({(State.UNLABELED, State.LABELED): len(ids)}))
        .labels_changed(added)
        .suggestions_counted(suggested, accepted)
        .labeler_counted(user.id, labeled=len(ids))
        .activity_counted(len(ids), now)
        .save()
    )
    return len(ids)


@transaction.atomic
def task_skip(*, project, user, task) -> None:
    """Set a held task aside for a manager; it leaves the labeling pool."""
    _require_open(project)
    (task,) = _held_for_update(project=project, user=user, task_ids={task.id})
    Task.objects.filter(id=task.id).update(
        state=State.SKIPPED,
        leased_to=None,
        lease_expires=None,
        draft=[],
        suggested=[],
        version=F("version") + 1,
        labeled_by=user,
        labeled_at=timezone.now(),
    )
    stats.Tally(project.id).tasks_moved(Counter({(State.UNLABELED, State.SKIPPED): 1})).labeler_counted(
        user.id, skipped=1
    ).save()


@transaction.atomic
def grid_layout_set(*, project, user, page_size: int) -> None:
    """Remember the labeler's page size and give back the images of their page that carry no tag yet.

    Tagged images stay held with their tags: the next page shows them first (a smaller page shows the rest
    after a Submit), and the untagged places are filled from the pool again."""
    if page_size not in GridPreference.PAGE_SIZES:
        raise ValidationError(f"Choose one of {', '.join(map(str, GridPreference.PAGE_SIZES))} images per page.")
    GridPreference.objects.update_or_create(user=user, defaults={"page_size": page_size})
    tasks_release(project=project, user=user, keep_tagged=True)


SYNC_BATCH_SIZE = 10_000
ORDER_KEY_MAX = 2**31 - 1


def _task_insert_columns(project_id: int) -> tuple[list[str], list[str], list]:
    """Columns, SQL expressions and parameters for INSERT … SELECT of new tasks from data items.

    Built from the model so a field added later is filled with its default (or NULL) without
    touching this code. The expression `i.id` is the item; order_key is random per row.
    """
    if connection.vendor == "postgresql":
        random_expr = f"floor(random() * {ORDER_KEY_MAX})::integer"
        ml_expr = f"({ML_UNORDERED} + floor(random() * {ORDER_KEY_MAX}))::bigint"
    else:  # SQLite; "%%" is a literal % once the parameters are substituted
        random_expr = f"abs(random() %% {ORDER_KEY_MAX})"
        ml_expr = f"({ML_UNORDERED} + abs(random() %% {ORDER_KEY_MAX}))"
    columns, exprs, params = [], [], []
    values: list
    for field in Task._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.name == "project":
            expr, values = "%s", [project_id]
        elif field.name == "item":
            expr, values = "i.id", []
        elif field.name == "state":
            expr, values = "%s", [Task.State.UNLABELED.value]
        elif field.name == "order_key":
            expr, values = random_expr, []
        elif field.name == "ml_order":  # after every task ML assist has ordered, shuffled among themselves
            expr, values = ml_expr, []
        elif field.name == "created_at":
            expr, values = "%s", [field.get_db_prep_save(timezone.now(), connection)]
        elif field.null:
            expr, values = "NULL", []
        elif field.has_default():
            expr, values = "%s", [field.get_db_prep_save(field.get_default(), connection)]
        else:
            continue  # a database default fills it
        columns.append(connection.ops.quote_name(cast(str, field.column)))  # a concrete field has a column
        exprs.append(expr)
        params.extend(values)
    return columns, exprs, params


def _sync_batch(project_id: int, after_item_id: int) -> tuple[int, int | None]:
    """Create the missing tasks for the next batch of READY items; (created, last item id or None).

    One INSERT … SELECT … ON CONFLICT DO NOTHING per batch: the database skips (project, item)
    pairs that already have a task and tells how many rows it really inserted.
    """
    with transaction.atomic():
        # The project row lock serializes syncs of one project (and archiving), so counters move
        # by exactly the rows this batch inserted.
        project = LabelingProject.objects.select_for_update().filter(pk=project_id).first()
        if project is None or project.state == LabelingProject.State.ARCHIVED:
            return 0, None
        ready = DataItem.objects.filter(dataset_id=project.dataset_id, state=DataItem.State.READY, pk__gt=after_item_id)
        upper = ready.order_by("pk").values_list("pk", flat=True)[SYNC_BATCH_SIZE - 1 : SYNC_BATCH_SIZE].first()
        columns, exprs, params = _task_insert_columns(project_id)
        sql = (
            f"INSERT INTO {connection.ops.quote_name(Task._meta.db_table)} ({', '.join(columns)}) "
            f"SELECT {', '.join(exprs)} FROM {connection.ops.quote_name(DataItem._meta.db_table)} i "
            f"WHERE i.dataset_id = %s AND i.state = %s AND i.id > %s"
            + (" AND i.id <= %s" if upper is not None else "")
            # The anti-join lets a re-sync of a big project skip existing pairs in bulk; ON CONFLICT
            # still covers a pair inserted concurrently (so the rowcount stays exact).
            + f" AND NOT EXISTS (SELECT 1 FROM {connection.ops.quote_name(Task._meta.db_table)} t"
            " WHERE t.project_id = %s AND t.item_id = i.id)"
            " ON CONFLICT DO NOTHING"
        )
        params += [project.dataset_id, DataItem.State.READY.value, after_item_id]
        params += ([upper] if upper is not None else []) + [project_id]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            created = max(cursor.rowcount, 0)
        if created:
            stats.tasks_moved(project_id=project_id, moves=Counter({(None, Task.State.UNLABELED.value): created}))
        return created, upper


def project_tasks_sync(*, project: LabelingProject) -> int:
    """One task per READY item of the project's dataset, created in batches; idempotent.

    Then an Initializing project becomes Running. Returns how many tasks were created.
    """
    created = 0
    after: int | None = 0
    while after is not None:
        n, after = _sync_batch(project.pk, after)
        created += n
    LabelingProject.objects.filter(pk=project.pk, state=LabelingProject.State.INITIALIZING).update(
        state=LabelingProject.State.RUNNING
    )
    return created


@transaction.atomic
def project_missing_items_withdraw(*, project: LabelingProject) -> int:
    """Items gone from storage, or refused because their key could address another object, are no longer
    served: their unlabeled tasks leave the queue.

    Tasks without any annotation are deleted (a refresh that finds the file again recreates them);
    ones with history become Skipped so that history stays. Labeled and approved tasks keep their
    tags (the labels were made on the image while it existed). Returns how many tasks left the queue.

    Set-based: each step is one statement over a subquery, whatever the number of missing items, and
    the counters move by the rows each statement really changed. Every statement repeats
    `state = unlabeled` on the task itself, so a task a labeler submits meanwhile is left alone.
    """
    LabelingProject.objects.select_for_update().filter(pk=project.pk).first()
    gone = Task.objects.filter(
        project=project, state=State.UNLABELED, item__state__in=(DataItem.State.MISSING, DataItem.State.REFUSED)
    )
    history = Exists(Annotation.objects.filter(task=OuterRef("pk")))
    skipped = Task.objects.filter(state=State.UNLABELED, pk__in=gone.filter(history).values("pk")).update(
        state=State.SKIPPED, leased_to=None, lease_expires=None, draft=[], version=F("version") + 1
    )
    deleted = _tasks_delete(gone.filter(~history).values("pk"))
    moves = Counter({(State.UNLABELED.value, State.SKIPPED.value): skipped, (State.UNLABELED.value, None): deleted})
    stats.tasks_moved(project_id=project.pk, moves=+moves)
    return skipped + deleted


def _tasks_delete(ids) -> int:
    """Delete unlabeled tasks without annotations (`ids`: a queryset of their pks) and their pre-labels.

    Plain DELETEs over the subquery: the ORM's delete() would first load every task to cascade by hand.
    Such tasks carry nothing else (annotations, reviews and review leases come only with labels).
    """
    q = connection.ops.quote_name
    table, links, prelabels = (
        q(Task._meta.db_table),
        q(PreLabel.labels.through._meta.db_table),
        q(PreLabel._meta.db_table),
    )
    sql, params = ids.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {links} WHERE prelabel_id IN (SELECT id FROM {prelabels} WHERE task_id IN ({sql}))", params
        )
        cursor.execute(f"DELETE FROM {prelabels} WHERE task_id IN ({sql})", params)
        cursor.execute(f"DELETE FROM {table} WHERE state = %s AND id IN ({sql})", [State.UNLABELED.value, *params])
        return max(cursor.rowcount, 0)


@transaction.atomic
def label_class_remove(*, project: LabelingProject, label_class: LabelClass, requeue: bool, actor) -> int:
    """Take a class out of the project's choices.

    requeue=False keeps existing tags (the class stays on those annotations, marked removed);
    requeue=True sends every task whose current annotation carries it back to the queue: the
    annotation stops being current (history is kept) and the task is Unlabeled again.
    Returns the number of tasks sent back.
    """
    if not actor.has_perm("projects.delete_labelclass", project):
        raise Refused("You need the permission to remove label classes.")
    if label_class.project_id != project.pk:
        raise Conflict("That label class belongs to another project.")
    LabelingProject.objects.select_for_update().filter(pk=project.pk).first()
    label_class = LabelClass.objects.select_for_update().get(pk=label_class.pk)
    if label_class.removed_at is not None:
        raise Conflict("That label class was already removed.")
    active = list(LabelClass.objects.filter(project=project).active().exclude(pk=label_class.pk))
    if len(active) < 2:
        raise Conflict("A project keeps at least two label classes.")
    requeued = _requeue_tasks_with_class(project, label_class) if requeue else 0
    label_class.removed_at = timezone.now()
    label_class.position = LabelClass.REMOVED_POSITION
    label_class.save(update_fields=["removed_at", "position"])
    label_classes_renumber(project=project, ordered=active)
    return requeued


REQUEUE_TABLE = "labelsite_requeue"


def _requeue_tasks_with_class(project: LabelingProject, label_class: LabelClass) -> int:
    """Every task whose current annotation carries the class goes back to the queue, in set-based statements.

    The (annotation, task) pairs are gathered once into a temporary table by INSERT … SELECT, so every
    later statement works on exactly the same set without a list of ids passing through Python (a
    popular class of a huge project would otherwise build a statement with millions of parameters).
    On PostgreSQL the tasks are then locked, and pairs whose annotation stopped being current before
    the lock (a review decided meanwhile) are dropped: the counters move by exactly what changes.
    """
    q = connection.ops.quote_name
    pairs = q(REQUEUE_TABLE)
    through = Annotation.labels.through
    carrying = Annotation.objects.filter(task__project=project, is_current=True, labels=label_class).values(
        "pk", "task_id"
    )
    sql, params = carrying.query.sql_with_params()
    annotation_ids, task_ids = (RawSQL(f"SELECT {column} FROM {pairs}", []) for column in ("annotation_id", "task_id"))
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {pairs} (annotation_id bigint PRIMARY KEY, task_id bigint NOT NULL)")
        cursor.execute(f"INSERT INTO {pairs} (annotation_id, task_id) {sql}", params)
        if connection.vendor == "postgresql":  # SQLite's IMMEDIATE transaction already keeps writers out
            locked = Task.objects.filter(pk__in=task_ids).order_by("pk").select_for_update().values("pk")
            lock_sql, lock_params = locked.query.sql_with_params()
            cursor.execute(f"SELECT count(*) FROM ({lock_sql}) locked", lock_params)
            cursor.execute(
                f"DELETE FROM {pairs} WHERE annotation_id NOT IN "
                f"(SELECT id FROM {q(Annotation._meta.db_table)} WHERE id IN (SELECT annotation_id FROM {pairs}) "
                "AND is_current)"
            )
        moves = Counter(
            {
                (row["state"], State.UNLABELED.value): row["n"]
                for row in Task.objects.filter(pk__in=task_ids).values("state").annotate(n=Count("pk")).order_by()
            }
        )
        classes = Counter(
            {
                row["labelclass_id"]: -row["n"]
                for row in through.objects.filter(annotation_id__in=annotation_ids)
                .values("labelclass_id")
                .annotate(n=Count("pk"))
                .order_by()
            }
        )
        requeued = Task.objects.filter(pk__in=task_ids).update(
            state=State.UNLABELED,
            leased_to=None,
            lease_expires=None,
            labeled_by=None,
            labeled_at=None,
            draft=[],
            version=F("version") + 1,
        )
        Annotation.objects.filter(pk__in=annotation_ids).update(is_current=False)
        cursor.execute(f"DROP TABLE {pairs}")
    moves.pop((State.UNLABELED.value, State.UNLABELED.value), None)
    stats.Tally(project.pk).tasks_moved(moves).labels_changed(classes).save()
    return requeued


# ---- ML assist's writes (the `assist` app computes; these write, set-based, one batch per call) ----------------


@transaction.atomic
def prelabels_model_write(*, project: LabelingProject, suggestions: dict[int, tuple[list[int], float]]) -> int:
    """Put a model's suggestions (task id -> (label class ids, confidence)) on tasks that are still unlabeled,
    replacing the model's earlier ones; returns how many were written.

    Labeled, approved and skipped tasks never get one (their rows are locked and read in this transaction, so a
    submit either came first and the task is skipped here, or comes after and drops the suggestion as usual).
    Imported suggestions are a person's: the model never replaces them. A constant number of statements per call.
    """
    open_ids = list(
        Task.objects.select_for_update()
        .filter(project=project, id__in=list(suggestions), state=State.UNLABELED)
        .values_list("id", flat=True)
    )
    imported = set(
        PreLabel.objects.filter(task_id__in=open_ids)
        .exclude(source=PreLabel.Source.MODEL)
        .values_list("task_id", flat=True)
    )
    targets = [task_id for task_id in open_ids if task_id not in imported and suggestions[task_id][0]]
    if not targets:
        return 0
    _prelabels_drop(targets)
    created = PreLabel.objects.bulk_create(
        [
            PreLabel(task_id=task_id, source=PreLabel.Source.MODEL, confidence=suggestions[task_id][1])
            for task_id in targets
        ]
    )
    through = PreLabel.labels.through
    through.objects.bulk_create(
        [
            through(prelabel_id=prelabel.pk, labelclass_id=class_id)
            for prelabel in created
            for class_id in dict.fromkeys(suggestions[prelabel.task_id][0])
        ]
    )
    return len(created)


def prelabels_model_clear(*, project: LabelingProject, before=None) -> int:
    """Delete the model's suggestions on the project's tasks (only those made before `before`, when given: what
    a newer run did not renew). Two plain DELETEs over a subquery, whatever their number."""
    stale = PreLabel.objects.filter(task__project=project, source=PreLabel.Source.MODEL)
    if before is not None:
        stale = stale.filter(created_at__lt=before)
    sql, params = stale.values("pk").query.sql_with_params()
    q = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {q(PreLabel.labels.through._meta.db_table)} WHERE prelabel_id IN ({sql})", params)
        cursor.execute(f"DELETE FROM {q(PreLabel._meta.db_table)} WHERE id IN ({sql})", params)
        return max(cursor.rowcount, 0)


def tasks_ml_order_set(*, project: LabelingProject, orders: list[tuple[int, int]]) -> int:
    """Write ML assist's claim order (task id, key) for a batch of the project's tasks in one UPDATE … FROM VALUES
    (PostgreSQL and SQLite both name the VALUES columns column1, column2). Keys must stay below ML_UNORDERED."""
    if not orders:
        return 0
    if any(not 0 <= key < ML_UNORDERED for _, key in orders):
        raise ValidationError("An ML order key is out of range.")
    q = connection.ops.quote_name
    table = q(Task._meta.db_table)
    rows = ", ".join(["(%s, %s)"] * len(orders))
    params = [value for pair in orders for value in (int(pair[0]), int(pair[1]))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET ml_order = v.column2 FROM (VALUES {rows}) AS v "
            f"WHERE {table}.id = v.column1 AND {table}.project_id = %s",
            [*params, project.pk],
        )
        return max(cursor.rowcount, 0)
