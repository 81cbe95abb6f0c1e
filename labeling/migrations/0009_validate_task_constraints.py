# PostgreSQL: validate the task checks 0008 added NOT VALID. VALIDATE CONSTRAINT scans the table under a
# SHARE UPDATE EXCLUSIVE lock, so labelers keep claiming and submitting meanwhile. SQLite checked them
# when 0008 rebuilt the table.

from django.db import migrations

CHECKS = ["task_lease_whole", "task_lease_in_pool", "task_labeled_when", "task_labeler_when"]


def validate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in CHECKS:
            schema_editor.execute(f"ALTER TABLE labeling_task VALIDATE CONSTRAINT {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0008_task_and_annotation_constraints'),
    ]

    operations = [
        migrations.RunPython(validate, migrations.RunPython.noop),
    ]
