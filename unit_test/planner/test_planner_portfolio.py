"""planner/portfolio.py: the corpus's best configurations in greedy order, moved into any space; the search
algorithm `portfolio`."""

from __future__ import annotations

import json
import random

from planner import portfolio
from unit_test.planner.planner_helpers import structured_study
from util import search


def choice_study(dataset: str, values: dict[str, float]) -> dict:
    study = structured_study(0, n_trials=0, dataset=dataset)
    study["search_space"] = {"x": {"type": "choice", "values": ["a", "b", "c"]}}
    study["trials"] = [
        {"order": i, "params": {"x": x}, "objective": v, "status": "completed"}
        for i, (x, v) in enumerate(values.items())
    ]
    return study


def test_the_portfolio_orders_the_corpus_best_configurations_by_what_they_add():
    studies = [  # each task's best: a, b, c; but b is nearly best everywhere, and c adds most after it
        choice_study("t1", {"a": 1.0, "b": 0.9, "c": 0.0}),
        choice_study("t2", {"a": 0.0, "b": 1.0, "c": 0.5}),
        choice_study("t3", {"a": 0.0, "b": 0.8, "c": 1.0}),
    ]
    built = portfolio.build(studies)
    (entry,) = built["spaces"]
    assert entry["tasks"] == 3 and entry["studies"] == 3
    assert entry["configs"] == [{"x": "b"}, {"x": "c"}, {"x": "a"}]
    assert portfolio.build(studies, size=1)["spaces"][0]["configs"] == [{"x": "b"}]


def test_portfolio_points_move_into_another_space_and_draw_the_keys_they_lack():
    built = portfolio.build([structured_study(s, n_trials=10, dataset=d) for s, d in enumerate(["digits", "iris"])])
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
