# Indexes on labeling's task table for the labeled-data browser (filters by state, labeler and
# date, ordered by labeling time). They live here because review owns those reads; plain SQL that
# PostgreSQL and SQLite both accept, so labeling's model state stays untouched.

from django.db import migrations

INDEXES = {
    "review_task_labeled_at": "project_id, state, labeled_at, id",
    # "All labeled" spans two states: walk the project's tasks in time order and filter the state.
    "review_task_time": "project_id, labeled_at, id",
    "review_task_labeler": "project_id, labeled_by_id, labeled_at",
}


class Migration(migrations.Migration):

    dependencies = [
        ("labeling", "0003_counters"),
        ("review", "0002_review_lease_and_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {name} ON labeling_task ({columns})",
            f"DROP INDEX {name}",
        )
        for name, columns in INDEXES.items()
    ]
