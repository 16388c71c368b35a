"""The task signature of a study: what it records about its task and the planner conditions on (pipeline, model,
data facts with landmark scores, objective). Computed when a study begins (util/sweep_spec.py Sweep.record)."""

from __future__ import annotations

import json
import math
from typing import Any

from engine.metaprogram import Metaprogram
from engine.paths import Paths, default_paths
from engine.schema.data_dag import BUNDLED  # their sizes, so no data is loaded to describe them


def dataset_facts(mp: Metaprogram, paths: Paths | None = None, landmarks: bool = True) -> dict[str, Any]:
    """Size, features and classes; with `landmarks`, what a few cheap models score (see describe_data)."""
    cfg = mp.dataset
    task = mp.task
    if task == "language_modeling":  # evaluation suites and calibration text: no tensors to count
        return _facts(task, 0, 0, 0)
    if not landmarks and cfg.name in BUNDLED:
        _, n, f, c = BUNDLED[cfg.name]
        return _facts(task, n, f, c)
    if not landmarks and cfg.name.startswith("synthetic_"):
        return _facts(task, cfg.n_samples, cfg.n_features, getattr(cfg, "n_classes", 0))
    return describe_data(mp, paths)


def _facts(task: str, n: int, f: int, c: int) -> dict[str, Any]:
    return {
        "task": task,
        "n_samples": int(n),
        "n_features": int(f),
        "n_classes": int(c if task == "classification" else 0),
    }


_DESCRIBED: dict[str, dict[str, Any]] = {}  # dataset canonical -> facts, for the studies of a suite


def describe_data(mp: Metaprogram, paths: Paths | None = None) -> dict[str, Any]:
    """What can be measured before any trial, so the planner tells tasks apart.

    Besides size, features and classes: `balance` (the smallest class's share times the number
    of classes: 1 is balanced; regression 1), and landmarks on the trials' own train / val split:
    `lin` (a linear model: ridge classification accuracy, or ridge regression R^2) and `knn`
    (5 nearest neighbours, the same scores), each rounded to 2 decimals; null where a data set
    does not hold features in memory (text, streams).
    """
    key = json.dumps({"dataset": mp.canonical["dataset"], "seed": mp.seed}, sort_keys=True)
    if key not in _DESCRIBED:
        from engine.data_pipe import build_splits  # loads the data (torch): only for landmarks

        data = build_splits(mp.dataset, paths or default_paths())
        n = len(data.train) + len(data.val) + len(data.test)
        facts = _facts(mp.task, n, math.prod(data.info.input_shape), data.info.n_outputs)
        facts.update(balance=None, lin=None, knn=None)
        if data.info.input_kind in ("features", "image") and hasattr(data.train, "inputs"):
            facts.update(_landmarks(data, mp.task))
        _DESCRIBED[key] = facts
    return dict(_DESCRIBED[key])


def _landmarks(data: Any, task: str) -> dict[str, float]:
    import numpy as np  # numpy and sklearn: only for landmarks
    from sklearn.linear_model import Ridge, RidgeClassifier  # sklearn: only for landmarks
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor  # sklearn: only for landmarks

    x_train = data.train.inputs.reshape(len(data.train), -1).float().numpy()
    x_val = data.val.inputs.reshape(len(data.val), -1).float().numpy()
    y_train, y_val = data.train.targets.numpy(), data.val.targets.numpy()
    if task == "classification":
        counts = np.bincount(y_train.astype(int), minlength=data.info.n_outputs)
        balance = float(counts.min() / counts.sum() * len(counts))
        models = {"lin": RidgeClassifier(alpha=1.0), "knn": KNeighborsClassifier(5)}
    else:
        balance = 1.0
        models = {"lin": Ridge(alpha=1.0), "knn": KNeighborsRegressor(5)}
    out = {"balance": round(balance, 2)}
    for name, model in models.items():
        k = min(5, len(x_train))
        if name == "knn":
            model.set_params(n_neighbors=k)
        score = float(model.fit(x_train, y_train).score(x_val, y_val)) if len(x_val) else float("nan")
        out[name] = round(max(score, -1.0), 2) if math.isfinite(score) else None  # R^2 can be very negative
    return out


def task_signature(mp: Metaprogram, paths: Paths | None = None) -> dict[str, Any]:
    """The `task` record of the study export format, for a sweep's base metaprogram."""
    metric, mode = mp.objective()
    return {
        "pipeline": mp.pipeline.name,
        "model": mp.model.name,
        "dataset": mp.dataset.name,
        "dataset_facts": dataset_facts(mp, paths),
        "objective": {"metric": metric, "mode": mode},
    }
