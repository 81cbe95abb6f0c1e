# PostgreSQL, without blocking labelers: validate the task checks 0008 added NOT VALID (VALIDATE CONSTRAINT
# scans under a SHARE UPDATE EXCLUSIVE lock, writes go on), then build the one-current-annotation unique index
# CONCURRENTLY (which cannot run inside a transaction, hence atomic = False). A build that failed half-way
# leaves an invalid index: it is dropped and built again. SQLite checked the rules when 0008 rebuilt the
# table, and builds the (partial, unique) index in the usual way.

from django.db import migrations, models

CHECKS = ["task_lease_whole", "task_lease_in_pool", "task_labeled_when", "task_labeler_when"]
CURRENT = models.UniqueConstraint(condition=models.Q(('is_current', True)), fields=('task',), name='uniq_current_annotation')


def validate_checks(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in CHECKS:
            schema_editor.execute(f"ALTER TABLE labeling_task VALIDATE CONSTRAINT {name}")


def current_annotation_index(apps, schema_editor):
    annotation = apps.get_model("labeling", "Annotation")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.add_constraint(annotation, CURRENT)
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [CURRENT.name])
        found = cursor.fetchone()
    if found and found[0]:
        return
    if found:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY {CURRENT.name}")
    schema_editor.execute(
        f"CREATE UNIQUE INDEX CONCURRENTLY {CURRENT.name} ON labeling_annotation (task_id) WHERE is_current"
    )


def current_annotation_index_drop(apps, schema_editor):
    schema_editor.remove_constraint(apps.get_model("labeling", "Annotation"), CURRENT)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('labeling', '0008_task_and_annotation_constraints'),
    ]

    operations = [
        migrations.RunPython(validate_checks, migrations.RunPython.noop),
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(current_annotation_index, current_annotation_index_drop)],
            state_operations=[migrations.AddConstraint(model_name='annotation', constraint=CURRENT)],
        ),
    ]
