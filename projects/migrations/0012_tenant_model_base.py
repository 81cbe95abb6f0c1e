# State only (sqlmigrate: no-op on SQLite and PostgreSQL): the workspace key now comes from projects.models.TenantModel,
# whose reverse name is the model's name in the plural; every reverse name stays what it was.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0011_names_unique_ignoring_case'),
    ]

    operations = [
        migrations.AlterField(
            model_name='dataset',
            name='workspace',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='%(class)ss', to='projects.workspace'),
        ),
        migrations.AlterField(
            model_name='datastore',
            name='workspace',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='%(class)ss', to='projects.workspace'),
        ),
        migrations.AlterField(
            model_name='invitation',
            name='workspace',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='%(class)ss', to='projects.workspace'),
        ),
        migrations.AlterField(
            model_name='membership',
            name='workspace',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='%(class)ss', to='projects.workspace'),
        ),
    ]
