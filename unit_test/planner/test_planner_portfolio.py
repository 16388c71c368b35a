"""planner/portfolio.py: the corpus's best configurations in greedy order, moved into any space; the search
algorithm `portfolio`."""

from __future__ import annotations

import json
import math
import random

from planner import portfolio
from unit_test.planner.planner_helpers import structured_study
from util import search


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


def test_the_portfolio_algorithm_uses_the_shipped_portfolio_then_draws_at_random():
    shipped = portfolio.load(None)
    entry = max(shipped["spaces"], key=lambda e: len(e["configs"]))
    searcher = search.build("portfolio", entry["space"], "max", seed=0)
    points = [searcher.suggest() for _ in range(len(entry["configs"]) + 3)]
    assert points[: len(entry["configs"])] == entry["configs"]
    for point in points[len(entry["configs"]) :]:  # then random search over the same space
        assert set(point) == set(entry["space"])


def test_a_portfolio_study_is_another_study_for_another_portfolio(tmp_path):
    import shutil

    from planner.model import SHIPPED
    from util.sweep_spec import from_dict

    spec = {
        "name": "p",
        "suite": "test",
        "base": {"components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "execution"}},
        "space": {"pipeline.optim.lr": {"type": "loguniform", "low": 0.001, "high": 0.1}},
        "mode": "tune",
        "tune": {"algorithm": "portfolio"},
    }
    shipped = from_dict(spec).study_id
    other = shutil.copytree(SHIPPED, tmp_path / "other")
    (other / portfolio.FILE).write_text(json.dumps({"spaces": []}))
    spec["tune"]["planner_checkpoint"] = str(other)
    assert from_dict(spec).study_id != shipped
