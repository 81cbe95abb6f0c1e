# The database enforces what the services keep: at most one current annotation per task (a partial unique
# index), a lease with both holder and expiry or neither and only on a task in the pool, and a time on every
# labeled or approved task and with every labeler.
#
# Rows that break a rule are repaired first: of several current annotations only the newest stays current;
# a half or misplaced lease is dropped; a missing labeling time becomes the time of the task's last
# annotation (or the task's creation).
#
# Big tables: on PostgreSQL the checks are added NOT VALID (new and changed rows are checked at once, the
# ACCESS EXCLUSIVE lock is brief) and 0009 validates the existing rows and builds the annotations' unique
# index CONCURRENTLY, without blocking writes. On SQLite Django rebuilds the task table for each check,
# which drops the indexes review keeps on it: review's 0005 recreates them.

from django.conf import settings
from django.db import migrations, models

REPAIRS = [
    "UPDATE labeling_annotation SET is_current = false WHERE is_current AND EXISTS (SELECT 1 FROM "
    "labeling_annotation newer WHERE newer.task_id = labeling_annotation.task_id AND newer.is_current "
    "AND newer.id > labeling_annotation.id)",
    "UPDATE labeling_task SET leased_to_id = NULL, lease_expires = NULL WHERE (leased_to_id IS NULL) <> "
    "(lease_expires IS NULL) OR (leased_to_id IS NOT NULL AND state <> 'unlabeled')",
    "UPDATE labeling_task SET labeled_at = COALESCE((SELECT max(a.created_at) FROM labeling_annotation a "
    "WHERE a.task_id = labeling_task.id), created_at) WHERE labeled_at IS NULL AND "
    "(state IN ('labeled', 'approved') OR labeled_by_id IS NOT NULL)",
]


class AddCheckNotValid(migrations.AddConstraint):
    """A check constraint added NOT VALID on PostgreSQL (validated by a later migration); elsewhere as usual."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        model = to_state.apps.get_model(app_label, self.model_name)
        if self.allow_migrate_model(schema_editor.connection.alias, model):
            schema_editor.execute(str(self.constraint.create_sql(model, schema_editor)) + " NOT VALID")


class Migration(migrations.Migration):

    dependencies = [
        ('labeling', '0007_task_rejected_before'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        *[migrations.RunSQL(sql, migrations.RunSQL.noop) for sql in REPAIRS],
        AddCheckNotValid(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('lease_expires__isnull', True), ('leased_to__isnull', True)), models.Q(('lease_expires__isnull', False), ('leased_to__isnull', False)), _connector='OR'), name='task_lease_whole'),
        ),
        AddCheckNotValid(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('leased_to__isnull', True), ('state', 'unlabeled'), _connector='OR'), name='task_lease_in_pool'),
        ),
        AddCheckNotValid(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('labeled_at__isnull', False), models.Q(('state__in', ['labeled', 'approved']), _negated=True), _connector='OR'), name='task_labeled_when'),
        ),
        AddCheckNotValid(
            model_name='task',
            constraint=models.CheckConstraint(condition=models.Q(('labeled_at__isnull', False), ('labeled_by__isnull', True), _connector='OR'), name='task_labeler_when'),
        ),
    ]
