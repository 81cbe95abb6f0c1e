# Suggestions (pre-labels) kept apart from the labeler's own tags: the suggestion a held task offers, what a
# submitted annotation did with its suggestion, and per-class counters of suggested and accepted tags. Every new
# column has a database default, so adding it rewrites no table on PostgreSQL.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0012_labelercount_imported'),
        ('projects', '0012_tenant_model_base'),
    ]

    operations = [
        migrations.AddField(
            model_name='annotation',
            name='suggested_labels',
            field=models.ManyToManyField(blank=True, related_name='+', to='projects.labelclass'),
        ),
        migrations.AddField(
            model_name='annotation',
            name='suggestion',
            field=models.CharField(choices=[('none', 'No suggestion'), ('accepted', 'Suggestion accepted'), ('changed', 'Suggestion changed')], db_default='none', default='none', max_length=10),
        ),
        migrations.AddField(
            model_name='classcount',
            name='accepted',
            field=models.BigIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='classcount',
            name='suggested',
            field=models.BigIntegerField(db_default=0, default=0),
        ),
        migrations.AddField(
            model_name='task',
            name='suggested',
            field=models.JSONField(blank=True, db_default=models.Value([], output_field=models.JSONField()), default=list),
        ),
    ]
