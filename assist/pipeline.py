"""One ML assist cycle, step by step, in the ML worker: featurize → train → validate → pre-label → cluster.

Each step is a MlRun row that says what it is doing (state, progress, heartbeat) and what it found (message,
metrics). The steps share what they computed in memory (the model, the threshold, the confidences), so a cycle runs
in one Celery task; one interrupted by a dead worker is marked failed and the next retrain check starts a fresh one.
Reads and writes go in chunks, so memory and statement sizes stay flat whatever the project's size; tasks are
changed only through labeling's services.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.conf import settings
from django.utils import timezone

from assist import featurize, learn
from assist.models import Embedding, MlRun
from assist.services import STAGES
from labeling import services as labeling
from labeling.models import Annotation, Task
from projects.datastores import storage as ds
from projects.models import ML_MIN_PER_CLASS, DataItem, LabelClass, LabelingProject

logger = logging.getLogger(__name__)

CHUNK = 2000  # tasks per read, prediction and pre-label write
ORDER_CHUNK = 5000  # tasks per order write
CLUSTER_SAMPLE = 20_000  # embeddings k-means is fitted on (the rest are only assigned)


class Skip(Exception):
    """The step has nothing to do this cycle; the message says why."""


@dataclass
class Cycle:
    project: LabelingProject
    started: datetime
    classifier: learn.Classifier | None = None
    training: tuple[np.ndarray, list[list[int]]] | None = None  # the labeled embeddings, for validation
    validation: learn.Validation | None = None
    scored_ids: np.ndarray | None = None  # unlabeled task ids the model scored, ascending
    scored_confidence: np.ndarray | None = None
    timings: dict = field(default_factory=dict)


def _beat(run: MlRun, **fields) -> None:
    """Record progress (and that the worker is alive)."""
    for name, value in fields.items():
        setattr(run, name, value)
    MlRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now(), **fields)


def _finish(run: MlRun, state: str, **fields) -> None:
    run.state, run.finished_at = state, timezone.now()
    for name, value in fields.items():
        setattr(run, name, value)
    run.save(update_fields=["state", "finished_at", "message", "error", "metrics", "done", "total"])


def cycle_run(cycle: str) -> None:
    """Run every step of a queued cycle in order. A failing step fails alone with its error; the steps after it
    are skipped."""
    runs = {
        run.kind: run
        for run in MlRun.objects.filter(cycle=cycle).select_related(
            "project", "project__dataset", "project__dataset__datastore"
        )
    }
    if not runs:
        return
    if any(run.state != MlRun.State.QUEUED for run in runs.values()):  # redelivered after a worker died mid-cycle
        MlRun.objects.filter(cycle=cycle, state__in=MlRun.ACTIVE).update(
            state=MlRun.State.FAILED, finished_at=timezone.now(), error="Interrupted: the ML worker stopped."
        )
        return
    project = next(iter(runs.values())).project
    context = Cycle(project=project, started=timezone.now())
    for position, kind in enumerate(STAGES):
        run = runs[kind]
        run.state, run.started_at = MlRun.State.RUNNING, timezone.now()
        MlRun.objects.filter(pk=run.pk).update(state=run.state, started_at=run.started_at, heartbeat_at=run.started_at)
        try:
            STEPS[kind](context, run)
        except Skip as reason:
            _finish(run, MlRun.State.SKIPPED, message=str(reason))
        except Exception as error:
            logger.exception("ML assist: %s of project %s failed", kind, project.pk)
            _finish(run, MlRun.State.FAILED, error=f"{type(error).__name__}: {error}"[:2000])
            for later in STAGES[position + 1 :]:
                _finish(runs[later], MlRun.State.SKIPPED, message="Not run: an earlier step failed.")
            return
        else:
            _finish(run, MlRun.State.DONE)


# ---- featurize ---------------------------------------------------------------------------------------------------


def featurize_step(context: Cycle, run: MlRun) -> None:
    """Features for every ready image of the project that has none yet (any project on the dataset may have
    computed them already). Undecodable images get a row with the reason and no vector; images the datastore
    cannot deliver now are left for the next cycle."""
    project = context.project
    todo = DataItem.objects.filter(state=DataItem.State.READY, tasks__project=project, embedding__isnull=True)
    total = todo.count()
    _beat(run, total=total, done=0)
    datastore, folder = project.dataset.datastore, project.dataset.path
    storage = ds.storage_for(datastore) if total else None
    batch_size = max(1, settings.LABELSITE_ML_BATCH)
    last, done, stored, undecodable, unread, seconds = 0, 0, 0, 0, 0, 0.0
    reasons: Counter = Counter()
    while True:
        batch = list(todo.filter(pk__gt=last).order_by("pk").values_list("pk", "key")[:batch_size])
        if not batch:
            break
        last = batch[-1][0]
        rows, arrays, ready = [], [], []
        for pk, key in batch:
            refusal = ds.key_refusal(key, folder)
            try:
                if refusal:
                    raise featurize.Undecodable(refusal)
                arrays.append(featurize.pixels(ds.read_object(datastore, storage, key)))
                ready.append(pk)
            except featurize.Undecodable as why:
                rows.append(Embedding(item_id=pk, backbone=featurize.BACKBONE, vector=None, reason=str(why)[:250]))
                reasons[str(why)[:80]] += 1
            except ds.DatastoreError as error:
                unread += 1
                reasons[error.message_text[:80]] += 1
        started = time.monotonic()
        vectors = featurize.embed(arrays) if arrays else []
        seconds += time.monotonic() - started
        rows += [
            Embedding(item_id=pk, backbone=featurize.BACKBONE, vector=v) for pk, v in zip(ready, vectors, strict=True)
        ]
        Embedding.objects.bulk_create(rows, ignore_conflicts=True)
        stored += len(ready)
        undecodable += len(rows) - len(ready)
        done += len(batch)
        _beat(run, done=done)
    run.metrics = {
        "featurized": stored,
        "undecodable": undecodable,
        "unread": unread,
        "backbone": featurize.BACKBONE,
        "reasons": dict(reasons.most_common(5)),
        "images_per_second": round(stored / seconds, 1) if seconds else None,
    }
    parts = [f"{stored:,} images featurized"]
    if undecodable:
        parts.append(f"{undecodable:,} could not be decoded and are skipped")
    if unread:
        parts.append(f"{unread:,} could not be read now (tried again next cycle)")
    run.message = "; ".join(parts) + "."


def _vectors(item_ids: list[int]) -> dict[int, bytes]:
    found: dict[int, bytes] = {}
    for start in range(0, len(item_ids), CHUNK):
        chunk = item_ids[start : start + CHUNK]
        rows = Embedding.objects.filter(item_id__in=chunk, vector__isnull=False).values_list("item_id", "vector")
        found.update((item, bytes(vector)) for item, vector in rows if vector is not None)
    return found


# ---- train and validate ------------------------------------------------------------------------------------------


def training_set(project: LabelingProject) -> tuple[list[int], list[list[int]]]:
    """(item ids, their current label class ids) of the project's labeled and approved tasks. Only current
    annotations count: a rejected label stopped being current, so it never trains the model."""
    rows = (
        Annotation.labels.through.objects.filter(
            annotation__task__project=project,
            annotation__is_current=True,
            annotation__task__state__in=(Task.State.LABELED, Task.State.APPROVED),
        )
        .order_by("annotation__task_id", "labelclass_id")
        .values_list("annotation__task__item_id", "labelclass_id")
    )
    labels: dict[int, list[int]] = {}
    for item_id, class_id in rows.iterator(chunk_size=CHUNK):
        labels.setdefault(item_id, []).append(class_id)
    return list(labels), list(labels.values())


def train_step(context: Cycle, run: MlRun) -> None:
    project = context.project
    multilabel = project.task_type == LabelingProject.TaskType.MULTI_LABEL
    items, y = training_set(project)
    _beat(run, total=len(items))
    vectors = _vectors(items)
    keep = [i for i, item in enumerate(items) if item in vectors]
    y = [y[i] for i in keep]
    active = dict(LabelClass.objects.filter(project=project, removed_at=None).values_list("id", "name"))
    per_class = Counter(c for labels in y for c in labels)
    learnable = [c for c in active if per_class[c] >= ML_MIN_PER_CLASS]
    needed_classes = 1 if multilabel else 2
    run.metrics = {
        "labels": len(y),
        "labels_without_features": len(items) - len(y),
        "per_class": {active.get(c, str(c)): n for c, n in per_class.items()},
    }
    if len(y) < project.ml_min_labels or len(learnable) < needed_classes:
        missing = max(0, project.ml_min_labels - len(y))
        raise Skip(
            f"Waiting for labels: {len(y):,} of {project.ml_min_labels:,} needed"
            + (f" ({missing:,} more)" if missing else "")
            + f", and at least {ML_MIN_PER_CLASS} in each of {needed_classes} classes "
            f"({len(learnable)} so far)."
        )
    x = learn.vectors([vectors[items[i]] for i in keep])
    started = time.monotonic()
    context.classifier = learn.fit(x, y, learnable, multilabel)
    context.training = (x, y)
    run.metrics.update(classes=[active[c] for c in learnable], seconds=round(time.monotonic() - started, 2))
    run.message = f"Trained on {len(y):,} labels of {len(learnable)} classes."
    _beat(run, done=len(items))


def validate_step(context: Cycle, run: MlRun) -> None:
    if context.classifier is None or context.training is None:
        raise Skip("No model this cycle.")
    project = context.project
    x, y = context.training
    target = project.ml_target_accuracy / 100
    _beat(run, total=len(y))
    started = time.monotonic()
    validation = learn.cross_validate(x, y, context.classifier.learnable, context.classifier.multilabel, target=target)
    context.validation = validation
    names = dict(LabelClass.objects.filter(id__in=context.classifier.learnable).values_list("id", "name"))
    run.metrics = {
        "target": project.ml_target_accuracy,
        "labels": len(y),
        "held_out": validation.held_out,
        "folds": validation.folds,
        "classes": [names[c] for c in context.classifier.learnable],
        "threshold": validation.threshold,
        "threshold_pct": round(100 * validation.threshold, 1) if validation.threshold is not None else None,
        "accuracy_pct": round(100 * validation.accuracy, 1) if validation.threshold is not None else None,
        "covered": validation.covered if validation.threshold is not None else 0,
        "coverage_pct": round(100 * validation.coverage, 1) if validation.threshold is not None else 0,
        "best_accuracy_pct": round(100 * validation.accuracy, 1),
        "best_covered": validation.covered,
        "overall_accuracy_pct": round(100 * validation.overall_accuracy, 1),
        "seconds": round(time.monotonic() - started, 2),
    }
    if validation.threshold is None:
        run.message = (
            f"Target {project.ml_target_accuracy}% not reached on held-out labels (best "
            f"{100 * validation.accuracy:.1f}% at {validation.covered} of {validation.held_out}): "
            "nothing will be pre-labeled. More labels usually help."
        )
    else:
        run.message = (
            f"{100 * validation.accuracy:.1f}% accurate on the {validation.covered:,} of "
            f"{validation.held_out:,} held-out labels with confidence ≥ {100 * validation.threshold:.1f}%."
        )
    _beat(run, done=len(y))


# ---- pre-label ---------------------------------------------------------------------------------------------------


def _unlabeled_with_features(project: LabelingProject):
    return Task.objects.filter(project=project, state=Task.State.UNLABELED).filter(
        item__embedding__vector__isnull=False
    )


def _chunks(project: LabelingProject, *fields: str) -> Iterator[list[tuple]]:
    """The project's unlabeled tasks that have features, CHUNK at a time by id: (id, vector, *fields)."""
    last = 0
    rows = _unlabeled_with_features(project).order_by("id").values_list("id", "item__embedding__vector", *fields)
    while True:
        chunk = list(rows.filter(id__gt=last)[:CHUNK])
        if not chunk:
            return
        last = chunk[-1][0]
        yield chunk


