import pytest

from tests.labeling.factories import labeling_project


@pytest.fixture
def project(workspace):
    return labeling_project(workspace, items=12)


@pytest.fixture
def ml_project(workspace):
    return labeling_project(workspace, items=12, task_type="multilabel", name="Scenes", classes=["sky", "tree", "car"])


@pytest.fixture
def grid_url(org, workspace):
    from django.urls import reverse

    def build(name, project, **kwargs):
        return reverse(f"labeling:{name}", kwargs={"org": org.slug, "ws": workspace.slug, "project": project.uuid, **kwargs})

    return build
