"""The task table's indexes, as the migrations leave them in the database (not as Meta declares them)."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from labeling.models import Task
from review.selectors import LabeledFilters, labeled_page
from tests.factories import tasks_label, tasks_review

# Name -> columns of every non-unique index on labeling_task, each built once (review's raw-SQL copies gone).
TASK_INDEXES = {
    "task_claim": ["project_id", "state", "order_key"],
    "task_live_lease": ["project_id", "lease_expires"],
    "task_claim_oldest": ["project_id", "id"],
    "task_claim_ml": ["project_id", "ml_order"],
    "task_labeled_at": ["project_id", "state", "labeled_at", "id"],
    "task_labeled_time": ["project_id", "labeled_at", "id"],
    "task_labeler": ["project_id", "labeled_by_id", "labeled_at"],
    "task_rejected_time": ["project_id", "labeled_at", "id"],
    "task_rejected_queue": ["project_id", "id"],
}
# The partial indexes, as PostgreSQL prints them: the same columns and conditions review's raw SQL had.
PARTIAL = {
    "task_live_lease": "(project_id, lease_expires) WHERE ((lease_expires IS NOT NULL) "
    "AND ((state)::text = 'unlabeled'::text))",
    "task_claim_oldest": "(project_id, id) WHERE ((state)::text = 'unlabeled'::text)",
    "task_claim_ml": "(project_id, ml_order) WHERE ((state)::text = 'unlabeled'::text)",
    "task_rejected_time": "(project_id, labeled_at, id) WHERE rejected_before",
    "task_rejected_queue": "(project_id, id) WHERE (rejected_before AND (labeled_at IS NULL))",
}


def _indexes(table):
    with connection.cursor() as cursor:
        found = connection.introspection.get_constraints(cursor, table)
    return {name: c["columns"] for name, c in found.items() if c["index"] and not c["unique"] and not c["primary_key"]}


def _single_column(indexes):
    return {name: columns for name, columns in indexes.items() if len(columns) == 1}


def test_the_task_table_holds_each_index_once_and_none_a_composite_one_covers(db):
    indexes = _indexes("labeling_task")
    assert {name: columns for name, columns in indexes.items() if len(columns) > 1} == TASK_INDEXES
    # The foreign keys' own indexes stay where no composite index starts with their column.
    assert sorted(_single_column(indexes).values()) == [["item_id"], ["labeled_by_id"], ["leased_to_id"]]
    assert not any(name.startswith("review_") for name in indexes)


def test_the_annotation_table_has_no_task_index_beside_the_current_ones(db):
    indexes = _indexes("labeling_annotation")
    assert indexes["annotation_current"] == ["task_id", "is_current"]
    assert ["task_id"] not in _single_column(indexes).values()
    # Dropping the foreign key's index kept the one-current-annotation rule (a unique index on the same column).
    with connection.cursor() as cursor:
        unique = connection.introspection.get_constraints(cursor, "labeling_annotation")["uniq_current_annotation"]
    assert unique["unique"] and unique["columns"] == ["task_id"]


@pytest.mark.integration
def test_partial_indexes_keep_their_columns_and_conditions(db, postgres):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'labeling_task'")
        definitions = dict(cursor.fetchall())
    for name, tail in PARTIAL.items():
        assert definitions[name] == f"CREATE INDEX {name} ON public.labeling_task USING btree {tail}"


def _plan(project, filters):
    with CaptureQueriesContext(connection) as queries:
        labeled_page(project=project, filters=filters, classes=[], size=12)
    sql = next(q["sql"] for q in queries if 'FROM "labeling_task"' in q["sql"] and "LIMIT" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (COSTS OFF) " + sql)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.integration
def test_labeled_data_filters_can_be_served_by_the_task_indexes(postgres, project, labeler):
    """The partial indexes' conditions must match what the browser asks, or PostgreSQL cannot use them: with
    sequential scans priced out, the plan of each filter's query uses its index."""
    tasks = list(Task.objects.filter(project=project).order_by("pk"))
    tasks_label(project, tasks[:10], user=labeler)
    tasks_review(project, tasks[6:10], decision="reject")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE labeling_task")
    assert re.search(r"(using|on) task_rejected_(time|queue)\b", _plan(project, LabeledFilters(state="rejected")))
    assert re.search(r"(using|on) task_labeler\b", _plan(project, LabeledFilters(labeler=labeler)))
