# ML assist: the task's ML order (claims follow it when the project clusters or learns actively) and a model's
# confidence on its pre-label. The column has a database default, so PostgreSQL adds it without rewriting the table.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0013_suggestions'),
    ]

    operations = [
        migrations.AddField(
            model_name='prelabel',
            name='confidence',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='task',
            name='ml_order',
            field=models.BigIntegerField(db_default=4611686018427387904, default=4611686018427387904),
        ),
    ]
