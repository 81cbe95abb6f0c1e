# Names of datastores, datasets and projects (per workspace) and of label classes (per project, removed ones
# included) become unique ignoring case, by constraint, so two requests at once cannot both pass the services'
# check. Names that already differ only in case are renamed first, the oldest keeping its name and the others
# getting " (2)", " (3)"… (each rename is printed). These tables are small: plain constraint swaps.

import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models
from django.db.models.functions import Lower

SCOPES = {"Datastore": "workspace_id", "Dataset": "workspace_id", "LabelingProject": "workspace_id",
          "LabelClass": "project_id"}


def rename_case_duplicates(apps, schema_editor):
    for model_name, scope in SCOPES.items():
        model = apps.get_model("projects", model_name)
        limit = model._meta.get_field("name").max_length
        rows = list(model.objects.annotate(folded=Lower("name")).order_by(scope, "folded", "pk")
                    .values_list("pk", scope, "name", "folded"))
        taken = {(owner, folded) for _, owner, _, folded in rows}
        kept = set()
        for pk, owner, name, folded in rows:
            if (owner, folded) not in kept:
                kept.add((owner, folded))
                continue
            n = 1
            while True:
                n += 1
                suffix = f" ({n})"
                candidate, key = name[:limit - len(suffix)] + suffix, (owner, folded[:limit - len(suffix)] + suffix)
                if key not in taken:
                    break
            model.objects.filter(pk=pk).update(name=candidate)
            taken.add(key)
            print(f"\n  {model._meta.verbose_name} {pk}: “{name}” renamed “{candidate}” (the name differed only in case)",
                  end="")


class Migration(migrations.Migration):

    dependencies = [
        ('projects', '0010_staff_only_for_organization_admins'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rename_case_duplicates, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name='dataset',
            name='uniq_dataset_name',
        ),
        migrations.RemoveConstraint(
            model_name='datastore',
            name='uniq_datastore_name',
        ),
        migrations.RemoveConstraint(
            model_name='labelclass',
            name='uniq_label_class_name',
        ),
        migrations.RemoveConstraint(
            model_name='labelingproject',
            name='uniq_project_name',
        ),
        migrations.AddConstraint(
            model_name='dataset',
            constraint=models.UniqueConstraint(models.F('workspace'), django.db.models.functions.text.Lower('name'), name='uniq_dataset_name', violation_error_message='A dataset with this name already exists in the workspace.'),
        ),
        migrations.AddConstraint(
            model_name='datastore',
            constraint=models.UniqueConstraint(models.F('workspace'), django.db.models.functions.text.Lower('name'), name='uniq_datastore_name', violation_error_message='A datastore with this name already exists in the workspace.'),
        ),
        migrations.AddConstraint(
            model_name='labelclass',
            constraint=models.UniqueConstraint(models.F('project'), django.db.models.functions.text.Lower('name'), name='uniq_label_class_name', violation_error_message='A label class with this name already exists in this project.'),
        ),
        migrations.AddConstraint(
            model_name='labelingproject',
            constraint=models.UniqueConstraint(models.F('workspace'), django.db.models.functions.text.Lower('name'), name='uniq_project_name', violation_error_message='A project with this name already exists in this workspace.'),
        ),
    ]
