"""`bench/run.py --filters`: the labeled-data filters and the API's item-state filter on realistic data.

On top of `bench/run.py`'s enriched project this generates, with bulk SQL, what a reviewed project
holds: 1 % of the tasks rejected once (60 % of them labeled again since, the rest back in the queue
without a labeling time), an approved review for every approved task, a second class on 40 % of the
labeled tasks and a rare one on 0.1 % of all tasks, and among the dataset's items 1 % non-images
(skipped) and 20 unreadable files scattered through the key order. A second project of the same
size, in a workspace of its own, has only 0.01 % of its tasks rejected (few rejections in a database
that holds many) and its third class on 1 % of the tasks. The finished projects (every task labeled,
every task approved) get the same reviews, every rejected task labeled again, and a fourth class on
1 % of the tasks beside the rare one; their pages add the review-state filters. Shares never go below a
few pages' worth (40 tasks, 120 items), so that small sizes show full pages too. Deep pages start after
the row halfway down the filtered order (found untimed).
"""

from __future__ import annotations

import grid
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.pagination import Cursor as ItemCursor

from labeling.models import Task
from labeling.stats import stats_rebuild
from projects.api import ItemPagination
from projects.models import LabelClass, Membership
from projects.tenancy.roles import MANAGER
from review.models import Review
from review.selectors import LabeledFilters, labeled_page

OPERATIONS = [
    ("rejected", "labeled data, rejected before (1 % of tasks), page 1", 50),
    ("rejected_deep", "labeled data, rejected before (1 %), deep page", 50),
    ("rejected_few", "labeled data, rejected before (0.01 % of tasks), page 1", 50),
    ("rejected_few_deep", "labeled data, rejected before (0.01 %), deep page", 50),
    ("rare_class", "labeled data, class on 0.1 % of tasks, page 1", 50),
    ("rare_class_deep", "labeled data, class on 0.1 %, deep page", 50),
    ("some_class", "labeled data, class on 1 % of tasks, page 1", 50),
    ("some_class_deep", "labeled data, class on 1 %, deep page", 50),
    ("items_rare", "API items ?state=unreadable (20 items), page 1", 50),
    ("items_rare_deep", "API items ?state=unreadable, deep page", 50),
    ("items_skipped", "API items ?state=skipped (1 % of items), page 1", 50),
    ("items_skipped_deep", "API items ?state=skipped, deep page", 50),
    ("awaiting", "labeled data, awaiting review, page 1", 50),
    ("approved", "labeled data, approved, page 1", 50),
]
FINISHED_CLASSES = ("cat", "dog", "bird", "fish")
REJECTED, FEW_REJECTED, RARE_CLASS, SOME_CLASS, SECOND_CLASS = 0.01, 0.0001, 0.001, 0.01, 0.4
SKIPPED_ITEMS, UNREADABLE_ITEMS = 0.01, 20


def _count(size: int, share: float, least: int = 40) -> int:
    """A share of `size`, but never fewer than a few pages' worth, so that every size's page shows as
    many tiles (at 1,000 tasks a share can round down to one task)."""
    return max(least, round(size * share))


def reviews_generate(project, reviewer, *, rejected: float, relabeled: float = 0.6) -> None:
    """Reject a share of the labeled tasks once (a `relabeled` share of them labeled again since, the rest back
    in the queue), then approve every approved task (as reviewers would have)."""
    if Review.objects.filter(task__project=project).exists():
        return
    n = _count(Task.objects.filter(project=project).count(), rejected)
    cat = LabelClass.objects.filter(project=project).order_by("position").values_list("id", flat=True)[0]
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute("DROP TABLE IF EXISTS bench_rejected")
        cursor.execute(
            """CREATE TEMP TABLE bench_rejected AS
               SELECT t.id AS task_id, a.id AS annotation_id, t.version, t.labeled_at AS rejected_at, false AS relabeled
               FROM labeling_task t JOIN labeling_annotation a ON a.task_id = t.id AND a.is_current
               WHERE t.project_id = %s AND t.state IN ('labeled', 'approved') ORDER BY random() LIMIT %s""",
            [project.id, n],
        )
        # Drawn apart from the ORDER BY random() above, which PostgreSQL would reuse for them.
        cursor.execute(
            """UPDATE bench_rejected SET relabeled = random() < %s,
                                 rejected_at = rejected_at + random() * (now() - rejected_at)""",
            [relabeled],
        )
        cursor.execute(
            """INSERT INTO review_review (task_id, annotation_id, decision, reason, task_version, reviewer_id, created_at)
               SELECT task_id, annotation_id, 'rejected', 'Wrong class', version, %s, rejected_at FROM bench_rejected""",
            [reviewer.id],
        )
        cursor.execute("""UPDATE labeling_annotation SET is_current = false
                          WHERE id IN (SELECT annotation_id FROM bench_rejected)""")
        cursor.execute(
            "UPDATE labeling_task SET rejected_before = true WHERE id IN (SELECT task_id FROM bench_rejected)"
        )
        # Labeled again since: a new current annotation and a new labeling time.
        cursor.execute(
            """UPDATE labeling_task t SET version = r.version + 2,
                      labeled_at = r.rejected_at + random() * (now() - r.rejected_at)
               FROM bench_rejected r WHERE t.id = r.task_id AND r.relabeled"""
        )
        cursor.execute(
            """INSERT INTO labeling_annotation (task_id, source, is_current, created_by_id, created_at)
               SELECT t.id, 'labeler', true, t.labeled_by_id, t.labeled_at
               FROM labeling_task t JOIN bench_rejected r ON r.task_id = t.id WHERE r.relabeled"""
        )
        cursor.execute(
            """INSERT INTO labeling_annotation_labels (annotation_id, labelclass_id)
               SELECT a.id, %s FROM labeling_annotation a JOIN bench_rejected r ON r.task_id = a.task_id
               WHERE r.relabeled AND a.is_current""",
            [cat],
        )
        # Still in the queue: what a reject leaves (no labeler, no labeling time).
        cursor.execute(
            """UPDATE labeling_task t SET state = 'unlabeled', version = r.version + 1, labeled_by_id = NULL,
                      labeled_at = NULL
               FROM bench_rejected r WHERE t.id = r.task_id AND NOT r.relabeled"""
        )
        cursor.execute(
            """INSERT INTO review_review (task_id, annotation_id, decision, reason, task_version, reviewer_id, created_at)
               SELECT t.id, a.id, 'approved', '', t.version, %s, t.labeled_at + random() * (now() - t.labeled_at)
               FROM labeling_task t JOIN labeling_annotation a ON a.task_id = t.id AND a.is_current
               WHERE t.project_id = %s AND t.state = 'approved'""",
            [reviewer.id, project.id],
        )
        cursor.execute("DROP TABLE bench_rejected")
        stats_rebuild(project=project)


