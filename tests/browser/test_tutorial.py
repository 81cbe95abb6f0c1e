"""The Azure ML data labeling tutorial, walked literally in Chromium (issue #15, "Done when").

The world is what `make run` gives (the `demo` command: Contoso / ml-team, its users and its own demo project) plus
an Azure Blob container on Azurite holding the tutorial's folder `MultiClass - DogsCats`. Then, with the tutorial's
names: the organization admin adds the datastore in Django admin, the manager runs the wizard, a labeler labels, a
reviewer rejects, the manager exports. Background jobs (scan, task creation, export) are left queued and run here
by calling their Celery tasks, where `make run`'s worker would: each page must show the job ending without a
reload, no console error, no CSP violation.
"""

import io
import json
import re
from datetime import UTC, datetime, timedelta
from io import StringIO
from urllib.parse import unquote

import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas
from django.contrib.auth import get_user_model
from django.core.management import call_command
from PIL import Image, ImageDraw
from playwright.sync_api import expect

from exports.models import Export
from exports.tasks import export_run_task
from labeling.models import Task
from labeling.tasks import project_tasks_sync_task
from projects.datastores.tasks import dataset_scan_task, dataset_thumbnails_task
from projects.models import Dataset, Datastore, LabelingProject
from tests.emulators import AZURITE_ACCOUNT, AZURITE_KEY, AZURITE_PORT

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FOLDER = "MultiClass - DogsCats"
PETS = ["cat 1", "dog 1", "cat 2", "dog 2", "cat 3", "dog 3"]


def _picture(name: str) -> bytes:
    """A drawn cat (pointed ears) or dog (floppy ears), named on the image."""
    image = Image.new("RGB", (160, 120), (230, 220, 200))
    draw = ImageDraw.Draw(image)
    fur = (230, 140, 40) if name.startswith("cat") else (120, 80, 40)
    if name.startswith("cat"):
        draw.polygon([(45, 50), (55, 15), (75, 40)], fill=fur)
        draw.polygon([(115, 50), (105, 15), (85, 40)], fill=fur)
    else:
        draw.ellipse([30, 35, 55, 95], fill=(60, 40, 20))
        draw.ellipse([105, 35, 130, 95], fill=(60, 40, 20))
    draw.ellipse([45, 30, 115, 100], fill=fur)
    draw.text((4, 4), name, fill=(0, 0, 0))
    out = io.BytesIO()
    image.save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
def world(azure_container, settings, tmp_path, celery_eager):
    """`make run`'s starting point (the demo) and the tutorial's container; returns (container URL, SAS token)."""
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = [str(tmp_path / "datastores")]
    settings.MEDIA_ROOT = str(tmp_path / "media")
    # What an operator puts in the environment to let datastores reach a local emulator.
    settings.LABELSITE_DATASTORE_ALLOWED_HOSTS = [f"127.0.0.1:{AZURITE_PORT}"]
    call_command("demo", stdout=StringIO())  # eager: the demo project is ready, as after the worker's first minute
    celery_eager.conf.task_always_eager = False  # from here on, jobs wait in the queue for "the worker" below
    container, name = azure_container
    for pet in PETS:
        container.upload_blob(f"{FOLDER}/{pet}.jpg", _picture(pet))
    container.upload_blob("elsewhere/not this one.jpg", _picture("cat 9"))
    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        name,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=2),
    )
    return f"http://127.0.0.1:{AZURITE_PORT}/{AZURITE_ACCOUNT}/{name}", f"?{sas}"


def _user(username):
    return get_user_model().objects.get(username=username)


def _choose(select, text):
    """Pick the option of a <select> whose text contains `text` (its exact label may add context)."""
    select.select_option(label=select.locator("option", has_text=text).first.inner_text().strip())


def _mark(page):
    """A flag on the window: it survives htmx swaps and is gone after any reload or navigation."""
    page.evaluate("window.__sameDocument = true")


