# labeling's 0008 makes SQLite rebuild the task table, which drops the indexes review's 0003 and 0004 created
# on it with plain SQL: create them again (IF NOT EXISTS: PostgreSQL kept them, and so did a SQLite database
# where 0008 ran before those migrations).

from importlib import import_module

from django.db import migrations

LABELED = import_module("review.migrations.0003_labeled_task_indexes").INDEXES
REJECTED = import_module("review.migrations.0004_task_rejected_before").INDEXES


class Migration(migrations.Migration):

    dependencies = [
        ("labeling", "0009_validate_task_constraints"),
        ("review", "0004_task_rejected_before"),
    ]

    operations = [
        *[
            migrations.RunSQL(f"CREATE INDEX IF NOT EXISTS {name} ON labeling_task ({columns})", migrations.RunSQL.noop)
            for name, columns in LABELED.items()
        ],
        *[
            migrations.RunSQL(f"CREATE INDEX IF NOT EXISTS {name} ON labeling_task ({columns}) WHERE {where}",
                              migrations.RunSQL.noop)
            for name, (columns, where) in REJECTED.items()
        ],
    ]
