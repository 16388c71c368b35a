"""Grid and random sweeps: exact counts, de-duplication by id, validation, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.metaprogram import validate
from util.sweep_spec import SweepError, from_dict, load_sweep

pytestmark = pytest.mark.integration  # Ray

REPO = Path(__file__).resolve().parents[2]


def grid(hidden: list, lrs: list, **extra) -> dict:
    return {
        "name": "t",
        "base": {"config": "metaprogram/example", "overrides": ["pipeline.epochs=2"]},
        "space": {
            "model.hidden": {"type": "grid", "values": hidden},
            "pipeline.optim.lr": {"type": "choice", "values": lrs},
        },
        "mode": "grid",
        **extra,
    }


def test_a_grid_of_n_settings_yields_n_valid_distinct_metaprograms():
    sweep = from_dict(grid([16, 32, 64], [0.001, 0.01]))
    points = sweep.metaprograms()
    assert len(points) == 6 and len({mp.id for _, mp in points}) == 6
    for params, mp in points:
        again = validate(mp.canonical, trusted=False)  # the written form passes even the untrusted gate
        assert again.id == mp.id
        assert mp.model.hidden == params["model.hidden"] and mp.pipeline.optim.lr == params["pipeline.optim.lr"]
        assert mp.pipeline.epochs == 2


def test_a_grid_with_repeated_points_collapses_them():
    sweep = from_dict(grid([16, 16, 32], [0.001, 0.001, 0.01]))
    assert len(sweep.grid_points()) == 9
    assert len(sweep.metaprograms()) == 4


def test_random_mode_is_seeded_and_deduplicated():
    spec = grid([16, 32], [0.001], mode="random", count=20, seed=3)
    first = [mp.id for _, mp in from_dict(spec).metaprograms()]
    assert first == [mp.id for _, mp in from_dict(spec).metaprograms()]
    assert len(first) == 2  # 20 draws from 2 distinct points
    spec["space"]["pipeline.optim.lr"] = {"type": "loguniform", "low": 1e-4, "high": 1e-1}
    points = from_dict(spec).metaprograms()
    assert len(points) == 20 and all(1e-4 <= p["pipeline.optim.lr"] <= 1e-1 for p, _ in points)


def test_a_component_can_be_swapped_by_name():
    spec = grid(["x"], [0.001])
    spec["space"] = {"model.name": {"type": "grid", "values": ["mlp", "transformer"]}}
    names = [mp.model.name for _, mp in from_dict(spec).metaprograms()]
    assert names == ["mlp", "transformer"]


def test_every_problem_is_reported_at_once():
    with pytest.raises(SweepError) as err:
        from_dict({"base": {}, "space": {"a": {"type": "normal"}}, "mode": "gird", "count": 0, "bogus": 1})
    text = str(err.value)
    for part in ("bogus", "base:", "space.a", "mode", "count"):
        assert part in text
    with pytest.raises(SweepError, match="grid mode needs finite values"):
        spec = grid([16], [0.001])
        spec["space"]["pipeline.optim.lr"] = {"type": "uniform", "low": 0.1, "high": 0.2}
        from_dict(spec).grid_points()


def test_a_bad_sweep_file_names_every_problem_with_its_key_path_and_the_nearest_names(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "base: {config: metaprogram/example, overides: [x=1]}\n"
        "space:\n"
        "  model.hidden: {type: choise, values: [8]}\n"
        "  pipeline.optim.lr: {type: loguniform, low: 0.0, high: 0.1}\n"
        "mode: gird\n"
        "tune: {algoritm: tpe, scheduler: fifa}\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "METAPROGRAM_OUTPUT_ROOT": str(tmp_path / "out")}
    cmd = [sys.executable, "-B", str(REPO / "util" / "sweeper.py"), str(bad)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    for line in (
        "6 error(s)",
        "base.overides: unknown key; did you mean 'overrides'?",
        "space.model.hidden.type: 'choise' is not allowed; did you mean 'choice'?",
        "space.pipeline.optim.lr: loguniform needs low > 0",
        "mode: 'gird' is not allowed; did you mean 'grid'?",
        "tune.algoritm: unknown key; did you mean 'algorithm'?",
        "tune.scheduler: 'fifa' is not allowed; did you mean 'fifo'?",
    ):
        assert line in done.stderr, done.stderr
    assert not (tmp_path / "out").exists()


def test_the_sweeper_and_the_planner_sample_with_one_module():
    import random

    from util.search.random_search import RandomSearcher
    from util.search_space import sample

    space = {
        "pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.1},
        "model.hidden": {"type": "choice", "values": [16, 32]},
        "model.layers": {"type": "randint", "low": 1, "high": 4},
    }
    sweep = from_dict({**grid([16], [0.001]), "space": space, "mode": "random", "count": 5, "seed": 4})
    rng = random.Random(4)
    assert sweep.random_points() == [sample(space, rng) for _ in range(5)]
    assert RandomSearcher(space, seed=4).suggest() == sample(space, random.Random(4))
    reordered = dict(reversed(list(space.items())))  # the order a space is written in does not change its draws
    assert sample(reordered, random.Random(1)) == sample(space, random.Random(1))


def test_shipped_sweep_configs_load():
    for name in ("example_grid", "example_tune"):
        sweep = load_sweep(name)
        sweep.build(sweep.random_points()[0])


def test_cli_dry_run_and_bad_input(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "METAPROGRAM_OUTPUT_ROOT": str(tmp_path)}
    cmd = [sys.executable, "-B", str(REPO / "util" / "sweeper.py")]
    dry = subprocess.run([*cmd, "example_grid", "--dry-run"], env=env, capture_output=True, text=True)
    assert dry.returncode == 0 and dry.stdout.startswith("6 distinct metaprograms")
    bad = subprocess.run(
        [*cmd, "example_grid", "base.overrides=[pipeline.epoch=5]"], env=env, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "did you mean 'epochs'" in bad.stderr and "Traceback" not in bad.stderr
    assert not any(tmp_path.iterdir())  # nothing written
    wrote = subprocess.run([*cmd, "example_grid"], env=env, capture_output=True, text=True)
    assert wrote.returncode == 0
    files = list((tmp_path / "sweeps").rglob("*.yaml"))
    assert len(files) == 6


def test_listing_and_planning_import_neither_torch_nor_ray():
    code = (
        "import sys, util.sweeper, util.sweep_spec, util.tune_sweep, util.tune_suite, database.cli, "
        "database.export, util.task_signature, job_launch.__main__, job_launch.launcher\n"
        "from util.sweep_spec import load_sweep\n"
        "load_sweep('example_tune').base()\n"
        "print(sorted(m for m in ('torch', 'ray') if m in sys.modules))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-1000:]
    assert out.stdout.strip() == "[]"