def _same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def test_the_tutorial_walked_literally(world, browser_as):
    container_url, sas_token = world
    assert LabelingProject.objects.filter(name="demo-cats-n-dogs").exists()

    # --- Start a labeling project, 3: the organization admin creates the datastore in Django admin. ---
    admin = browser_as(_user("admin"))
    admin.goto("/admin/")
    admin.get_by_role("link", name="Datastores").click()
    admin.get_by_role("link", name=re.compile("Add datastore")).click()
    _choose(admin.get_by_label("Workspace"), "ml-team")
    admin.get_by_label("Name:", exact=True).fill("data_labeling_tutorial")
    admin.get_by_label("Datastore type:", exact=True).select_option(label="Azure Blob Storage")
    admin.get_by_label("Account URL or endpoint:", exact=True).fill(container_url)
    admin.get_by_label("Authentication:", exact=True).select_option(label="SAS token")
    admin.get_by_label(re.compile("^Secret")).fill(sas_token)
    admin.get_by_role("button", name="Save", exact=True).click()
    expect(admin.locator(".messagelist")).to_contain_text("data_labeling_tutorial")
    datastore = Datastore.objects.get(name="data_labeling_tutorial")
    assert datastore.kind == Datastore.Kind.AZURE_BLOB and datastore.container == container_url.rsplit("/", 1)[1]
    assert admin.errors == [], admin.errors

    # --- Create a labeling project, 1-7: the manager runs the wizard. ---
    manager = browser_as(_user("manager"))
    manager.goto("/")
    manager.get_by_role("link", name="ml-team").first.click()
    manager.get_by_role("link", name="+ Add project").click()
    _mark(manager)
    manager.get_by_label("Project name").fill("multi-class-cats-n-dogs")
    manager.get_by_label("Image Classification Multi-class").check()
    manager.get_by_role("button", name="Next").click()

    manager.get_by_role("link", name="From datastore").click()
    manager.get_by_label("Dataset name").fill("cat-n-dogs")
    _choose(manager.get_by_label("Datastore"), "data_labeling_tutorial")
    manager.get_by_role("button", name="Browse folders").click()
    manager.locator("#browse").get_by_role("link", name=f"{FOLDER}/").click()
    expect(manager.locator("#browse")).to_contain_text(f"{len(PETS)} files directly in this folder")
    manager.locator("#browse").get_by_role("button", name="Use this folder").click()
    expect(manager.get_by_label("Path")).to_have_value(FOLDER)
    manager.get_by_role("button", name="Create dataset").click()
    expect(manager.get_by_role("radio", name=re.compile("cat-n-dogs"))).to_be_checked()
    manager.get_by_role("button", name="Next").click()

    expect(manager).to_have_url(re.compile(r"/refresh/$"))
    expect(manager.get_by_role("checkbox")).not_to_be_checked()  # incremental refresh left unchecked
    manager.get_by_role("button", name="Next").click()

    expect(manager).to_have_url(re.compile(r"/labels/$"))
    for label in ("Cat", "Dog", "Uncertain"):
        manager.get_by_placeholder("Label name, e.g. Cat").fill(label)
        manager.get_by_role("button", name="+ Add label").click()
        expect(manager.locator("#label-list .chip").last).to_have_text(label)
    manager.get_by_role("button", name="Next").click()

    expect(manager).to_have_url(re.compile(r"/instructions/$"))
    manager.get_by_label("Short description").fill("Labeling tutorial - Cats & Dogs")
    manager.get_by_role("button", name="Next").click()

    expect(manager).to_have_url(re.compile(r"/ml/$"))
    ml_assisted = manager.get_by_role("checkbox", name="Enable ML assisted labeling")
    if ml_assisted.count():  # without the ML packages the step says how to enable it instead
        expect(ml_assisted).not_to_be_checked()  # ML assisted labeling left unchecked
    assert _same_document(manager)  # every wizard step came by htmx
    manager.get_by_role("button", name="Create project").click()

    # The dashboard shows the project being prepared; the worker scans the dataset and creates the tasks.
    expect(manager.get_by_role("heading", name=re.compile("multi-class-cats-n-dogs"))).to_be_visible()
    progress = manager.locator("#project-progress")
    expect(progress).to_contain_text("Dataset cat-n-dogs is being scanned")
    _mark(manager)
    dataset = Dataset.objects.get(name="cat-n-dogs")
    project = LabelingProject.objects.get(name="multi-class-cats-n-dogs")
    assert (dataset.path, project.incremental_refresh, project.ml_assisted) == (FOLDER, False, False)
    assert [c.name for c in project.label_classes.all()] == ["Cat", "Dog", "Uncertain"]
    dataset_scan_task(dataset.pk)
    dataset_thumbnails_task(dataset.pk)
    project_tasks_sync_task(project.pk)
    expect(manager.locator(".pagehead .badge")).to_have_text("Running")
    expect(manager.locator("#state-counts tr[data-state=unlabeled]")).to_contain_text(str(len(PETS)))
    assert _same_document(manager)
    assert manager.errors == [], manager.errors

    # --- Start a labeling, 1-5: the labeler labels every page. ---
    labeler = browser_as(_user("labeler"))
    labeler.goto("/")
    labeler.get_by_role("link", name="ml-team").first.click()
    labeler.locator("#projects tr[data-project=multi-class-cats-n-dogs]").get_by_role("link", name="Label data").click()
    expect(labeler.locator(".instructions")).to_contain_text("Labeling tutorial - Cats & Dogs")
    labeler.get_by_role("link", name="Tasks").click()
    _mark(labeler)
    labeler.locator(".layout-picker").get_by_role("button", name="4", exact=True).click()  # a fresh page: 4 at a time
    tiles = labeler.locator("#tiles .tile")
    expect(tiles).to_have_count(4)
    # The full-size image comes from the Azure datastore (over http here) and is not blocked by the page's CSP.
    labeler.get_by_role("button", name=re.compile(r"^View .* full size$")).first.click()
    for _ in range(100):
        if labeler.evaluate("document.getElementById('viewer-img').complete"):
            break
        labeler.wait_for_timeout(100)
    assert labeler.evaluate("document.getElementById('viewer-img').naturalWidth") == 160
    labeler.keyboard.press("Escape")
    labeled: dict[str, str] = {}
    for expected in (4, len(PETS) - 4):
        expect(tiles).to_have_count(expected)
        names = [tile.get_attribute("aria-label").split(": ", 1)[1] for tile in tiles.locator(".tile-pick").all()]
        labeler.get_by_role("button", name="Select all").click()
        labeler.keyboard.press("1")  # Cat for all of them ...
        expect(labeler.locator('#tiles .chips[data-count="1"]')).to_have_count(expected)
        labeler.get_by_role("button", name="Select none").click()
        for name in names:
            if name.startswith("dog"):
                labeler.get_by_role("button", name=re.compile(f": {name}$")).click()
        labeler.keyboard.press("2")  # ... then Dog for the dogs
        for name in names:
            labeled[name] = "Dog" if name.startswith("dog") else "Cat"
            expect(
                labeler.locator(
                    "#tiles .tile", has=labeler.get_by_role("button", name=re.compile(f": {name}$"))
                ).locator(".chip")
            ).to_have_text(re.compile(labeled[name]))
        labeler.locator("#submit-page").click()
        expect(labeler.get_by_role("button", name=re.compile(f": {names[0]}$"))).to_have_count(0)
    labeler.get_by_text("nothing is left to label").wait_for()
    assert sorted(labeled) == sorted(f"{pet}.jpg" for pet in PETS)
    assert Task.objects.filter(project=project, state=Task.State.LABELED).count() == len(PETS)
    assert _same_document(labeler)
    assert labeler.errors == [], labeler.errors

    # --- Review labeled data, 1-5: the reviewer rejects an image; it goes back to the queue. ---
    reviewer = browser_as(_user("reviewer"))
    reviewer.goto("/")
    reviewer.get_by_role("link", name="ml-team").first.click()
    reviewer.get_by_role("link", name="multi-class-cats-n-dogs").click()  # the project name link: its dashboard
    expect(reviewer.locator("#state-counts tr[data-state=labeled]")).to_contain_text(str(len(PETS)))
    reviewer.get_by_role("link", name="Data", exact=True).click()
    reviewer.locator(".review-nav").get_by_role("link", name="Labeled data").click()
    _mark(reviewer)
    review_tiles = reviewer.locator("#review-results .tile")
    expect(review_tiles).to_have_count(len(PETS))
    rejected = reviewer.locator(f'#review-results .tile[data-key="{FOLDER}/dog 2.jpg"]')
    expect(rejected.locator(".chip")).to_have_text("Dog")
    rejected_item = rejected.get_attribute("data-item")
    rejected.click()
    reviewer.locator("[data-reject]").click()
    reviewer.locator("#reject-dialog").get_by_role("button", name="Reject").click()
    expect(reviewer.locator("[data-status]")).to_contain_text("Rejected: 1 image.")
    expect(review_tiles).to_have_count(len(PETS) - 1)
    task = Task.objects.get(project=project, item__uuid=rejected_item)
    assert task.state == Task.State.UNLABELED and not task.annotations.filter(is_current=True).exists()
    assert _same_document(reviewer)
    assert reviewer.errors == [], reviewer.errors

    # The labeler, coming back to Label data, gets it again, untagged.
    labeler.locator("nav").get_by_role("link", name="Label data").first.click()
    labeler.get_by_role("link", name="Tasks").click()
    expect(tiles).to_have_count(1)
    expect(tiles.first).to_contain_text("dog 2.jpg")
    expect(tiles.first.locator(".chip")).to_have_count(0)
    assert labeler.errors == [], labeler.errors

    # --- Export labeled data, 1-3: the manager exports as an Azure ML dataset; the status turns into Download. ---
    manager.get_by_role("link", name="Export").first.click()
    _mark(manager)
    _choose(manager.get_by_label("Format"), "JSON Lines")
    manager.get_by_role("button", name="Export", exact=True).click()
    status = manager.locator("#export-status")
    expect(status).to_contain_text("waiting for a worker")
    export = Export.objects.get(project=project)
    assert export_run_task(export.pk)
    download = status.get_by_role("link", name="Download")
    expect(download).to_be_visible()
    assert _same_document(manager)
    with manager.expect_download() as answer:
        download.click()
    with open(answer.value.path()) as exported:
        lines = [json.loads(line) for line in exported if line.strip()]
    del labeled["dog 2.jpg"]  # rejected: no label until someone labels it again
    assert {unquote(line["image_url"].rsplit("/", 1)[-1]): line["label"] for line in lines} == labeled
    assert manager.errors == [], manager.errors
