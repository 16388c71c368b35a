"""The task a study is about, described from its base metaprogram (what the planner conditions on)."""

from __future__ import annotations

import math
from typing import Any

from engine.metaprogram import Metaprogram
from engine.paths import Paths


def dataset_facts(mp: Metaprogram, paths: Paths) -> dict[str, Any]:
    """Size, features and classes of the metaprogram's data (loads it once)."""
    from engine.data_pipe import build_splits

    data = build_splits(mp.dataset, paths)
    info = data.info
    return {
        "task": info.task,
        "n_samples": len(data.train) + len(data.val) + len(data.test),
        "n_features": int(math.prod(info.input_shape)),
        "n_classes": int(info.n_outputs) if info.task == "classification" else 0,
    }


def describe(mp: Metaprogram, paths: Paths) -> dict[str, Any]:
    """The `task` record of the study export format for a base metaprogram."""
    metric, mode = mp.objective()
    return {
        "pipeline": mp.pipeline.name,
        "model": mp.model.name,
        "dataset": mp.dataset.name,
        "dataset_facts": dataset_facts(mp, paths),
        "objective": {"metric": metric, "mode": mode},
    }
