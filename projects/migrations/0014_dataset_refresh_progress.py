from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0013_notification'),
    ]

    operations = [
        migrations.AddField(
            model_name='dataset',
            name='refresh_added',
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='dataset',
            name='refresh_found',
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name='dataset',
            name='refresh_requested_at',
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
