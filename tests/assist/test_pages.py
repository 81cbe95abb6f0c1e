"""ML assist on the pages: the dashboard section (runs, metrics, a failed run, badges), Train now, the settings in the
wizard and on Settings, and what a server without the ML packages says instead. No model runs here."""

from __future__ import annotations

import uuid

import pytest

from assist.models import MlRun
from assist.services import STAGES
from core import features
from labeling.models import ClassCount, Task
from projects.models import LabelingProject

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


@pytest.fixture
def ml_project(project):
    LabelingProject.objects.filter(pk=project.pk).update(ml_assisted=True)
    project.refresh_from_db()
    return project


@pytest.fixture
def ml_missing(monkeypatch):
    """A server without the ML packages, as the web process sees it (its availability check)."""
    monkeypatch.setattr(features, "ml_missing", lambda: ("torch", "sklearn"))


@pytest.fixture
def ml_installed(monkeypatch):
    """The web process believes the packages are there (true in CI; the worker is not needed for these pages)."""
    monkeypatch.setattr(features, "ml_missing", lambda: ())


def finished_cycle(project, *, failed: bool = False) -> uuid.UUID:
    cycle = uuid.uuid4()
    metrics = {
        "validate": {
            "target": 95,
            "threshold": 0.87,
            "threshold_pct": 87.0,
            "accuracy_pct": 96.2,
            "covered": 130,
            "held_out": 160,
            "coverage_pct": 81.3,
            "best_accuracy_pct": 96.2,
            "best_covered": 130,
            "overall_accuracy_pct": 91.9,
            "labels": 160,
            "classes": ["Cat", "Dog"],
            "folds": 5,
        },
        "prelabel": {"prelabeled": 1234},
        "cluster": {"clustered": 4321, "clusters": 20},
    }
    for kind in STAGES:
        state = MlRun.State.DONE
        error = ""
        if failed and kind == MlRun.Kind.FEATURIZE:
            state, error = MlRun.State.FAILED, "DatastoreError: The datastore's folder is not allowed."
        elif failed:
            state = MlRun.State.SKIPPED
        MlRun.objects.create(
            project=project,
            cycle=cycle,
            kind=kind,
            state=state,
            error=error,
            metrics={} if failed else metrics.get(kind, {}),
            message="" if failed else f"{kind} ok",
        )
    return cycle


@pytest.fixture
def urls(ws_url, ml_project):
    return {
        "dashboard": ws_url("labeling:dashboard", project=ml_project.uuid),
        "section": ws_url("assist:section", project=ml_project.uuid),
        "train": ws_url("assist:train", project=ml_project.uuid),
        "settings": ws_url("project_settings", project=ml_project.uuid),
    }


def test_the_dashboard_shows_the_last_cycle_its_metrics_and_the_badges(reviewer_client, urls, ml_project, ml_installed):
    finished_cycle(ml_project)

    page = reviewer_client.get(urls["dashboard"]).content.decode()

    assert 'id="ml-assist"' in page and 'id="ml-runs"' in page
    assert "96.2%" in page and "87.0%" in page and "130 of 160 held-out labels" in page
    assert "1,234 tasks pre-labeled" in page and "4,321 tasks clustered" in page  # the badges beside the name
    assert 'data-kind="cluster" data-state="done"' in page
    assert "Train now" not in page, "a reviewer may look, not train"
    assert "hx-trigger" not in page.split('id="ml-assist"')[1].split(">")[0], "nothing runs: no polling"


def test_the_section_leads_to_the_acceptance_of_suggestions_once_labelers_answered_them(
    reviewer_client, urls, ml_project, ml_installed
):
    finished_cycle(ml_project)
    assert 'id="ml-acceptance"' not in reviewer_client.get(urls["dashboard"]).content.decode(), "nothing answered yet"
    ClassCount.objects.update_or_create(
        project=ml_project, label_class=ml_project.label_classes.first(), defaults={"suggested": 4, "accepted": 3}
    )

    page = reviewer_client.get(urls["dashboard"]).content.decode()

    assert 'id="ml-acceptance"' in page and 'href="#suggestions"' in page
    assert 'id="suggestions"' in page and "75%" in page.split('id="suggestions"')[1]


