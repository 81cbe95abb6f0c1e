"""The threshold rule and the claim order keys on numbers worked out by hand (scikit-learn is not needed for these:
`learn` imports it, so they run where the ML packages are installed)."""

from __future__ import annotations

import importlib

import pytest

from core.features import ml_missing
from tests.conftest import require


@pytest.fixture
def learn():
    require(not ml_missing(), "ML assist packages", "pip install -r requirements-ml.txt")
    return importlib.import_module("assist.learn")


def test_the_lowest_threshold_whose_accuracy_surely_reaches_the_target_wins(learn):
    import numpy as np

    # 40 held-out images, most sure first: 30 right, then one wrong, then 5 right, then 4 wrong.
    confidence = np.linspace(0.99, 0.50, 40)
    correct = np.array([True] * 30 + [False] + [True] * 5 + [False] * 4)
    result = learn.threshold_choose(confidence, correct, target=0.9)
    # Wilson lower bounds (z=1): 30 of 30 → 0.968, 30 of 31 → 0.919, 35 of 36 → 0.930, 35 of 37 → 0.896: the widest
    # cut whose bound is still at least 0.9 keeps 36 images (35 right).
    lower = learn.accuracy_lower_bound(np.cumsum(correct), np.arange(1, 41))
    widest = max(i for i in range(40) if lower[i] >= 0.9) + 1
    assert result.covered == widest == 36 and result.threshold == pytest.approx(confidence[35])
    assert result.accuracy == pytest.approx(35 / 36) and result.coverage == pytest.approx(36 / 40)
    assert result.overall_accuracy == pytest.approx(35 / 40)


def test_the_lower_bound_asks_more_of_few_images(learn):
    import numpy as np

    lower = learn.accuracy_lower_bound(np.array([10, 100]), np.array([10, 100]))
    assert lower[0] == pytest.approx(10 / 11) and lower[1] > 0.99  # 10 of 10 is weaker evidence than 100 of 100


def test_no_threshold_when_the_target_is_out_of_reach_or_too_few_images_qualify(learn):
    import numpy as np

    confidence = np.linspace(0.99, 0.5, 30)
    correct = np.array([True, False] * 15)
    assert learn.threshold_choose(confidence, correct, target=0.95).threshold is None
    few = learn.threshold_choose(confidence[:9], np.ones(9, dtype=bool), target=0.95)
    assert few.threshold is None, f"fewer than {learn.MIN_COVERED} held-out images never make a threshold"


def test_equal_confidences_are_never_split(learn):
    import numpy as np

    confidence = np.array([0.9] * 30 + [0.8] * 30)
    correct = np.array([True] * 29 + [False] + [True] * 30)
    result = learn.threshold_choose(confidence, correct, target=0.9)
    assert result.covered == 60, "all images at 0.9, then all at 0.8: never a cut inside a tie"


def test_order_keys_cluster_by_cluster_least_sure_cluster_first(learn):
    import numpy as np

    clusters = np.array([0, 1, 0, 1, 2])
    confidence = np.array([0.9, 0.2, 0.7, 0.4, 0.95])
    keys = learn.order_keys(clusters, confidence, np.arange(5))
    assert list(np.argsort(keys)) == [1, 3, 2, 0, 4]
    assert all(k < 2**62 for k in keys)
    sized = learn.order_keys(np.array([0, 1, 1, 1, 0]), None, np.array([5, 3, 1, 2, 4]))
    assert list(np.argsort(sized)) == [2, 3, 1, 4, 0], "the biggest cluster first, shuffled inside"
    assert list(np.argsort(learn.order_keys(None, confidence, np.arange(5)))) == [1, 3, 2, 0, 4]