def classes_generate(project, *, rare: float, some: float = 0.0) -> list[LabelClass]:
    """Retag current annotations: the second class on 40 % of the labeled tasks, the third on a `rare` share of
    all tasks and, when the project has a fourth, that one on a `some` share; returns the third and fourth."""
    cat, dog, *others = LabelClass.objects.filter(project=project).order_by("position")
    size = Task.objects.filter(project=project).count()
    labeled = Task.objects.filter(project=project, state__in=("labeled", "approved")).count()
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            """SELECT count(*) FROM labeling_annotation_labels l JOIN labeling_annotation a ON a.id = l.annotation_id
               JOIN labeling_task t ON t.id = a.task_id WHERE t.project_id = %s AND l.labelclass_id = %s""",
            [project.id, others[0].id],
        )
        if cursor.fetchone()[0]:
            return others
        counts = [round(labeled * SECOND_CLASS), _count(size, rare), _count(size, some)]
        # A project without a fourth class takes only the first two counts.
        for label, count in zip([dog, *others], counts, strict=False):
            cursor.execute(
                """UPDATE labeling_annotation_labels SET labelclass_id = %s WHERE id IN (
                       SELECT l.id FROM labeling_annotation_labels l
                       JOIN labeling_annotation a ON a.id = l.annotation_id AND a.is_current
                       JOIN labeling_task t ON t.id = a.task_id
                       WHERE t.project_id = %s AND l.labelclass_id = %s
                       ORDER BY random() LIMIT %s)""",
                [label.id, project.id, cat.id, count],
            )
        stats_rebuild(project=project)
    return others


def items_generate(dataset, size: int) -> None:
    """Files a scan registers but never makes tasks of: non-images (skipped) and a few unreadable ones."""
    if dataset.items.exclude(state="ready").exists():
        return
    with connection.cursor() as cursor, transaction.atomic():
        cursor.execute(
            """INSERT INTO projects_dataitem (uuid, dataset_id, key, state, reason, image_format, thumbnail, created_at)
               SELECT gen_random_uuid(), %s, 'img/' || g || '.txt', 'skipped', 'Not an image', '', '', now()
               FROM generate_series(1, %s) AS g""",
            [dataset.id, _count(size, SKIPPED_ITEMS, least=120)],
        )
        # Scattered through the key order (img/<n>-broken.jpg sorts beside img/<n>.jpg).
        cursor.execute(
            """INSERT INTO projects_dataitem (uuid, dataset_id, key, state, reason, image_format, thumbnail, created_at)
               SELECT gen_random_uuid(), %s, 'img/' || (g * %s / %s) || '-broken.jpg', 'unreadable',
                      'Cannot read the image header', '', '', now()
               FROM generate_series(1, %s) AS g""",
            [dataset.id, size, UNREADABLE_ITEMS + 1, UNREADABLE_ITEMS],
        )


def analyze() -> None:
    with connection.cursor() as cursor:
        for table in (
            "labeling_task",
            "labeling_annotation",
            "labeling_annotation_labels",
            "review_review",
            "projects_dataitem",
        ):
            cursor.execute(f"ANALYZE {table}")