def prelabel_step(context: Cycle, run: MlRun) -> None:
    """Suggestions on unlabeled tasks whose confidence reaches the threshold; the model's older suggestions that
    this cycle did not renew are removed. Every unlabeled task's confidence is kept for active learning."""
    project, classifier, validation = context.project, context.classifier, context.validation
    if classifier is None or validation is None:
        raise Skip("No model this cycle.")
    total = _unlabeled_with_features(project).count()
    _beat(run, total=total, done=0)
    ids, confidences, written, done = [], [], 0, 0
    started = time.monotonic()
    for chunk in _chunks(project):
        x = learn.vectors([bytes(row[1]) for row in chunk])
        predicted, sure = classifier.predict(x)
        ids.append(np.array([row[0] for row in chunk], dtype=np.int64))
        confidences.append(sure.astype(np.float32))
        if validation.threshold is not None:
            suggestions = {
                row[0]: (classes, float(c))
                for row, classes, c in zip(chunk, predicted, sure, strict=True)
                if c >= validation.threshold
            }
            written += labeling.prelabels_model_write(project=project, suggestions=suggestions)
        done += len(chunk)
        _beat(run, done=done)
    removed = labeling.prelabels_model_clear(project=project, before=context.started)
    context.scored_ids = np.concatenate(ids) if ids else np.zeros(0, dtype=np.int64)
    context.scored_confidence = np.concatenate(confidences) if confidences else np.zeros(0, dtype=np.float32)
    run.metrics = {
        "scored": done,
        "prelabeled": written,
        "removed_stale": removed,
        "threshold": validation.threshold,
        "seconds": round(time.monotonic() - started, 2),
    }
    if validation.threshold is None:
        run.message = (
            f"Nothing pre-labeled: the target accuracy was not reached ({removed:,} older suggestions removed)."
        )
    else:
        run.message = f"{written:,} of {done:,} unlabeled tasks pre-labeled."