def test_a_failed_run_is_visible_on_the_dashboard(manager_client, urls, ml_project, ml_installed):
    finished_cycle(ml_project, failed=True)

    page = manager_client.get(urls["dashboard"]).content.decode()

    assert 'data-kind="featurize" data-state="failed"' in page
    assert "The datastore&#x27;s folder is not allowed." in page
    assert 'data-kind="train" data-state="skipped"' in page


def test_train_now_queues_a_cycle_and_the_section_polls_until_it_ends(
    manager_client, urls, ml_project, ml_installed, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as sent:
        response = manager_client.post(urls["train"], headers=HTMX)

    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    runs = MlRun.objects.filter(project=ml_project)
    assert sorted(runs.values_list("kind", flat=True)) == sorted(STAGES)
    assert set(runs.values_list("state", flat=True)) == {"queued"} and len(sent) == 1
    fragment = response.content.decode()
    assert fragment.startswith('\n<section class="card" id="ml-assist"') or 'id="ml-assist"' in fragment[:400]
    assert 'hx-trigger="every 2s"' in fragment and "<html" not in fragment

    again = manager_client.post(urls["train"], headers=HTMX)
    assert "already" in again.content.decode() and runs.count() == len(STAGES)

    runs.update(state=MlRun.State.DONE)
    polled = manager_client.get(urls["section"] + "?poll=1", headers=HTMX).content.decode()
    assert "hx-trigger" not in polled.split(">")[0] + polled.split('id="ml-assist"')[1].split(">")[0]


def test_train_now_without_htmx_redirects_to_the_dashboard_with_a_message(
    manager_client, urls, ml_project, ml_installed
):
    response = manager_client.post(urls["train"], follow=True)
    assert response.redirect_chain[-1][0] == urls["dashboard"]
    assert "Training queued" in response.content.decode()


def test_train_now_on_a_project_without_ml_assist_says_how_to_turn_it_on(
    manager_client, urls, ml_project, ml_installed
):
    LabelingProject.objects.filter(pk=ml_project.pk).update(ml_assisted=False)
    response = manager_client.post(urls["train"], headers=HTMX)
    assert "turn it on in Settings" in response.content.decode() and not MlRun.objects.exists()


@pytest.mark.parametrize(
    "persona, section, train",
    [
        ("labeler", 403, 403),
        ("reviewer", 200, 403),
        ("manager", 200, 200),
        ("ws_admin", 200, 200),
        ("outsider", 404, 404),
    ],
)
def test_who_may_see_the_section_and_train(request, persona, section, train, urls, ml_installed):
    client = request.getfixturevalue(f"{persona}_client")
    assert client.get(urls["section"], headers=HTMX).status_code == section
    assert client.post(urls["train"], headers=HTMX).status_code == train
    assert MlRun.objects.exists() == (train == 200)


def test_wrong_methods_and_anonymous(anon_client, manager_client, urls, ml_installed):
    assert manager_client.get(urls["train"]).status_code == 405
    assert manager_client.post(urls["section"]).status_code == 405
    assert anon_client.post(urls["train"]).status_code == 302


def test_settings_save_the_ml_settings(manager_client, urls, ml_project, ml_installed):
    response = manager_client.post(
        urls["settings"],
        {
            "name": ml_project.name,
            "ml_assisted": "on",
            "ml_min_labels": "120",
            "ml_target_accuracy": "90",
            "ml_active_learning": "on",
        },
    )
    assert response.status_code == 302
    ml_project.refresh_from_db()
    assert (
        ml_project.ml_min_labels,
        ml_project.ml_target_accuracy,
        ml_project.ml_cluster,
        ml_project.ml_active_learning,
    ) == (120, 90, False, True)

    bad = manager_client.post(
        urls["settings"], {"name": ml_project.name, "ml_assisted": "on", "ml_target_accuracy": "40"}, headers=HTMX
    )
    assert bad.status_code == 422 and "greater than or equal to 50" in bad.content.decode()


def wizard_to_the_ml_step(client, ws_url, dataset, name="With ML"):
    def step(slug):
        return ws_url("project_wizard_step", step=slug)

    client.post(step("details"), {"name": name, "media_type": "image", "task_type": "multiclass"})
    client.post(step("dataset"), {"dataset": str(dataset.uuid)})
    client.post(step("refresh"), {})
    client.post(step("labels"), {"labels": ["Cat", "Dog"], "action": "next"})
    client.post(step("instructions"), {})
    return step


def test_the_wizard_stores_the_ml_settings(manager_client, ws_url, dataset, ml_installed):
    step = wizard_to_the_ml_step(manager_client, ws_url, dataset)
    page = manager_client.get(step("ml")).content.decode()
    assert 'name="ml_cluster"' in page and 'name="ml_cluster" checked' in page.replace('id="id_ml_cluster" ', "")
    manager_client.post(
        step("ml"),
        {"ml_assisted": "on", "ml_min_labels": "30", "ml_target_accuracy": "97", "ml_cluster": "on", "action": "next"},
    )
    project = LabelingProject.objects.get(name="With ML")
    assert (
        project.ml_assisted,
        project.ml_min_labels,
        project.ml_target_accuracy,
        project.ml_cluster,
        project.ml_active_learning,
    ) == (True, 30, 97, True, False)


def test_without_the_ml_packages_every_page_says_how_to_enable_it(
    manager_client, urls, ws_url, ml_project, dataset, ml_missing
):
    step = wizard_to_the_ml_step(manager_client, ws_url, dataset)
    wizard = manager_client.get(step("ml")).content.decode()
    settings_page = manager_client.get(urls["settings"]).content.decode()
    dashboard = manager_client.get(urls["dashboard"]).content.decode()

    for page in (settings_page, dashboard):
        assert "requirements-ml.txt" in page and "missing: torch, sklearn" in page
    assert 'name="ml_assisted"' not in settings_page and "Train now" not in dashboard
    assert 'name="ml_assisted"' not in wizard and "requirements-ml.txt" in wizard and 'id="ml-unavailable"' in wizard
    manager_client.post(step("ml"), {"ml_assisted": "on", "action": "next"})  # a hand-made post cannot switch it on
    assert not LabelingProject.objects.get(name="With ML").ml_assisted
    # Saving the settings leaves the ML settings as they were.
    manager_client.post(urls["settings"], {"name": "Renamed"})
    ml_project.refresh_from_db()
    assert ml_project.name == "Renamed" and ml_project.ml_assisted and ml_project.ml_cluster
    # Train now is refused with the same explanation, and nothing is queued.
    response = manager_client.post(urls["train"], headers=HTMX)
    assert "requirements-ml.txt" in response.content.decode() and not MlRun.objects.exists()


def test_the_ml_order_is_only_followed_when_the_project_asks_for_it(ml_project, labeler):
    from labeling.services import tasks_claim

    tasks = list(Task.objects.filter(project=ml_project).order_by("id"))
    # The reverse of the id order, so the three claim orders differ.
    for n, task in enumerate(reversed(tasks)):
        Task.objects.filter(pk=task.pk).update(ml_order=n)
    page = tasks_claim(project=ml_project, user=labeler, size=3)
    assert [t.pk for t in page] == [t.pk for t in reversed(tasks)][:3]

    LabelingProject.objects.filter(pk=ml_project.pk).update(ml_cluster=False, ml_active_learning=False)
    ml_project.refresh_from_db()
    Task.objects.update(leased_to=None, lease_expires=None)
    page = tasks_claim(project=ml_project, user=labeler, size=3)
    assert [t.order_key for t in page] == sorted(t.order_key for t in tasks)[:3]


def test_labelsite_ml_off_switches_it_off_even_where_installed(
    manager_client, urls, ml_project, ml_installed, settings
):
    settings.LABELSITE_ML = "off"
    dashboard = manager_client.get(urls["dashboard"]).content.decode()
    assert "turned off on this server (LABELSITE_ML=off)" in dashboard and "Train now" not in dashboard
    assert "LABELSITE_ML=off" in manager_client.post(urls["train"], headers=HTMX).content.decode()
    assert not MlRun.objects.exists()
