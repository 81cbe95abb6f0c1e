# The labeled-data browser's five indexes on the task table, declared by the table's owner (review's
# migrations 0003-0005 created them with plain SQL the model state did not know; review's 0006 drops those).
# PostgreSQL builds them CONCURRENTLY so upgrading a big installation does not block claims and submits
# (hence atomic = False); a build that failed half-way leaves an invalid index, which is dropped and built
# again. SQLite builds them in the usual way.

from django.db import migrations, models

INDEXES = [
    models.Index(fields=["project", "state", "labeled_at", "id"], name="task_labeled_at"),
    models.Index(fields=["project", "labeled_at", "id"], name="task_labeled_time"),
    models.Index(fields=["project", "labeled_by", "labeled_at"], name="task_labeler"),
    models.Index(fields=["project", "labeled_at", "id"], condition=models.Q(rejected_before=True),
                 name="task_rejected_time"),
    models.Index(fields=["project", "id"], condition=models.Q(rejected_before=True) & models.Q(labeled_at__isnull=True),
                 name="task_rejected_queue"),
]


def _validity(schema_editor, name):
    """True for a valid index, False for one a failed concurrent build left invalid, None when there is none."""
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
        found = cursor.fetchone()
    return found[0] if found else None


def indexes_create(apps, schema_editor):
    task = apps.get_model("labeling", "Task")
    postgresql = schema_editor.connection.vendor == "postgresql"
    for index in INDEXES:
        if not postgresql:
            schema_editor.add_index(task, index)
            continue
        valid = _validity(schema_editor, index.name)
        if valid:
            continue
        if valid is False:
            schema_editor.remove_index(task, index, concurrently=True)
        schema_editor.add_index(task, index, concurrently=True)


def indexes_drop(apps, schema_editor):
    task = apps.get_model("labeling", "Task")
    postgresql = schema_editor.connection.vendor == "postgresql"
    for index in INDEXES:
        if postgresql:
            schema_editor.remove_index(task, index, concurrently=True)
        else:
            schema_editor.remove_index(task, index)


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('labeling', '0009_validate_task_constraints'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(indexes_create, indexes_drop)],
            state_operations=[migrations.AddIndex(model_name='task', index=index) for index in INDEXES],
        ),
    ]
