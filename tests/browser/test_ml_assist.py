"""ML assist's dashboard section in Chromium: Train now queues a cycle, the section follows it by itself (htmx polling,
no reload) until the worker's results are there, and the strict Content-Security-Policy holds."""

import time

import pytest
from playwright.sync_api import expect

from assist.models import MlRun
from core import features
from projects.models import LabelingProject
from tests.factories import ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_train_now_and_the_section_follows_the_cycle(browser_as, workspace, manager, monkeypatch, tmp_path):
    monkeypatch.setattr(features, "ml_missing", lambda: ())  # the web process only asks; no worker runs here
    project = ProjectFactory.create(workspace=workspace, name="ML pets", label_names=("Cat", "Dog"), dataset__items=3)
    LabelingProject.objects.filter(pk=project.pk).update(ml_assisted=True)
    page = browser_as(manager)
    page.goto(f"/o/{workspace.organization.slug}/{workspace.slug}/projects/{project.uuid}/")

    page.get_by_role("button", name="Train now").click()
    expect(page.locator('#ml-runs tr[data-kind="featurize"][data-state="queued"]')).to_be_visible()
    expect(page.get_by_role("button", name="Train now")).to_be_disabled()

    # What the ML worker would record: the polling section shows it without a reload.
    metrics = {
        "target": 95,
        "threshold": 0.8,
        "threshold_pct": 80.0,
        "accuracy_pct": 97.5,
        "covered": 40,
        "held_out": 60,
        "coverage_pct": 66.7,
        "best_accuracy_pct": 97.5,
        "best_covered": 40,
        "overall_accuracy_pct": 90.0,
        "labels": 60,
        "classes": ["Cat", "Dog"],
        "folds": 5,
    }
    MlRun.objects.filter(project=project, kind="validate").update(metrics=metrics)
    MlRun.objects.filter(project=project, kind="prelabel").update(metrics={"prelabeled": 2})
    MlRun.objects.filter(project=project).update(state=MlRun.State.DONE, message="ok")
    expect(page.locator('#ml-runs tr[data-kind="cluster"][data-state="done"]')).to_be_visible(timeout=15_000)
    expect(page.locator("#ml-metrics")).to_contain_text("97.5%")
    expect(page.get_by_role("button", name="Train now")).to_be_enabled()
    page.screenshot(path=str(tmp_path / "ml-assist.png"), full_page=True)
    # The last answer carried no polling trigger: nothing asks any more.
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/ml/" in request.url else None)
    time.sleep(2.5)
    assert not asked and not page.errors
