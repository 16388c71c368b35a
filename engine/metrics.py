"""Metrics by task on the predictions of a whole split.

Computed with numpy, to the same definitions as scikit-learn's accuracy_score,
f1_score(average="macro", zero_division=0), mean_squared_error, mean_absolute_error
and r2_score (unit_test/engine/test_metrics_match_sklearn.py checks they agree):
scikit-learn's input validation cost ~15 ms per call, paid every epoch of every
sweep trial.
"""

from __future__ import annotations

import numpy as np


def classification_metrics(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    targets, predictions = np.asarray(targets).ravel(), np.asarray(predictions).ravel()
    if len(targets) == 0:
        return {"accuracy": float("nan"), "f1_macro": 0.0}
    labels = np.union1d(targets, predictions)  # as sklearn: every label seen in either
    true_pos = np.array([np.sum((targets == c) & (predictions == c)) for c in labels], dtype=np.float64)
    predicted = np.array([np.sum(predictions == c) for c in labels], dtype=np.float64)
    actual = np.array([np.sum(targets == c) for c in labels], dtype=np.float64)
    denominator = predicted + actual  # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (predicted + actual)
    f1 = np.divide(2 * true_pos, denominator, out=np.zeros_like(true_pos), where=denominator > 0)
    return {"accuracy": float(np.mean(targets == predictions)), "f1_macro": float(f1.mean())}


def regression_metrics(targets: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    targets = np.asarray(targets, dtype=np.float64).ravel()
    predictions = np.asarray(predictions, dtype=np.float64).ravel()
    error = targets - predictions
    out = {"mse": float(np.mean(error**2)), "mae": float(np.mean(np.abs(error)))}
    if len(targets) < 2:
        out["r2"] = float("nan")
        return out
    ss_res, ss_tot = float(np.sum(error**2)), float(np.sum((targets - targets.mean()) ** 2))
    # sklearn's force_finite: a constant target scores 1 when predicted exactly, else 0
    out["r2"] = (1.0 - ss_res / ss_tot) if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    return out
