# "Rejected before" reads labeling's maintained task flag (set by review_decide on a reject) instead of
# probing reviews per task: the flag is filled from the reviews once, and two partial indexes hold only
# rejected tasks, one in labeling-time order, one by id for those back in the queue without a time.

from django.db import migrations

INDEXES = {
    "review_task_rejected_time": ("project_id, labeled_at, id", "rejected_before"),
    "review_task_rejected_queue": ("project_id, id", "rejected_before AND labeled_at IS NULL"),
}


class Migration(migrations.Migration):

    dependencies = [
        ("labeling", "0007_task_rejected_before"),
        ("review", "0003_labeled_task_indexes"),
    ]

    operations = [
        migrations.RunSQL(
            "UPDATE labeling_task SET rejected_before = true WHERE id IN "
            "(SELECT task_id FROM review_review WHERE decision = 'rejected')",
            migrations.RunSQL.noop,
        ),
        *[
            migrations.RunSQL(f"CREATE INDEX {name} ON labeling_task ({columns}) WHERE {where}", f"DROP INDEX {name}")
            for name, (columns, where) in INDEXES.items()
        ],
    ]
