"""planner.ask_tell: the planner over a plain search space and any objective, from the portfolio when asked."""

from __future__ import annotations

import json
import logging
import math

import pytest

from planner import portfolio
from planner.ask_tell import PlannerStudy
from unit_test.planner.planner_helpers import MIXED_SPACE, structured_study
from util.search_space import SpaceError

SPACE = {
    "lr": {"type": "loguniform", "low": 1e-4, "high": 0.3},
    "layers": {"type": "randint", "low": 1, "high": 5},
    "act": {"type": "choice", "values": ["relu", "tanh"]},
}


def test_ask_and_tell_over_a_plain_space_with_failures(untrained_checkpoint, caplog):
    with caplog.at_level(logging.WARNING, logger="planner"):
        study = PlannerStudy(SPACE, mode="min", checkpoint=untrained_checkpoint, seed=0, candidates=4)
    assert "no task description" in caplog.text
    for i in range(8):
        params = study.ask()
        assert set(params) == set(SPACE) and 1e-4 <= params["lr"] <= 0.3 and params["layers"] in range(1, 5)
        value = None if i == 2 else float("nan") if i == 3 else (math.log10(params["lr"]) + 2) ** 2
        study.tell(params, value)
    assert [t["status"] for t in study.trials].count("failed") == 2  # None and NaN: both failures
    assert study.best["objective"] == min(t["objective"] for t in study.trials if t["status"] == "completed")
    assert not study.pending


def test_an_objective_may_be_a_numpy_scalar_or_a_one_element_tensor(untrained_checkpoint):
    """What objective functions return: each is a completed trial with its value, a bool or a vector is a failure."""
    import numpy as np
    import torch

    study = PlannerStudy(SPACE, checkpoint=untrained_checkpoint, quiet=True, candidates=2)
    values = [np.float32(0.25), np.int64(3), torch.tensor(0.5), np.array([0.75]), True, np.array([1.0, 2.0])]
    for value in values:
        study.tell(study.ask(), value)
    assert [t["objective"] for t in study.trials] == [0.25, 3.0, 0.5, 0.75, None, None]
    assert [t["status"] for t in study.trials][-2:] == ["failed", "failed"]
    assert all(type(t["objective"]) is float for t in study.trials[:4])  # plain floats: they go into JSON


def test_a_described_task_is_not_assumed_and_a_bad_space_is_refused(untrained_checkpoint, caplog):
    task = {"model": "mlp", "dataset": "iris", "dataset_facts": {"task": "classification", "n_samples": 150}}
    with caplog.at_level(logging.WARNING, logger="planner"):
        study = PlannerStudy(SPACE, task={**task, "pipeline": "execution"}, checkpoint=untrained_checkpoint)
    assert "no task description" not in caplog.text and study.task["dataset"] == "iris"
    with pytest.raises(SpaceError, match="must be a non-empty word"):
        PlannerStudy({"act": {"type": "choice", "values": ["leaky relu"]}}, checkpoint=untrained_checkpoint)
    with pytest.raises(ValueError, match="mode must be"):
        PlannerStudy(SPACE, mode="maximize", checkpoint=untrained_checkpoint)


def test_the_planner_starts_from_the_portfolio_when_asked(untrained_checkpoint, tmp_path):
    import shutil

    checkpoint = shutil.copytree(untrained_checkpoint, tmp_path / "with_portfolio")
    built = portfolio.build([structured_study(s, n_trials=10, dataset=d) for s, d in enumerate(["digits", "iris"])])
    (checkpoint / portfolio.FILE).write_text(json.dumps(built))
    study = PlannerStudy(MIXED_SPACE, checkpoint=checkpoint, candidates=4, prior=2, quiet=True)
    asked = [study.ask() for _ in range(3)]
    assert asked[:2] == built["spaces"][0]["configs"][:2]  # the same space: the portfolio's points as they are
    assert asked[2] not in built["spaces"][0]["configs"][:2]
