"""The task signature of a study: what the planner conditions on (pipeline, model, data, objective)."""

from __future__ import annotations

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
    else:  # a local file: load it once to count
        from engine.paths import default_paths
        from engine.schema.base import DATASETS

        raw = DATASETS.load(cfg.name)(cfg, paths or default_paths())
        n, f = int(raw.features.shape[0]), int(raw.features[0].size)
        c = len(set(raw.targets.tolist())) if task == "classification" else 0
    return {
        "task": task,
        "n_samples": int(n),
        "n_features": int(f),
        "n_classes": int(c if task == "classification" else 0),
    }


def task_signature(mp: Metaprogram, paths: Paths | None = None) -> dict[str, Any]:
    metric, mode = mp.objective()
    return {
        "pipeline": mp.pipeline.name,
        "model": mp.model.name,
        "dataset": mp.dataset.name,
        "dataset_facts": dataset_facts(mp, paths),
        "objective": {"metric": metric, "mode": mode},
    }
