"""The whole ML assist loop for real, in-process (the model, scikit-learn and real image files; no mocks):
label → featurize → train → validate → pre-labels on unlabeled tasks → a clustered claim order → metrics."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from assist.models import Embedding
from labeling.models import ML_UNORDERED, Annotation, ClassCount, PreLabel, Task
from labeling.services import page_submit, tasks_claim
from projects.models import LabelingProject

pytestmark = pytest.mark.django_db


def test_labels_train_a_model_whose_sure_predictions_arrive_as_prelabels(make_world, manager, labeler, run_cycle):
    world = make_world(per_class=20, broken=1, ml_target_accuracy=90)
    labeled = world.label(8, labeler)

    runs = run_cycle(world.project, manager)

    assert {kind: run.state for kind, run in runs.items()} == dict.fromkeys(runs, "done"), {
        kind: run.error or run.message for kind, run in runs.items()
    }
    featurize = runs["featurize"]
    assert featurize.metrics["featurized"] == 40 and featurize.metrics["undecodable"] == 1
    broken = Embedding.objects.get(item__key="broken-0.jpg")
    assert broken.vector is None and "decode" in broken.reason
    assert runs["train"].metrics["labels"] == 16 and runs["train"].metrics["classes"] == ["Cat", "Dog"]
    validation = runs["validate"].metrics
    assert validation["threshold"] is not None and validation["accuracy_pct"] >= 90
    assert validation["held_out"] == 16 and validation["covered"] >= 10

    prelabels = PreLabel.objects.filter(task__project=world.project, source=PreLabel.Source.MODEL)
    assert prelabels.count() == runs["prelabel"].metrics["prelabeled"] > 0
    assert not prelabels.filter(task__in=labeled).exists(), "a labeled task never gets a pre-label"
    right = sum(world.kinds[p.task.item.key] == p.labels.get().name for p in prelabels.select_related("task__item"))
    assert right / prelabels.count() >= 0.9
    assert all(0 <= p.confidence <= 1 for p in prelabels)

    unlabeled = Task.objects.filter(project=world.project, state=Task.State.UNLABELED)
    assert runs["cluster"].metrics["clustered"] == 24  # 24 unlabeled images with features (the broken one has none)
    assert unlabeled.filter(ml_order__lt=ML_UNORDERED).count() == 24
    assert unlabeled.get(item__key="broken-0.jpg").ml_order >= ML_UNORDERED


def test_a_claimed_page_follows_the_clusters_and_carries_the_suggestions(make_world, manager, labeler, run_cycle):
    world = make_world(per_class=16, ml_target_accuracy=90)
    world.label(6, labeler)
    run_cycle(world.project, manager)

    page = tasks_claim(project=world.project, user=labeler, size=8)

    keys = [t.ml_order for t in page]
    assert keys == sorted(keys) and keys[-1] < ML_UNORDERED
    clusters = {key >> 32 for key in keys}
    assert len(clusters) <= 2, "a page is made of one cluster (or the end of one and the start of the next)"
    suggested = [t for t in page if t.suggested]
    assert suggested, "the model's pre-labels arrive with the claimed page as suggestions"
    assert not any(t.draft for t in page), "a suggestion is not a tag until the labeler accepts it"
    # Submitting a page replaces the model's suggestions with the labeler's labels and counts them as accepted.
    page_submit(
        project=world.project, user=labeler, labels={t.id: t.suggested or [world.classes["Cat"].pk] for t in page}
    )
    assert not PreLabel.objects.filter(task__in=page).exists()
    accepted = Annotation.objects.filter(task__in=suggested, is_current=True, suggestion=Annotation.Suggestion.ACCEPTED)
    assert accepted.count() == len(suggested)
    counted = ClassCount.objects.filter(project=world.project).aggregate(s=Sum("suggested"), a=Sum("accepted"))
    assert counted == {"s": len(suggested), "a": len(suggested)}


def test_multi_label_projects_train_one_vs_rest(make_world, manager, labeler, run_cycle):
    world = make_world(per_class=16, task_type=LabelingProject.TaskType.MULTI_LABEL, ml_target_accuracy=85)
    world.label(7, labeler)

    runs = run_cycle(world.project, manager)

    assert runs["train"].state == "done" and runs["validate"].state == "done", runs["train"].message
    assert runs["prelabel"].metrics["prelabeled"] > 0
    prelabel = PreLabel.objects.filter(task__project=world.project).select_related("task__item").first()
    assert [c.name for c in prelabel.labels.all()] == [world.kinds[prelabel.task.item.key]]


def test_an_unreachable_target_prelabels_nothing_and_says_so(make_world, manager, labeler, run_cycle):
    world = make_world(per_class=16, ml_target_accuracy=100)
    world.label(4, labeler)
    world.label(8, labeler, start=4, wrong=True)  # half the labels contradict the images: no threshold reaches 100 %

    runs = run_cycle(world.project, manager)

    assert runs["validate"].state == "done" and runs["validate"].metrics["threshold"] is None
    assert "not reached" in runs["validate"].message
    assert runs["prelabel"].metrics["prelabeled"] == 0
    assert not PreLabel.objects.filter(task__project=world.project).exists()


def test_too_few_labels_skip_training_but_still_cluster(make_world, manager, labeler, run_cycle):
    world = make_world(per_class=8, ml_min_labels=50)
    world.label(3, labeler)

    runs = run_cycle(world.project, manager)

    assert runs["featurize"].state == "done"
    assert runs["train"].state == "skipped" and "6 of 50" in runs["train"].message
    assert runs["validate"].state == runs["prelabel"].state == "skipped"
    assert runs["cluster"].state == "done" and runs["cluster"].metrics["clustered"] == 10


def test_a_second_cycle_reuses_features_and_replaces_stale_prelabels(make_world, manager, labeler, run_cycle):
    world = make_world(per_class=16, ml_target_accuracy=90)
    world.label(6, labeler)
    first = run_cycle(world.project, manager)
    before = set(PreLabel.objects.filter(task__project=world.project).values_list("pk", flat=True))

    second = run_cycle(world.project, manager)

    assert first["featurize"].metrics["featurized"] == 32 and second["featurize"].metrics["featurized"] == 0
    after = set(PreLabel.objects.filter(task__project=world.project).values_list("pk", flat=True))
    assert after and not before & after, "every suggestion was renewed by the newer model"


def test_active_learning_puts_the_least_sure_first(make_world, manager, labeler, run_cycle):
    world = make_world(per_class=16, ml_target_accuracy=90, ml_cluster=False, ml_active_learning=True)
    world.label(6, labeler)

    runs = run_cycle(world.project, manager)

    assert runs["cluster"].state == "done" and runs["cluster"].metrics["least_sure_first"]
    page = tasks_claim(project=world.project, user=labeler, size=20)
    confidence = {p.task_id: p.confidence for p in PreLabel.objects.filter(task__project=world.project)}
    sure = [confidence.get(t.id, 0.0) for t in page]
    # Pre-labeled tasks are the surest; they come after every unsure one.
    assert sure == sorted(sure) or sure.index(max(sure)) >= len([s for s in sure if s == 0.0])


def test_a_failing_step_is_recorded_and_the_rest_skipped(make_world, manager, labeler, settings, run_cycle):
    world = make_world(per_class=4)
    settings.LABELSITE_LOCAL_DATASTORE_ROOTS = ["/nonexistent-root"]  # the datastore's folder is no longer allowed

    runs = run_cycle(world.project, manager)

    assert runs["featurize"].state == "failed" and runs["featurize"].error
    assert all(runs[k].state == "skipped" for k in ("train", "validate", "prelabel", "cluster"))


def test_only_current_labels_train_and_a_rejected_label_never_does(make_world, labeler, reviewer, pipeline):
    from review.services import review_decide

    world = make_world(per_class=6)
    labeled = world.label(3, labeler)
    rejected, approved = labeled[0], labeled[1]
    for task, decision in ((rejected, "reject"), (approved, "approve")):
        task.refresh_from_db()
        review_decide(project=world.project, reviewer=reviewer, decisions=[(task.id, task.version)], decision=decision)

    items, labels = pipeline.training_set(world.project)

    assert rejected.item_id not in items and approved.item_id in items and len(items) == 5
    assert all(len(classes) == 1 for classes in labels)
