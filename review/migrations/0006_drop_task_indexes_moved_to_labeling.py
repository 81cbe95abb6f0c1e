# The five indexes 0003 and 0004 (and 0005 after SQLite's rebuild) made on labeling's task table now belong to
# labeling (its 0010 builds the same columns and conditions under task_* names): drop review's copies, each
# once, CONCURRENTLY on PostgreSQL so claims and submits go on (hence atomic = False). Going back makes them again.

from importlib import import_module

from django.db import migrations

LABELED = import_module("review.migrations.0003_labeled_task_indexes").INDEXES
REJECTED = import_module("review.migrations.0004_task_rejected_before").INDEXES
NAMES = [*LABELED, *REJECTED]


def copies_drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in NAMES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


def copies_create(apps, schema_editor):
    for name, columns in LABELED.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON labeling_task ({columns})")
    for name, (columns, where) in REJECTED.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON labeling_task ({columns}) WHERE {where}")


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ("labeling", "0010_task_indexes_owned"),
        ("review", "0005_labeled_task_indexes_after_rebuild"),
    ]

    operations = [migrations.RunPython(copies_drop, copies_create)]
