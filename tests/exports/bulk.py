"""Bulk SQL for large labeled projects on PostgreSQL (the benchmark and the kill-the-worker test).

Rows are generated server-side with generate_series, so seeding a million tasks takes seconds and
no Python memory (tests/factories.py goes through the services, which is right for everything smaller).
Every image is labeled; one in ten awaits review, the rest are approved; multi-label projects get a
second class on every third image. The dashboard counters are recounted at the end, so they stay true.
"""

from django.db import connection

from labeling.stats import stats_rebuild


def bulk_label(*, project, labeler, n: int, prefix: str = "bulk") -> None:
    assert connection.vendor == "postgresql", "bulk_label needs PostgreSQL"
    classes = list(project.label_classes.order_by("position").values_list("pk", flat=True))
    params = {
        "ds": project.dataset_id,
        "p": project.pk,
        "u": labeler.pk,
        "n": n,
        "prefix": f"{prefix}/%",
        "pre": prefix,
        "classes": classes,
        "k": len(classes),
    }
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO projects_dataitem (uuid, dataset_id, key, state, reason, size, width, height, image_format, thumbnail, created_at)
            SELECT gen_random_uuid(), %(ds)s, %(pre)s || '/' || lpad(g::text, 8, '0') || '.jpg', 'ready', '', 20000, 640, 480, 'JPEG', '', now()
            FROM generate_series(1, %(n)s) AS g""",
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_task (project_id, item_id, state, order_key, version, labeled_by_id, labeled_at, draft, created_at)
            SELECT %(p)s, i.id, CASE WHEN i.id %% 10 = 0 THEN 'labeled' ELSE 'approved' END, (random() * 2000000000)::int,
                   1, %(u)s, now(), '[]'::jsonb, now()
            FROM projects_dataitem i WHERE i.dataset_id = %(ds)s AND i.key LIKE %(prefix)s""",
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_annotation (task_id, source, is_current, created_by_id, created_at)
            SELECT t.id, 'labeler', true, %(u)s, now() FROM labeling_task t JOIN projects_dataitem i ON i.id = t.item_id
            WHERE t.project_id = %(p)s AND i.key LIKE %(prefix)s""",
            params,
        )
        cursor.execute(
            """
            INSERT INTO labeling_annotation_labels (annotation_id, labelclass_id)
            SELECT a.id, (%(classes)s::bigint[])[1 + a.id %% %(k)s]
            FROM labeling_annotation a JOIN labeling_task t ON t.id = a.task_id JOIN projects_dataitem i ON i.id = t.item_id
            WHERE t.project_id = %(p)s AND i.key LIKE %(prefix)s""",
            params,
        )
        if project.task_type == "multilabel" and len(classes) > 1:
            cursor.execute(
                """
                INSERT INTO labeling_annotation_labels (annotation_id, labelclass_id)
                SELECT a.id, (%(classes)s::bigint[])[1 + (a.id + 1) %% %(k)s]
                FROM labeling_annotation a JOIN labeling_task t ON t.id = a.task_id JOIN projects_dataitem i ON i.id = t.item_id
                WHERE t.project_id = %(p)s AND i.key LIKE %(prefix)s AND a.id %% 3 = 0""",
                params,
            )
        cursor.execute(
            "ANALYZE projects_dataitem; ANALYZE labeling_task; ANALYZE labeling_annotation; ANALYZE labeling_annotation_labels"
        )
    stats_rebuild(project=project)
