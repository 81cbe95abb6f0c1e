"""Review fixtures: a running project in Acme / Vision with tasks labeled by the `labeler` persona."""

import pytest

from labeling.models import Task
from tests.factories import ProjectFactory, TaskFactory

CLASSES = ("Cat", "Dog", "Bird")


@pytest.fixture
def project(workspace):
    return ProjectFactory.create(workspace=workspace, dataset__items=0, label_names=CLASSES)


@pytest.fixture
def classes(project):
    return list(project.label_classes.all())


@pytest.fixture
def labeled(project, labeler, classes):
    """Five tasks awaiting review, tagged Cat by `labeler`."""
    return TaskFactory.create_batch(5, project=project, state=Task.State.LABELED, labeler=labeler, labels=classes[0])


@pytest.fixture
def review_url(ws_url, project):
    def build(name, **kwargs):
        return ws_url(f"review:{name}", project=project.uuid, **kwargs)

    return build
