"""In Chromium: a full-size image on an http datastore (Azurite) loads on the grid without anyone editing a
setting: the page's Content-Security-Policy names the datastore's own origin."""

import pytest

from projects.models import Datastore
from tests.browser.conftest import browser_as, chromium_browser  # noqa: F401  (the one harness's fixtures)
from tests.factories import DataItemFactory, DatasetFactory, DatastoreFactory, ProjectFactory
from tests.projects.conftest import AZURITE_ACCOUNT, AZURITE_KEY, jpeg_bytes

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_full_size_image_from_an_http_azure_datastore_loads_in_the_grid(
    azurite, azure_container, workspace, org, labeler, browser_as
):
    container, name = azure_container
    container.upload_blob("pets/cat 1.jpg", jpeg_bytes((320, 240)))
    datastore = DatastoreFactory.create(
        workspace=workspace,
        name="azurite",
        kind=Datastore.Kind.AZURE_BLOB,
        endpoint=azurite,
        container=name,
        auth_type=Datastore.Auth.ACCOUNT_KEY,
        access_key_id=AZURITE_ACCOUNT,
        secret=AZURITE_KEY,
    )
    dataset = DatasetFactory.create(workspace=workspace, name="pets", datastore=datastore, path="pets")
    DataItemFactory.create(dataset=dataset, key="pets/cat 1.jpg", width=320, height=240)
    project = ProjectFactory.create(workspace=workspace, name="Pets", dataset=dataset, label_names=("Cat", "Dog"))

    page = browser_as(labeler)
    page.goto(f"/o/{org.slug}/{workspace.slug}/projects/{project.uuid}/label/tasks/")
    page.get_by_role("button", name="View cat 1.jpg full size").click()
    viewer = page.locator("#viewer-img")
    for _ in range(100):  # poll: the image arrives from Azurite after a redirect to a short-lived SAS URL
        if page.evaluate("document.getElementById('viewer-img').complete"):
            break
        page.wait_for_timeout(100)
    assert page.evaluate("document.getElementById('viewer-img').naturalWidth") == 320, viewer.get_attribute("src")
    assert page.errors == []  # no "Refused to load the image" from the Content-Security-Policy
