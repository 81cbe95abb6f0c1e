"""The learning part of ML assist, on embeddings only (numpy and scikit-learn; no database): a logistic regression
per project, its cross-validated confidence threshold, and k-means clusters. Imported by the ML worker, never by the
web process."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.multiclass import OneVsRestClassifier

DIMENSIONS = 1280
# Fewer held-out images than this above a threshold say nothing about its accuracy: such thresholds are not chosen.
MIN_COVERED = 10
FOLDS = 5
SEED = 0
WILSON_Z = 1.0


def vectors(blobs: list[bytes]) -> np.ndarray:
    """Stored float16 embeddings as an (n, 1280) float32 matrix, each row scaled to unit length."""
    matrix = np.frombuffer(b"".join(blobs), dtype="<f2").reshape(len(blobs), DIMENSIONS).astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.maximum(norms, 1e-6)


@dataclass
class Classifier:
    """A fitted model over `learnable` class ids (columns of predict_proba, in that order)."""

    model: object
    learnable: list[int]
    multilabel: bool

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.predict_proba(x))  # type: ignore[attr-defined]  # a fitted scikit-learn model

    def predict(self, x: np.ndarray) -> tuple[list[list[int]], np.ndarray]:
        """Predicted class ids per row and the model's confidence in that whole prediction (0–1)."""
        return decide(self.probabilities(x), self.learnable, self.multilabel)


def decide(p: np.ndarray, learnable: list[int], multilabel: bool) -> tuple[list[list[int]], np.ndarray]:
    """Multi-class: the most probable class, confidence its probability. Multi-label: every class at p ≥ 0.5 (at
    least the most probable one: an image needs a tag), confidence the least sure of those per-class decisions."""
    if not multilabel:
        best = p.argmax(axis=1)
        return [[learnable[i]] for i in best], p.max(axis=1)
    chosen = p >= 0.5
    chosen[np.arange(len(p)), p.argmax(axis=1)] = True
    sureness = np.where(chosen, p, 1 - p).min(axis=1)
    return [[learnable[j] for j in np.flatnonzero(row)] for row in chosen], sureness


def _model(multilabel: bool):
    # lbfgs on L2-normalized 1280-d features. C=10 (weak regularization: unit-length features are small) gave
    # the best held-out accuracy on real photographs among 1, 10 and 100 (BENCHMARKS.md, ML assist).
    base = LogisticRegression(C=10.0, max_iter=2000)
    return OneVsRestClassifier(base) if multilabel else base


