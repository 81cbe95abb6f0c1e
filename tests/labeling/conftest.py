import pytest

from tests.factories import ProjectFactory

CLASSES = ("cat", "dog", "bird")


@pytest.fixture
def project(workspace):
    return ProjectFactory.create(workspace=workspace, name="Pets", label_names=CLASSES)


@pytest.fixture
def ml_project(workspace):
    return ProjectFactory.create(
        workspace=workspace, name="Scenes", task_type="multilabel", label_names=("sky", "tree", "car")
    )


@pytest.fixture
def grid_url(org, workspace):
    from django.urls import reverse

    def build(name, project, **kwargs):
        return reverse(
            f"labeling:{name}", kwargs={"org": org.slug, "ws": workspace.slug, "project": project.uuid, **kwargs}
        )

    return build
