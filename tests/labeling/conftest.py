from tests.project_fixtures import celery_eager, dataset, project  # noqa: F401  (fixtures)
