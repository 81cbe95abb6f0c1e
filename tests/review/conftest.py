"""Review fixtures: a running project in Acme / Vision with tasks labeled by the `labeler` persona."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from labeling.models import Task
from projects.models import Membership
from projects.tenancy.roles import LABELER, REVIEWER
from tests.review.data import add_tasks, make_project


@pytest.fixture
def project(workspace):
    return make_project(workspace)


@pytest.fixture
def classes(project):
    return list(project.label_classes.all())


@pytest.fixture
def labeled(project, labeler, classes):
    """Five tasks awaiting review, tagged Cat by `labeler`."""
    return add_tasks(project, 5, state=Task.State.LABELED, labeler=labeler, label=classes[0])


@pytest.fixture
def reviewer2(org, workspace, make_user):
    from projects.models import OrganizationMember

    user = make_user("reviewer2")
    OrganizationMember.objects.create(organization=org, user=user)
    Membership.objects.create(workspace=workspace, user=user, group=Group.objects.get(name=REVIEWER))
    return user


@pytest.fixture
def labeler2(org, workspace, make_user):
    from projects.models import OrganizationMember

    user = make_user("labeler2")
    OrganizationMember.objects.create(organization=org, user=user)
    Membership.objects.create(workspace=workspace, user=user, group=Group.objects.get(name=LABELER))
    return user


@pytest.fixture
def client_for():
    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def review_url(ws_url, project):
    def build(name, **kwargs):
        return ws_url(f"review:{name}", project=project.uuid, **kwargs)

    return build
