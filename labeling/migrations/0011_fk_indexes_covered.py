# The task's project and the annotation's task need no index of their own: `task_claim` (and every other task
# index) starts with the project, `annotation_current` with the task. Each foreign key's own index is found by
# its columns and dropped (CONCURRENTLY on PostgreSQL, hence atomic = False). Not AlterField's database step:
# it drops every single-column index on the column, which would take `uniq_current_annotation` with it.

import django.db.models.deletion
from django.db import migrations, models

FIELDS = [("annotation", "task"), ("task", "project")]


def _own_indexes(schema_editor, model, column):
    """The plain single-column indexes on `column` that no Meta declares: the one db_index=True made."""
    declared = {index.name for index in model._meta.indexes}
    with schema_editor.connection.cursor() as cursor:
        found = schema_editor.connection.introspection.get_constraints(cursor, model._meta.db_table)
    return [name for name, c in found.items()
            if c["index"] and not c["unique"] and not c["primary_key"] and c["columns"] == [column]
            and c.get("type") == models.Index.suffix and name not in declared]


def fk_indexes_drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for model_name, field_name in FIELDS:
        model = apps.get_model("labeling", model_name)
        for name in _own_indexes(schema_editor, model, model._meta.get_field(field_name).column):
            schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {schema_editor.quote_name(name)}")


def fk_indexes_create(apps, schema_editor):
    for model_name, field_name in FIELDS:
        model = apps.get_model("labeling", model_name)
        schema_editor.execute(schema_editor._create_index_sql(model, fields=[model._meta.get_field(field_name)]))


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('labeling', '0010_task_indexes_owned'),
        ('projects', '0011_names_unique_ignoring_case'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(fk_indexes_drop, fk_indexes_create)],
            state_operations=[
                migrations.AlterField(
                    model_name='annotation',
                    name='task',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='annotations', to='labeling.task'),
                ),
                migrations.AlterField(
                    model_name='task',
                    name='project',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='tasks', to='projects.labelingproject'),
                ),
            ],
        ),
    ]
