"""planner.ask_tell: the planner over a plain search space and any objective; and the portfolio it can start from."""

from __future__ import annotations

import json
import logging
import math
import random

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


def test_a_described_task_is_not_assumed_and_a_bad_space_is_refused(untrained_checkpoint, caplog):
    task = {"model": "mlp", "dataset": "iris", "dataset_facts": {"task": "classification", "n_samples": 150}}
    with caplog.at_level(logging.WARNING, logger="planner"):
        study = PlannerStudy(SPACE, task={**task, "pipeline": "execution"}, checkpoint=untrained_checkpoint)
    assert "no task description" not in caplog.text and study.task["dataset"] == "iris"
    with pytest.raises(SpaceError, match="must be a non-empty word"):
        PlannerStudy({"act": {"type": "choice", "values": ["leaky relu"]}}, checkpoint=untrained_checkpoint)
    with pytest.raises(ValueError, match="mode must be"):
        PlannerStudy(SPACE, mode="maximize", checkpoint=untrained_checkpoint)


def test_the_portfolio_orders_the_corpus_best_configurations_by_what_they_add():
    studies = [structured_study(seed, n_trials=10, dataset=d) for seed, d in enumerate(["digits", "iris", "wine"])]
    built = portfolio.build(studies, size=3)
    (entry,) = built["spaces"]
    assert entry["tasks"] == 3 and entry["studies"] == 3 and len(entry["configs"]) == 3
    bests = [max(s["trials"], key=lambda t: t["objective"])["params"] for s in studies]
    assert sorted(map(json.dumps, entry["configs"])) == sorted(map(json.dumps, bests))  # each study's best, once
    # the first one reaches most across tasks: structured_study's objective prefers lr near 1e-2 and not sgd
    first = entry["configs"][0]
    score = [1.0 - abs(math.log10(c["pipeline.optim.lr"]) + 2) / 3 - (c["pipeline.optim.name"] == "sgd") * 0.2
             for c in bests]  # fmt: skip
    assert first == bests[score.index(max(score))]


def test_portfolio_points_move_into_another_space_and_draw_the_keys_they_lack():
    built = portfolio.build([structured_study(0, n_trials=10)], size=2)
    space = {
        "pipeline.optim.lr": {"type": "loguniform", "low": 1e-3, "high": 1e-2},  # narrower: values clipped
        "model.hidden": {"type": "choice", "values": [10, 100]},  # other choices: the nearest one
        "pipeline.optim.momentum": {"type": "uniform", "low": 0.0, "high": 0.9},  # a key the corpus never set
    }
    points = portfolio.points(built, space, random.Random(0))
    assert len(points) == 2
    for point, config in zip(points, built["spaces"][0]["configs"], strict=True):
        assert point["pipeline.optim.lr"] == min(max(config["pipeline.optim.lr"], 1e-3), 1e-2)
        assert point["model.hidden"] == min([10, 100], key=lambda v: abs(v - config["model.hidden"]))
        assert 0.0 <= point["pipeline.optim.momentum"] <= 0.9
    assert portfolio.points(built, {"x": {"type": "uniform", "low": 0, "high": 1}}, random.Random(0)) == []


def test_the_planner_starts_from_the_portfolio_when_asked(untrained_checkpoint, tmp_path):
    import shutil

    checkpoint = shutil.copytree(untrained_checkpoint, tmp_path / "with_portfolio")
    built = portfolio.build([structured_study(s, n_trials=10, dataset=d) for s, d in enumerate(["digits", "iris"])])
    (checkpoint / portfolio.FILE).write_text(json.dumps(built))
    study = PlannerStudy(MIXED_SPACE, checkpoint=checkpoint, candidates=4, prior=2, quiet=True)
    asked = [study.ask() for _ in range(3)]
    assert asked[:2] == built["spaces"][0]["configs"][:2]  # the same space: the portfolio's points as they are
    assert asked[2] not in built["spaces"][0]["configs"][:2]