# ---- cluster and order -------------------------------------------------------------------------------------------


def cluster_step(context: Cycle, run: MlRun) -> None:
    """Claim order for unlabeled tasks: k-means clusters (fitted on a random sample, every task assigned in
    chunks) so similar images share pages, and/or the least sure first. Written through labeling's index."""
    project = context.project
    scored_ids, scored_confidence = context.scored_ids, context.scored_confidence
    confident = scored_ids is not None and scored_confidence is not None and project.ml_active_learning
    if not project.ml_cluster and not confident:
        raise Skip(
            "Clustering is off"
            + (
                " and active learning needs a model first."
                if project.ml_active_learning
                else " and active learning is off."
            )
        )
    started = time.monotonic()
    metrics: dict = {}
    if project.ml_cluster:
        n = _unlabeled_with_features(project).count()
        if n < 2:
            raise Skip("Fewer than two unlabeled images with features.")
        _beat(run, total=n, done=0)
        sample = [
            bytes(v)
            for v in _unlabeled_with_features(project)
            .order_by("order_key")
            .values_list("item__embedding__vector", flat=True)[:CLUSTER_SAMPLE]
        ]
        k = learn.cluster_count(n)
        model = learn.clusters_fit(learn.vectors(sample), k)
        parts_ids, parts_clusters, parts_shuffle, done = [], [], [], 0
        for chunk in _chunks(project, "order_key"):
            parts_ids.append(np.array([row[0] for row in chunk], dtype=np.int64))
            parts_clusters.append(learn.assign(model, learn.vectors([bytes(row[1]) for row in chunk])))
            parts_shuffle.append(np.array([row[2] for row in chunk], dtype=np.int64))
            done += len(chunk)
            _beat(run, done=done)
        ids, clusters, shuffle = (np.concatenate(parts) for parts in (parts_ids, parts_clusters, parts_shuffle))
        metrics.update(clusters=int(model.n_clusters), sample=len(sample))
    else:  # active learning alone: `confident` holds, so the prelabel step scored the tasks
        ids, clusters = scored_ids if scored_ids is not None else np.zeros(0, dtype=np.int64), None
        shuffle = np.arange(len(ids), dtype=np.int64)
        _beat(run, total=len(ids), done=0)
    confidence = None
    if confident and scored_ids is not None and scored_confidence is not None and len(ids) and len(scored_ids):
        found = np.minimum(np.searchsorted(scored_ids, ids), len(scored_ids) - 1)
        known = scored_ids[found] == ids
        confidence = np.where(known, scored_confidence[found], 1.0)  # not scored: treated as sure, so last
    keys = learn.order_keys(clusters, confidence, shuffle)
    ordered = 0
    for start in range(0, len(ids), ORDER_CHUNK):
        pairs = list(
            zip(ids[start : start + ORDER_CHUNK].tolist(), keys[start : start + ORDER_CHUNK].tolist(), strict=True)
        )
        ordered += labeling.tasks_ml_order_set(project=project, orders=pairs)
    metrics.update(
        clustered=ordered if project.ml_cluster else 0,
        ordered=ordered,
        least_sure_first=confident,
        seconds=round(time.monotonic() - started, 2),
    )
    run.metrics = metrics
    how = []
    if project.ml_cluster:
        how.append(f"in {metrics['clusters']} clusters of similar images")
    if confident:
        how.append("least sure first")
    run.message = f"{ordered:,} unlabeled tasks ordered {' and '.join(how)}."


STEPS: dict[str, Callable[[Cycle, MlRun], None]] = {
    MlRun.Kind.FEATURIZE: featurize_step,
    MlRun.Kind.TRAIN: train_step,
    MlRun.Kind.VALIDATE: validate_step,
    MlRun.Kind.PRELABEL: prelabel_step,
    MlRun.Kind.CLUSTER: cluster_step,
}
