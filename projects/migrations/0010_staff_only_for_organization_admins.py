"""Django admin access (is_staff) stays only with organization admins and superusers: sign-up used to give it to
everyone, and for anyone else it opened nothing but a door."""

from django.conf import settings
from django.db import migrations


def staff_only_for_organization_admins(apps, schema_editor):
    User = apps.get_model(*settings.AUTH_USER_MODEL.split("."))
    OrganizationMember = apps.get_model("projects", "OrganizationMember")
    admins = OrganizationMember.objects.filter(is_admin=True).values("user_id")
    User.objects.filter(is_staff=True, is_superuser=False).exclude(pk__in=admins).update(is_staff=False)


class Migration(migrations.Migration):

    dependencies = [
        ("projects", "0009_refuse_unsafe_item_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(staff_only_for_organization_admins, migrations.RunPython.noop, elidable=True),
    ]