def _labeled_halfway(project, filters) -> str:
    """Untimed: the cursor token of the matching task halfway down the filtered order."""
    everything = labeled_page(project=project, filters=filters, classes=[], size=10**6)
    assert everything.next_cursor is None and everything.tasks, filters
    middle = labeled_page(project=project, filters=filters, classes=[], size=max(1, len(everything.tasks) // 2))
    return middle.next_cursor.token if middle.next_cursor else ""


def _items_halfway(dataset, state: str, url: str) -> str:
    keys = list(dataset.items.filter(state=state).order_by("key").values_list("key", flat=True))
    paginator = ItemPagination()
    paginator.base_url = url
    return paginator.encode_cursor(ItemCursor(offset=0, reverse=False, position=keys[len(keys) // 2]))


def _review_url(project) -> str:
    ws = project.workspace
    return reverse("review:labeled", kwargs={"org": ws.organization.slug, "ws": ws.slug, "project": project.uuid})


def _labeled_urls(urls: dict) -> dict[str, str]:
    """key -> (project, query, filters) made into the page-1 and deep-page URLs of each filter."""
    found = {}
    for key, (project, query, filters) in urls.items():
        found[key] = f"{_review_url(project)}?{query}"
        found[f"{key}_deep"] = f"{_review_url(project)}?{query}&after={_labeled_halfway(project, filters)}"
    return found


def pages(suite, manager, enrich) -> dict[str, str]:
    """Set up the data (once per database) and return the filtered pages' URLs by operation key.
    `enrich` is run.py's: it gives a generated project's labeled tasks a labeler, a time and a class."""
    if suite.kind != "partial":
        return _finished_pages(suite, manager)
    project, size = suite.project, suite.size
    ws = project.workspace
    reviews_generate(project, manager, rejected=REJECTED)
    (bird,) = classes_generate(project, rare=RARE_CLASS)
    items_generate(project.dataset, size)
    # Few rejections: a project of its own, in a workspace of its own so the project list stays the same.
    few = grid.ensure_project(size, name=f"bench-{size}-few-rejections", ws_slug="filters")
    enrich(few, grid.labeler(few.workspace, "bench-labeler-history"))
    reviews_generate(few, manager, rejected=FEW_REJECTED)
    (few_bird,) = classes_generate(few, rare=SOME_CLASS)
    Membership.objects.get_or_create(
        workspace=few.workspace, user=manager, defaults={"group": Group.objects.get(name=MANAGER)}
    )
    analyze()
    suite.few = few
    found = _labeled_urls(
        {
            "rejected": (project, "state=rejected", LabeledFilters(state="rejected")),
            "rejected_few": (few, "state=rejected", LabeledFilters(state="rejected")),
            "rare_class": (project, f"class={bird.name}", LabeledFilters(label_class=bird)),
            "some_class": (few, f"class={few_bird.name}", LabeledFilters(label_class=few_bird)),
        }
    )
    items = reverse(
        "api-dataset-items", kwargs={"org": ws.organization.slug, "ws": ws.slug, "dataset": project.dataset.uuid}
    )
    for key, state in (("items_rare", "unreadable"), ("items_skipped", "skipped")):
        found[key] = f"{items}?state={state}"
        found[f"{key}_deep"] = _items_halfway(project.dataset, state, found[key])
    return found


def _finished_pages(suite, manager) -> dict[str, str]:
    """A project with every task labeled or approved: rejections all labeled again, classes on 0.1 % and 1 %."""
    project = suite.project
    reviews_generate(project, manager, rejected=REJECTED, relabeled=1.0)
    bird, fish = classes_generate(project, rare=RARE_CLASS, some=SOME_CLASS)
    analyze()
    found = _labeled_urls(
        {
            "rejected": (project, "state=rejected", LabeledFilters(state="rejected")),
            "rare_class": (project, f"class={bird.name}", LabeledFilters(label_class=bird)),
            "some_class": (project, f"class={fish.name}", LabeledFilters(label_class=fish)),
        }
    )
    # One of these finds nothing in a finished project: the walk must stop at once, not scan the project.
    found["awaiting"] = f"{_review_url(project)}?state=awaiting"
    found["approved"] = f"{_review_url(project)}?state=approved"
    return found


def plans(suite, client) -> str:
    """PostgreSQL's plans of the filtered pages' main queries (task segments, item page) at this size."""
    out = []
    for key in (
        "rejected_deep",
        "rejected_few",
        "rejected_few_deep",
        "rare_class",
        "rare_class_deep",
        "some_class",
        "some_class_deep",
        "items_rare",
        "items_skipped_deep",
        "awaiting",
        "approved",
    ):
        if key not in suite.pages:
            continue
        with CaptureQueriesContext(connection) as queries:
            assert client.get(suite.pages[key]).status_code == 200
        table = '"projects_dataitem"' if key.startswith("items") else '"labeling_task"'
        for sql in [q["sql"] for q in queries if f"FROM {table}" in q["sql"] and "LIMIT" in q["sql"]]:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) " + sql)
                out.append(f"-- {key}\n" + "\n".join(row[0] for row in cursor.fetchall()))
    return "\n".join(out)
