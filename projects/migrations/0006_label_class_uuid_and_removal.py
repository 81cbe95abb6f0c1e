import uuid

from django.db import migrations, models


def fill_uuids(apps, schema_editor):
    LabelClass = apps.get_model("projects", "LabelClass")
    for label_class in LabelClass.objects.filter(uuid=None).only("pk"):
        LabelClass.objects.filter(pk=label_class.pk).update(uuid=uuid.uuid4())


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0005_review_settings"),
    ]

    operations = [
        migrations.AddField(
            model_name="labelclass",
            name="uuid",
            field=models.UUIDField(editable=False, null=True),
        ),
        migrations.RunPython(fill_uuids, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="labelclass",
            name="uuid",
            field=models.UUIDField(default=uuid.uuid4, editable=False, unique=True),
        ),
        migrations.AddField(
            model_name="labelclass",
            name="removed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
