"""util/search/: one Searcher interface, one registry; "random" is one algorithm whichever runner runs it, and a new
algorithm is one module plus its registration."""

from __future__ import annotations

import random
from typing import Any

import pytest

from util import search
from util.search_space import sample
from util.sweep_spec import SweepError, from_dict

SPACE = {
    "pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.1},
    "model.hidden": {"type": "choice", "values": [16, 32, 64]},
    "model.layers": {"type": "randint", "low": 1, "high": 4},
}


def sweep(algorithm: str = "random", **extra: Any):
    data = {
        "name": "one",
        "base": {"config": "metaprogram/example", "overrides": ["pipeline.epochs=1", "pipeline.device=cpu"]},
        "space": SPACE,
        "mode": "tune",
        "count": 6,
        "seed": 3,
        "tune": {"algorithm": algorithm, "concurrency": 2},
        **extra,
    }
    return from_dict(data, "one.yaml")


def drive(searcher: Any, n: int, score=lambda p: -abs(p["pipeline.optim.lr"] - 0.01)) -> list[dict[str, Any]]:
    points = []
    for _ in range(n):
        params = searcher.suggest()
        searcher.observe(params, score(params))
        points.append(params)
    return points


def test_random_is_one_algorithm_for_the_sweep_the_batch_the_file_sweep_and_the_baselines():
    from util.search.tune import TuneSearch
    from util.tune_batch import Study, StudyMux
    from util.tune_sweep import searcher

    one = sweep()
    expected = []
    rng = random.Random(one.seed)
    for _ in range(one.count):
        expected.append(sample(SPACE, rng))
    # one Tune trial per point (util/tune_sweep.py)
    tune_side = TuneSearch(searcher(one, "val/accuracy", "max"), "val/accuracy", "max")
    assert [tune_side.suggest(f"t{i}") for i in range(one.count)] == expected
    # packed trials of a batched suite (util/tune_batch.py)
    study = Study(0, one, one.study_id, "val/accuracy", "max", searcher=searcher(one, "val/accuracy", "max"))
    study.sweep.tune.concurrency = one.count
    mux = StudyMux([study], slots=1, pack_seconds=100.0)
    assert [item["params"] for item in mux.suggest("p0")["items"]] == expected
    # a grid/random sweep file's points, and a table replay's baseline
    assert from_dict({**_plain(one), "mode": "random"}).random_points() == expected
    assert drive(search.build("random", SPACE, "max", one.seed), one.count) == expected


def _plain(one: Any) -> dict[str, Any]:
    return {"base": {"config": one.base_config, "overrides": one.overrides}, "space": SPACE, "count": one.count,
            "seed": one.seed}  # fmt: skip


def test_an_unknown_algorithm_is_refused_with_the_nearest_names():
    with pytest.raises(SweepError, match=r"tune.algorithm: .*unknown search algorithm 'tpee'; did you mean 'tpe'"):
        sweep("tpee")
    with pytest.raises(search.UnknownAlgorithm, match="did you mean 'grid'"):
        search.get("gird")


def test_adding_an_algorithm_is_one_module_and_its_registration(monkeypatch):
    """A plugin's algorithm: a class with suggest/observe, registered by name; sweeps and the runners take it."""
    monkeypatch.setattr(search, "ALGORITHMS", dict(search.ALGORITHMS))

    class Smallest:  # proposes the smallest lr first, then walks up the grid of hidden sizes
        def __init__(self, study: search.Study):
            self.told: list[tuple[dict[str, Any], float | None]] = []
            self.n = 0

        def suggest(self) -> dict[str, Any]:
            self.n += 1
            return {"pipeline.optim.lr": 1e-4 * self.n, "model.hidden": 16, "model.layers": 1}

        def observe(self, params: dict[str, Any], value: float | None) -> None:
            self.told.append((params, value))

    search.algorithm("smallest")(Smallest)
    assert "smallest" in search.names()
    one = sweep("smallest")
    assert one.study_id != sweep("random").study_id
    from util.tune_sweep import searcher

    built = searcher(one, "val/accuracy", "max")
    assert isinstance(built, Smallest) and drive(built, 2)[1]["pipeline.optim.lr"] == pytest.approx(2e-4)
    assert [value for _, value in built.told] == [pytest.approx(-0.0099), pytest.approx(-0.0098)]


@pytest.mark.parametrize("name", ["tpe", "tpe_multivariate", "gp"])
def test_the_optuna_algorithms_search_the_space_and_learn_from_it(name):
    searcher = search.build(name, SPACE, "max", seed=0)
    points = drive(searcher, 16)
    for params in points:
        assert 1e-4 <= params["pipeline.optim.lr"] <= 0.1 and params["model.hidden"] in (16, 32, 64)
        assert params["model.layers"] in (1, 2, 3)  # randint: high excluded
    best = max(points, key=lambda p: -abs(p["pipeline.optim.lr"] - 0.01))
    assert abs(best["pipeline.optim.lr"] - 0.01) < 0.005
    assert len(searcher.study.trials) == 16 and all(t.state.name == "COMPLETE" for t in searcher.study.trials)
    searcher.observe(searcher.suggest(), None)  # a failed trial is told as failed, not as a value
    assert searcher.study.trials[-1].state.name == "FAIL"


def test_grid_hands_out_every_point_count_times_then_stops():
    space = {"model.hidden": {"type": "choice", "values": [16, 32]}, "lr": {"type": "uniform", "low": 0, "high": 1}}
    assert search.get("grid").trials(space, 3) == 6
    searcher = search.build("grid", space, "max", seed=0, count=3)
    points = [searcher.suggest() for _ in range(6)]
    assert [p["model.hidden"] for p in points] == [16, 32] * 3 and all(0 <= p["lr"] <= 1 for p in points)
    assert searcher.suggest() is None


@pytest.mark.integration  # Ray Tune
@pytest.mark.parametrize("algorithm, concurrency", [("random", 2), ("tpe", 1)])
def test_a_study_gives_the_same_trials_one_trial_per_point_or_packed(tmp_path, monkeypatch, ray_local, algorithm,
                                                                    concurrency):  # fmt: skip
    """Batching is a throughput setting: the same study run by util/tune_sweep.py and by util/tune_batch.py draws
    the same points in the same order (TPE one at a time, so that both see the same history)."""
    from database.store import Database
    from unit_test.util.sweep_helpers import sleep_sweep
    from util.tune_batch import run_batch
    from util.tune_sweep import run_tune

    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path / "out"))
    space = {"pipeline.x": {"type": "uniform", "low": 0.0, "high": 1.0}}
    spec = sleep_sweep("same", space, count=5, overrides=["pipeline.seconds=0.01", "pipeline.epochs=1"],
                       algorithm=algorithm, concurrency=concurrency)  # fmt: skip
    points = []
    for run, db in ((run_tune, "one.db"), (run_batch, "packed.db")):
        sweep = from_dict(spec)
        summary = run(sweep, db_url=str(tmp_path / db)) if run is run_tune else run([sweep], db_url=str(tmp_path / db))
        assert summary["complete"], summary
        with Database(tmp_path / db) as store:
            trials = store.trials(sweep.study_id)
        assert [t["status"] for t in trials] == ["completed"] * 5
        points.append([(t["params"]["pipeline.x"], t["objective"]) for t in trials])
    assert points[0] == points[1]
