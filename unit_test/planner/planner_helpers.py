"""Helpers of the planner tests: small studies in the agreed export format (import from unit_test.planner)."""

from __future__ import annotations

import math
import random
from typing import Any

from util.search_space import sample

MIXED_SPACE: dict[str, dict[str, Any]] = {
    "pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.3},
    "pipeline.optim.name": {"type": "choice", "values": ["sgd", "adam", "adamw"]},
    "model.hidden": {"type": "choice", "values": [16, 64, 256]},
    "model.dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
    "model.layers": {"type": "randint", "low": 1, "high": 4},
    "pipeline.batch_size": {"type": "randint", "low": 8, "high": 1000},
}


def make_study(space: dict[str, Any], n_trials: int, seed: int = 0, mode: str = "max", fail_every: int = 0) -> dict:
    rng = random.Random(seed)
    trials = []
    for order in range(n_trials):
        failed = fail_every and order % fail_every == fail_every - 1
        trials.append(
            {
                "order": order,
                "params": sample(space, rng),
                "objective": None if failed else rng.uniform(0.1, 0.99) if mode == "max" else rng.uniform(1, 5000),
                "status": "failed" if failed else "completed",
                "run_id": f"{seed:04d}{order:012d}",
            }
        )
    return {
        "study_id": f"s{seed}",
        "task": {
            "pipeline": "execution",
            "model": "mlp",
            "dataset": "digits" if mode == "max" else "diabetes",
            "dataset_facts": {
                "task": "classification" if mode == "max" else "regression",
                "n_samples": 1797,
                "n_features": 64,
                "n_classes": 10 if mode == "max" else 0,
            },
            "objective": {"metric": "val/accuracy" if mode == "max" else "val/mse", "mode": mode},
        },
        "search_space": space,
        "algorithm": "random",
        "scheduler": "fifo",
        "seed": seed,
        "base": {"model": {"name": "mlp"}, "dataset": {"name": "digits"}, "pipeline": {"name": "execution"}, "seed": 0},
        "trials": trials,
    }


def structured_study(seed: int, n_trials: int = 12, dataset: str = "digits") -> dict:
    """A study whose objective depends on its params (so a planner can learn something)."""
    study = make_study(MIXED_SPACE, n_trials, seed=seed)
    study["task"]["dataset"] = dataset
    for trial in study["trials"]:
        p = trial["params"]
        trial["objective"] = (
            1.0 - abs(math.log10(p["pipeline.optim.lr"]) + 2) / 3 - (p["pipeline.optim.name"] == "sgd") * 0.2
        )
        trial["status"] = "completed"
    return study
