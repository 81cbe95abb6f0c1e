# The index ML-ordered claims walk. PostgreSQL builds it CONCURRENTLY so upgrading a big installation does not block
# claims and submits (hence atomic = False); a build that failed half-way leaves an invalid index, which is dropped
# and built again. SQLite builds it in the usual way.

from django.db import migrations, models

INDEX = models.Index(fields=["project", "ml_order"], condition=models.Q(state="unlabeled"), name="task_claim_ml")


def _validity(schema_editor, name):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
        found = cursor.fetchone()
    return found[0] if found else None


def index_create(apps, schema_editor):
    task = apps.get_model("labeling", "Task")
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.add_index(task, INDEX)
        return
    valid = _validity(schema_editor, INDEX.name)
    if valid:
        return
    if valid is False:
        schema_editor.remove_index(task, INDEX, concurrently=True)
    schema_editor.add_index(task, INDEX, concurrently=True)


def index_drop(apps, schema_editor):
    task = apps.get_model("labeling", "Task")
    concurrently = schema_editor.connection.vendor == "postgresql"
    schema_editor.remove_index(task, INDEX, **({"concurrently": True} if concurrently else {}))


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('labeling', '0014_ml_assist'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name='task', index=INDEX)],
            database_operations=[migrations.RunPython(index_create, index_drop)],
        ),
    ]
