"""engine.metrics computes with numpy what scikit-learn computes, to the same definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, mean_squared_error, r2_score

from engine.metrics import classification_metrics, regression_metrics


@pytest.mark.parametrize("seed", range(20))
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n, k = int(rng.integers(1, 200)), int(rng.integers(2, 12))
    targets = rng.integers(0, k, n)
    predictions = np.where(rng.random(n) < 0.6, targets, rng.integers(0, k + 2, n))  # some labels only predicted
    ours = classification_metrics(targets, predictions)
    assert ours["accuracy"] == pytest.approx(accuracy_score(targets, predictions))
    assert ours["f1_macro"] == pytest.approx(f1_score(targets, predictions, average="macro", zero_division=0))


@pytest.mark.parametrize("seed", range(20))
def test_regression_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 200))
    targets = rng.normal(size=n) * 10
    predictions = targets + rng.normal(size=n)
    ours = regression_metrics(targets, predictions)
    assert ours["mse"] == pytest.approx(mean_squared_error(targets, predictions))
    assert ours["mae"] == pytest.approx(mean_absolute_error(targets, predictions))
    assert ours["r2"] == pytest.approx(r2_score(targets, predictions))


def test_constant_targets_score_like_sklearn():
    same = np.ones(5)
    assert regression_metrics(same, same)["r2"] == r2_score(same, same) == 1.0
    assert regression_metrics(same, same + 1)["r2"] == r2_score(same, same + 1) == 0.0
