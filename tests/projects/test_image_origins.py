"""A workspace's pages allow exactly the image origins of its own datastores (http emulators included), and
nothing else: no `https:` wildcard, no other workspace's datastore, no setting to edit."""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from projects.datastores import services as datastore_services
from projects.datastores import storage
from projects.models import Datastore
from tests.factories import DatasetFactory, DatastoreFactory, ProjectFactory

pytestmark = pytest.mark.django_db
AZURITE = "http://127.0.0.1:10105"
MINIO = "http://127.0.0.1:5105"


def _img_src(response) -> list[str]:
    policy = response["Content-Security-Policy"]
    return re.search(r"img-src ([^;]*)", policy)[1].split()


def _azure(workspace, actor, name, endpoint):
    return datastore_services.datastore_create(
        workspace=workspace,
        actor=actor,
        name=name,
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=endpoint,
        container="pets",
        auth_type=Datastore.Auth.ACCOUNT_KEY,
        access_key_id="devstoreaccount1",
        secret="a2V5",
    )


@pytest.fixture
def emulators(settings):
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = ["127.0.0.1:10105", "127.0.0.1:5105"]


@pytest.fixture
def azure_project(workspace, org_admin, emulators):
    datastore = _azure(workspace, org_admin, "azurite", f"{AZURITE}/devstoreaccount1")
    return ProjectFactory.create(
        workspace=workspace, dataset=DatasetFactory.create(workspace=workspace, datastore=datastore, items=3)
    )


def test_grid_page_allows_its_http_datastore_and_not_another_workspaces(
    azure_project, other_workspace, outsider, labeler_client, reviewer_client, org
):
    datastore_services.datastore_create(
        workspace=other_workspace,
        actor=outsider,
        name="minio",
        kind=Datastore.Kind.S3,
        endpoint=MINIO,
        container="b",
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="k",
        secret="s",
    )
    kwargs = {"org": org.slug, "ws": azure_project.workspace.slug, "project": azure_project.uuid}
    grid = labeler_client.get(reverse("labeling:grid", kwargs=kwargs))
    assert grid.status_code == 200
    sources = _img_src(grid)
    assert AZURITE in sources and MINIO not in sources
    assert "https:" not in sources and "http:" not in sources and "*" not in " ".join(sources)
    review = reviewer_client.get(reverse("review:labeled", kwargs=kwargs))
    assert AZURITE in _img_src(review)


def test_outsiders_and_pages_outside_a_workspace_get_no_datastore_origin(
    azure_project, outsider_client, labeler_client, org
):
    kwargs = {"org": org.slug, "ws": azure_project.workspace.slug, "project": azure_project.uuid}
    missing = outsider_client.get(reverse("labeling:grid", kwargs=kwargs))
    assert missing.status_code == 404 and AZURITE not in missing["Content-Security-Policy"]
    assert AZURITE not in labeler_client.get(reverse("home"))["Content-Security-Policy"]


def test_changing_a_datastore_changes_the_policy_at_once(azure_project, org_admin, manager_client, ws_url):
    assert AZURITE in _img_src(manager_client.get(ws_url("workspace")))
    datastore = azure_project.dataset.datastore
    datastore_services.datastore_update(datastore=datastore, actor=org_admin, endpoint=f"{MINIO}/devstoreaccount1")
    sources = _img_src(manager_client.get(ws_url("workspace")))
    assert MINIO in sources and AZURITE not in sources


def test_datastores_whose_images_labelsite_serves_add_no_origin(workspace, manager_client, ws_url):
    DatastoreFactory.create(workspace=workspace, name="local", kind=Datastore.Kind.LOCAL, local_path="x")
    DatastoreFactory.create(
        workspace=workspace,
        name="sas",
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=f"{AZURITE}/devstoreaccount1",
        container="c",
        auth_type=Datastore.Auth.SAS_TOKEN,
        secret="sv=1",
    )
    assert _img_src(manager_client.get(ws_url("workspace"))) == ["'self'", "data:", "blob:"]


@pytest.mark.parametrize(
    "bucket, region",
    [
        ("pets", "us-east-1"),
        ("pets", "eu-west-1"),
        ("my.dotted.bucket", "us-east-1"),
        ("my.dotted.bucket", "eu-west-1"),
    ],
)
def test_aws_image_origins_match_the_urls_boto_presigns(workspace, bucket, region):
    """The origins are computed from the settings, without the SDK: check them against what it really signs."""
    datastore = DatastoreFactory.create(
        workspace=workspace,
        name=f"aws-{bucket}-{region}",
        kind=Datastore.Kind.S3,
        container=bucket,
        region=region,
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="k",
        secret="s",
    )
    url = urlsplit(storage.signed_url(datastore, "cats/a.jpg"))
    assert f"{url.scheme}://{url.netloc}" in storage.image_origins(datastore)


def test_an_endpoint_that_is_not_a_plain_host_never_reaches_the_header(workspace):
    datastore = DatastoreFactory.create(
        workspace=workspace,
        name="odd",
        kind=Datastore.Kind.S3,
        endpoint="http://a b;script-src *",
        container="b",
        auth_type=Datastore.Auth.ACCESS_KEY,
        access_key_id="k",
        secret="s",
    )
    assert storage.image_origins(datastore) == []
