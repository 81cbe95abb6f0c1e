# The column is added with plain SQL that PostgreSQL and SQLite both accept: Django's AddField would rebuild
# the table on SQLite and lose the indexes review's migrations add to it. On PostgreSQL a constant default
# makes this instant whatever the table's size.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0006_task_draft_grid_preference'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    "ALTER TABLE labeling_task ADD COLUMN rejected_before bool DEFAULT false NOT NULL",
                    "ALTER TABLE labeling_task DROP COLUMN rejected_before",
                ),
            ],
            state_operations=[
                migrations.AddField(
                    model_name='task',
                    name='rejected_before',
                    field=models.BooleanField(db_default=False, default=False),
                ),
            ],
        ),
    ]
