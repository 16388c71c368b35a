"""The task signature of a study: what the planner conditions on (pipeline, model, data, objective)."""

from __future__ import annotations

import math
from typing import Any

from engine.metaprogram import Metaprogram
from engine.paths import Paths

# (n_samples, n_features, n_classes) of scikit-learn's bundled sets, so no data is loaded to describe them.
BUNDLED_FACTS = {
    "digits": (1797, 64, 10),
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast_cancer": (569, 30, 2),
    "diabetes": (442, 10, 0),
}


def dataset_facts(mp: Metaprogram, paths: Paths | None = None) -> dict[str, Any]:
    cfg = mp.dataset
    task = mp.task
    if cfg.name in BUNDLED_FACTS:
        n, f, c = BUNDLED_FACTS[cfg.name]
    elif cfg.name.startswith("synthetic_"):
        n, f, c = cfg.n_samples, cfg.n_features, getattr(cfg, "n_classes", 0)
    elif task == "language_modeling":  # evaluation suites and calibration text: no tensors to count
        n, f, c = 0, 0, 0
    else:  # a local file or a data DAG: build it once to count
        from engine.data_pipe import build_splits
        from engine.paths import default_paths

        data = build_splits(cfg, paths or default_paths())
        n = len(data.train) + len(data.val) + len(data.test)
        f, c = math.prod(data.info.input_shape), data.info.n_outputs
    return {
        "task": task,
        "n_samples": int(n),
        "n_features": int(f),
        "n_classes": int(c if task == "classification" else 0),
    }


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