def fit(x: np.ndarray, y: list[list[int]], learnable: list[int], multilabel: bool) -> Classifier:
    """Train on the rows whose labels the model can learn (multi-class: rows of learnable classes; multi-label:
    every row, against the learnable classes)."""
    if multilabel:
        target = np.array([[c in labels for c in learnable] for labels in y], dtype=int)
        rows = np.arange(len(y))
    else:
        index = {c: i for i, c in enumerate(learnable)}
        rows = np.array([i for i, labels in enumerate(y) if labels[0] in index], dtype=int)
        target = np.array([index[y[i][0]] for i in rows], dtype=int)
    model = _model(multilabel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", UserWarning)  # OneVsRest: a class present in every row of a fold
        model.fit(x[rows], target)
    return Classifier(model=model, learnable=learnable, multilabel=multilabel)


@dataclass
class Validation:
    held_out: int
    folds: int
    threshold: float | None  # None: the target cannot be reached, so nothing is pre-labeled
    accuracy: float  # held-out accuracy above the threshold (or the best found, when no threshold)
    covered: int  # held-out images above the threshold (or at the best accuracy)
    overall_accuracy: float  # on every held-out image, without a threshold

    @property
    def coverage(self) -> float:
        return self.covered / self.held_out if self.held_out else 0.0


def cross_validate(
    x: np.ndarray, y: list[list[int]], learnable: list[int], multilabel: bool, *, target: float
) -> Validation:
    """Out-of-fold predictions for every labeled image (each predicted by a model that never saw it), then the
    lowest confidence threshold whose held-out accuracy reaches `target`. Images of classes the model cannot learn
    stay in the held-out parts, where they count as errors: the measured accuracy is never flattered."""
    n = len(y)
    strata = np.array([labels[0] if not multilabel and labels[0] in learnable else -1 for labels in y])
    smallest = min(int((strata == c).sum()) for c in set(strata.tolist()))
    folds = max(2, min(FOLDS, n // MIN_COVERED if n >= 2 * MIN_COVERED else 2))
    if not multilabel and smallest >= folds:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=SEED).split(x, strata)
    else:
        splits = KFold(n_splits=folds, shuffle=True, random_state=SEED).split(x)
    confidence = np.zeros(n, dtype=np.float64)
    correct = np.zeros(n, dtype=bool)
    for train, test in splits:
        model = fit(x[train], [y[i] for i in train], learnable, multilabel)
        predicted, sure = model.predict(x[test])
        confidence[test] = sure
        correct[test] = [set(p) == set(y[i]) for p, i in zip(predicted, test, strict=True)]
    return threshold_choose(confidence, correct, target=target, folds=folds)


def accuracy_lower_bound(right: np.ndarray, counts: np.ndarray, z: float = WILSON_Z) -> np.ndarray:
    """Wilson score interval's lower end for `right` of `counts`: what the accuracy is at least, with one-sided
    confidence given by z (z=1: about 84 %)."""
    p = right / counts
    spread = z * np.sqrt(p * (1 - p) / counts + z * z / (4 * counts * counts))
    return (p + z * z / (2 * counts) - spread) / (1 + z * z / counts)


def threshold_choose(confidence: np.ndarray, correct: np.ndarray, *, target: float, folds: int = FOLDS) -> Validation:
    """The lowest threshold (most coverage) at which the held-out images at or above it are right at least
    `target` of the time, counting at least MIN_COVERED of them.

    "Right at least target of the time" is judged by the Wilson lower bound of their accuracy, not the plain
    ratio: picking the widest cut whose plain accuracy just reaches the target favours cuts that were lucky on
    few images (on real photographs the pre-labels then fell 2–9 points short of the target; BENCHMARKS.md)."""
    order = np.argsort(-confidence, kind="stable")
    sorted_conf, sorted_ok = confidence[order], correct[order]
    counts = np.arange(1, len(order) + 1)
    right = np.cumsum(sorted_ok)
    accuracy = right / counts
    lower = accuracy_lower_bound(right, counts)
    # Only cut between different confidences: a threshold keeps every image at or above it.
    cuts = np.flatnonzero(np.append(sorted_conf[1:] < sorted_conf[:-1], True))
    overall = float(correct.mean()) if len(correct) else 0.0
    good = [i for i in cuts if counts[i] >= MIN_COVERED and lower[i] >= target]
    if good:
        i = good[-1]
        return Validation(
            held_out=len(order),
            folds=folds,
            threshold=float(sorted_conf[i]),
            accuracy=float(accuracy[i]),
            covered=int(counts[i]),
            overall_accuracy=overall,
        )
    eligible = [i for i in cuts if counts[i] >= MIN_COVERED]
    best = max(eligible, key=lambda i: (accuracy[i], counts[i])) if eligible else None
    return Validation(
        held_out=len(order),
        folds=folds,
        threshold=None,
        accuracy=float(accuracy[best]) if best is not None else 0.0,
        covered=int(counts[best]) if best is not None else 0,
        overall_accuracy=overall,
    )


def cluster_count(n: int) -> int:
    """About one cluster per 50 images (a few pages each), between 2 and 256."""
    return int(min(256, max(2, n // 50)))


def clusters_fit(sample: np.ndarray, k: int):
    """k-means centres from a sample of the embeddings (the rest are assigned in chunks with `assign`)."""
    k = max(1, min(k, len(sample)))
    model = MiniBatchKMeans(n_clusters=k, batch_size=2048, n_init=3, random_state=SEED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(sample)
    return model


def assign(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x))


def order_keys(clusters: np.ndarray | None, confidence: np.ndarray | None, shuffle: np.ndarray) -> np.ndarray:
    """Claim order keys (small first) for tasks given their cluster, the model's confidence and a random number:

    - clusters and confidence (active learning): the least sure cluster first (by mean confidence), least sure
      images first inside it;
    - clusters only: cluster by cluster (the biggest first), shuffled inside;
    - confidence only: least sure first.
    Each key is `cluster rank * 2**32 + rank inside`, below 2**62.
    """
    n = len(shuffle)
    if clusters is None:
        within = np.argsort(np.argsort(confidence if confidence is not None else shuffle, kind="stable"), kind="stable")
        return within.astype(np.int64)
    ids = np.unique(clusters)
    if confidence is not None:
        means = {c: float(confidence[clusters == c].mean()) for c in ids}
        ranked = sorted(ids, key=lambda c: (means[c], c))
        inner = confidence
    else:
        sizes = {c: int((clusters == c).sum()) for c in ids}
        ranked = sorted(ids, key=lambda c: (-sizes[c], c))
        inner = shuffle
    rank = {c: r for r, c in enumerate(ranked)}
    keys = np.empty(n, dtype=np.int64)
    for c in ids:
        members = np.flatnonzero(clusters == c)
        inside = np.argsort(np.argsort(inner[members], kind="stable"), kind="stable")
        keys[members] = (rank[c] << 32) + inside
    return keys
