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


def test_the_lowest_threshold_that_reaches_the_target_wins(learn):
    import numpy as np

    # 20 held-out images, most sure first: the first 12 right, then one wrong, then mixed.
    confidence = np.linspace(0.99, 0.50, 20)
    correct = np.array([True] * 12 + [False] + [True] * 3 + [False] * 4)
    result = learn.threshold_choose(confidence, correct, target=0.9)
    # Down to the 16th image 15 of 16 are right (93.8 %); adding the 17th (wrong) gives 88.2 %.
    assert result.covered == 16 and result.threshold == pytest.approx(confidence[15])
    assert result.accuracy == pytest.approx(15 / 16) and result.coverage == pytest.approx(0.8)
    assert result.overall_accuracy == pytest.approx(15 / 20)


def test_no_threshold_when_the_target_is_out_of_reach_or_too_few_images_qualify(learn):
    import numpy as np

    confidence = np.linspace(0.99, 0.5, 30)
    correct = np.array([True, False] * 15)
    assert learn.threshold_choose(confidence, correct, target=0.95).threshold is None
    few = learn.threshold_choose(confidence[:9], np.ones(9, dtype=bool), target=0.95)
    assert few.threshold is None, f"fewer than {learn.MIN_COVERED} held-out images never make a threshold"


def test_equal_confidences_are_never_split(learn):
    import numpy as np

    confidence = np.array([0.9] * 12 + [0.8] * 4)
    correct = np.array([True] * 11 + [False] + [True] * 4)
    result = learn.threshold_choose(confidence, correct, target=0.9)
    assert result.covered in (12, 16) and result.covered == 16


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
