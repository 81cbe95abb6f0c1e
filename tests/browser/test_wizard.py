"""The project wizard in a real browser: htmx steps, Back, label editing, create, dashboard; strict CSP holds."""

import re

import pytest
from playwright.sync_api import expect

from labeling.models import Task
from projects.models import LabelingProject
from tests.factories import DatasetFactory, ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_creates_the_tutorial_project(browser_as, manager, workspace, celery_eager, pets_datastore):
    DatasetFactory.create(workspace=workspace, name="older-dataset", items=3)
    page = browser_as(manager)
    page.goto("/o/acme/vision/")
    page.get_by_role("link", name="+ Add project").click()
    expect(page).to_have_url(re.compile(r"/projects/new/details/$"))

    # 1. Project details (an error first: the name is required; htmx swaps in the 422 fragment).
    page.get_by_role("button", name="Next").click()
    expect(page.locator("#wizard")).to_contain_text("This field is required")
    page.get_by_label("Project name").fill("multi-class-cats-n-dogs")
    page.get_by_label("Image Classification Multi-class").check()
    page.get_by_role("button", name="Next").click()

    # 2. + Create a dataset → From datastore, browsing to the folder, without leaving the wizard.
    expect(page).to_have_url(re.compile(r"/dataset/$"))
    page.get_by_role("link", name="From datastore").click()
    expect(page.locator("#wizard h2")).to_have_text("Create a dataset from datastore")
    page.get_by_label("Dataset name").fill("cat-n-dogs")
    page.get_by_label("Datastore").select_option(label="pets (Local folder)")
    page.get_by_role("button", name="Browse folders").click()
    page.locator("#browse").get_by_role("link", name="MultiClass - DogsCats/").click()
    expect(page.locator("#browse")).to_contain_text("20 files directly in this folder")
    page.locator("#browse").get_by_role("button", name="Use this folder").click()
    expect(page.get_by_label("Path")).to_have_value("MultiClass - DogsCats")
    page.get_by_role("button", name="Create dataset").click()
    expect(page.locator("#wizard h2")).to_have_text("Select or create a dataset")
    expect(page.get_by_role("radio", name=re.compile("cat-n-dogs"))).to_be_checked()
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/refresh/$"))

    # 3. Incremental refresh: left unchecked.
    expect(page.locator("#refresh-help")).to_contain_text("adds them to this project")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/labels/$"))

    # 4. Label classes: + Add label, Enter, a duplicate refused, reorder and remove.
    box = page.get_by_placeholder("Label name, e.g. Cat")
    box.fill("Cat")
    page.get_by_role("button", name="+ Add label").click()
    expect(page.locator("#label-list")).to_contain_text("Cat")
    page.get_by_placeholder("Label name, e.g. Cat").fill("Dog")
    page.get_by_placeholder("Label name, e.g. Cat").press("Enter")
    expect(page.locator("#label-list .chip")).to_have_text(["Cat", "Dog"])
    page.get_by_placeholder("Label name, e.g. Cat").fill("dog")
    page.get_by_role("button", name="+ Add label").click()
    expect(page.locator("#wizard")).to_contain_text("“dog” is already a label class")
    chips = page.locator("#label-list .chip")
    # Each click swaps the form; wait for the new list before typing into the new box.
    page.get_by_placeholder("Label name, e.g. Cat").fill("Uncertain")
    page.get_by_role("button", name="+ Add label").click()
    expect(chips).to_have_text(["Cat", "Dog", "Uncertain"])
    page.get_by_placeholder("Label name, e.g. Cat").fill("Bird")
    page.get_by_role("button", name="+ Add label").click()
    expect(chips).to_have_text(["Cat", "Dog", "Uncertain", "Bird"])
    page.get_by_role("button", name="Remove Bird").click()
    expect(chips).to_have_text(["Cat", "Dog", "Uncertain"])
    page.get_by_role("button", name="Move Dog up").click()
    expect(page.locator("#label-list .chip")).to_have_text(["Dog", "Cat", "Uncertain"])
    page.get_by_role("button", name="Move Cat up").click()
    expect(page.locator("#label-list .chip")).to_have_text(["Cat", "Dog", "Uncertain"])
    expect(page.locator("#label-list kbd")).to_have_text(["1", "2", "3"])
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/instructions/$"))

    # 5. Instructions; then Back and forward again keep everything.
    page.get_by_label("Short description").fill("Labeling tutorial - Cats & Dogs <script>alert(1)</script>")
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/ml/$"))
    page.get_by_role("button", name="Back").click()
    expect(page).to_have_url(re.compile(r"/instructions/$"))
    expect(page.get_by_label("Short description")).to_have_value(
        "Labeling tutorial - Cats & Dogs <script>alert(1)</script>"
    )
    page.get_by_role("button", name="Back").click()
    expect(page).to_have_url(re.compile(r"/labels/$"))
    expect(page.locator("#label-list .chip")).to_have_text(["Cat", "Dog", "Uncertain"])
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/instructions/$"))
    page.get_by_role("button", name="Next").click()
    expect(page).to_have_url(re.compile(r"/ml/$"))

    # 6. ML assisted labeling, summary, create.
    summary = page.locator("#summary")
    expect(summary).to_contain_text("multi-class-cats-n-dogs")
    expect(summary).to_contain_text("Labeling tutorial - Cats & Dogs <script>alert(1)</script>")  # shown as text
    page.get_by_role("button", name="Create project").click()

    # 7. The dashboard of the new, running project.
    expect(page.get_by_role("heading", name=re.compile("multi-class-cats-n-dogs"))).to_be_visible()
    expect(page.locator("#state-counts")).to_contain_text("Unlabeled")
    project = LabelingProject.objects.get(name="multi-class-cats-n-dogs")
    assert project.state == LabelingProject.State.RUNNING
    assert Task.objects.filter(project=project).count() == 20
    assert [c.name for c in project.label_classes.all()] == ["Cat", "Dog", "Uncertain"]
    expect(page.locator("#state-counts tr[data-state=unlabeled]")).to_contain_text("20")
    page.get_by_role("link", name="Labels per day").click()
    expect(page.locator("#activity")).to_contain_text("Last 30 days")
    assert page.errors == [], page.errors  # no console errors, no CSP violations


def test_manager_edits_labels_of_a_running_project(browser_as, manager, workspace, celery_eager):
    project = ProjectFactory.create(workspace=workspace, dataset__items=5, label_names=("Cat", "Dog", "Uncertain"))
    page = browser_as(manager)
    page.goto(f"/o/acme/vision/projects/{project.uuid}/settings/")
    page.get_by_placeholder("New label class").fill("Bird")
    page.get_by_role("button", name="+ Add label").click()
    expect(page.locator("#labels .chip")).to_have_text(["Cat", "Dog", "Uncertain", "Bird"])
    page.get_by_role("button", name="Move Bird up").click()
    expect(page.locator("#labels .chip")).to_have_text(["Cat", "Dog", "Bird", "Uncertain"])
    page.locator("li[data-label=Uncertain]").get_by_role("link", name="Remove…").click()
    page.get_by_label(re.compile("Send those images back")).check()
    page.get_by_role("button", name="Remove Uncertain").click()
    expect(page.locator("#labels .chip")).to_have_text(["Cat", "Dog", "Bird"])
    page.get_by_role("button", name="Pause labeling").click()
    expect(page.locator(".notice")).to_contain_text("paused")
    assert page.errors == [], page.errors
