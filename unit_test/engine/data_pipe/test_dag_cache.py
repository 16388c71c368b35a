"""The cache rules of the data DAG: hits, invalidation, regenerate, corruption, concurrency."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dag_fixtures import dag_config, digits_dag

from engine.data_pipe.cache import NodeCache
from engine.data_pipe.dag import node_keys, run_dag

REPO = Path(__file__).resolve().parents[3]


def statuses(reports) -> dict[str, str]:
    return {r.name: r.status for r in reports}


def same(a, b) -> bool:
    return a.arrays.keys() == b.arrays.keys() and all(np.array_equal(a.arrays[k], b.arrays[k]) for k in a.arrays)


def test_second_run_is_all_hits_and_the_log_says_so(dag_paths, caplog):
    cfg = dag_config(digits_dag())
    first, reports = run_dag(cfg, dag_paths)
    assert set(statuses(reports).values()) == {"computed"}
    with caplog.at_level(logging.INFO, logger="metaprogram"):
        second, reports = run_dag(cfg, dag_paths)
    assert statuses(reports) == {
        "raw": "hit, not loaded",
        "parts": "hit, not loaded",
        "small": "hit, not loaded",
        "std": "hit",
    }
    assert "4 of 4 nodes from the cache" in caplog.text
    assert "data node std" in caplog.text and "hit" in caplog.text
    assert same(first, second)


def test_changing_one_param_recomputes_that_node_and_descendants_only(dag_paths):
    run_dag(dag_config(digits_dag(0.5)), dag_paths)
    changed, reports = run_dag(dag_config(digits_dag(0.25)), dag_paths)
    assert statuses(reports) == {"raw": "hit, not loaded", "parts": "hit", "small": "computed", "std": "computed"}
    assert len(changed.arrays["train/x"]) == round(
        0.25 * len(run_dag(dag_config(digits_dag(1.0)), dag_paths)[0].arrays["train/x"])
    )


def test_keys_change_downstream_only():
    from engine.paths import default_paths

    a = node_keys(dag_config(digits_dag(0.5)), default_paths())
    b = node_keys(dag_config(digits_dag(0.3)), default_paths())
    assert [a[n] == b[n] for n in ("raw", "parts", "small", "std")] == [True, True, False, False]


def test_regenerate_recomputes_the_node_and_everything_downstream(dag_paths):
    run_dag(dag_config(digits_dag()), dag_paths)
    _, reports = run_dag(dag_config(digits_dag(regenerate="parts")), dag_paths)
    assert statuses(reports) == {"raw": "hit", "parts": "regenerated", "small": "regenerated", "std": "regenerated"}
    # regenerate is a run setting, not part of the data: the keys stay
    assert node_keys(dag_config(digits_dag(regenerate="parts")), dag_paths) == node_keys(
        dag_config(digits_dag()), dag_paths
    )


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_corrupt_or_truncated_cache_is_recomputed(dag_paths, damage):
    cfg = dag_config(digits_dag())
    good, _ = run_dag(cfg, dag_paths)
    path = NodeCache(dag_paths.root("cache_root") / "dag").path(node_keys(cfg, dag_paths)["std"])
    blob = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        path.write_bytes(blob[:-10] + bytes([blob[-10] ^ 0xFF]) + blob[-9:])
    else:
        path.write_bytes(b"not a cache file at all")
    again, reports = run_dag(cfg, dag_paths)
    assert statuses(reports)["std"] == "recomputed (corrupt cache)"
    assert same(good, again)
    assert run_dag(cfg, dag_paths)[1][-1].status == "hit"  # the rewritten file is whole


def test_uncached_node_is_computed_every_time(dag_paths):
    raw = digits_dag()
    raw["nodes"]["small"]["cache"] = False
    cfg = dag_config(raw)
    run_dag(cfg, dag_paths)
    raw["nodes"]["std"]["regenerate"] = True
    _, reports = run_dag(dag_config(raw), dag_paths)
    assert statuses(reports)["small"] == "computed" and statuses(reports)["parts"] == "hit"


def test_inspect_writes_samples_before_and_after(dag_paths, tmp_path):
    raw = digits_dag()
    raw["nodes"]["std"]["inspect"] = True
    run_dir = tmp_path / "run"
    run_dag(dag_config(raw), dag_paths, run_dir=run_dir)
    shown = json.loads((run_dir / "inspect" / "std.json").read_text())
    assert set(shown["before"]) == {"small"}
    assert len(shown["after"]["train/x"]["head"]) == 5
    assert shown["before"]["small"]["train/x"]["head"] != shown["after"]["train/x"]["head"]
    assert [n["status"] for n in json.loads((run_dir / "data_dag.json").read_text())] == ["computed"] * 4


_CONCURRENT = """
import sys, json, numpy as np
sys.path.insert(0, {repo!r})
from engine.paths import Paths
from engine.schema.data_dag import DagDatasetConfig
from engine.data_pipe.dag import run_dag
cfg = DagDatasetConfig.model_validate(json.loads({cfg!r}))
paths = Paths(data_root="d", model_root="m", cache_root={cache!r}, output_root="o")
data, reports = run_dag(cfg, paths)
np.savez({out!r} + sys.argv[1] + ".npz", **{{k.replace("/", "_"): v for k, v in data.arrays.items()}})
"""


@pytest.mark.integration  # two subprocesses
def test_two_concurrent_runs_sharing_a_cache_both_finish_correct(tmp_path):
    raw = {
        "name": "dag",
        "nodes": {
            "raw": {"transform": "sklearn", "params": {"dataset": "digits"}},
            "more": {"transform": "balance", "inputs": ["raw"], "params": {"mode": "over"}},
            "parts": {"transform": "split", "inputs": ["more"]},
            "std": {"transform": "standardize", "inputs": ["parts"]},
        },
    }
    script = _CONCURRENT.format(
        repo=str(REPO), cfg=json.dumps(raw), cache=str(tmp_path / "cache"), out=str(tmp_path / "r")
    )
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(i)], env=env, stderr=subprocess.PIPE) for i in (0, 1)]
    errors = [p.communicate(timeout=240)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errors
    from engine.paths import Paths

    reference, _ = run_dag(
        dag_config(raw), Paths(data_root="d", model_root="m", cache_root=str(tmp_path / "fresh"), output_root="o")
    )
    for i in (0, 1):
        with np.load(tmp_path / f"r{i}.npz") as got:
            assert all(np.array_equal(got[k.replace("/", "_")], v) for k, v in reference.arrays.items())
    # the shared cache holds whole files only: a third run reads every node it needs as a hit
    shared = Paths(data_root="d", model_root="m", cache_root=str(tmp_path / "cache"), output_root="o")
    assert run_dag(dag_config(raw), shared)[1][-1].status == "hit"
    assert not list((tmp_path / "cache").rglob("*.tmp"))


@pytest.mark.integration  # a whole run end to end
def test_a_dag_dataset_runs_through_the_execution_pipeline(tmp_path):
    """The shipped dag/digits_augmented component: trains a CNN, writes inspect samples, second run all hits."""
    from engine.compose import load
    from engine.runner import execute

    overrides = [
        "metaprogram/component/dataset=dag/digits_augmented",
        "metaprogram/component/model=classic/cnn",
        f"path.cache_root={tmp_path / 'cache'}",
        f"path.output_root={tmp_path / 'out'}",
        "pipeline.epochs=1",
        "pipeline.device=cpu",
    ]
    run = load(overrides, config_name="metaprogram/example")
    results = execute(run.metaprogram, run.paths)
    run_dir = run.paths.run_dir(run.metaprogram.id)
    assert results["metrics"]["test/accuracy"] > 0.3
    assert (run_dir / "inspect" / "augmented.json").exists()
    again = load([*overrides, "seed=1"], config_name="metaprogram/example")  # another run id, the same data
    execute(again.metaprogram, again.paths)
    statuses = [
        n["status"] for n in json.loads((again.paths.run_dir(again.metaprogram.id) / "data_dag.json").read_text())
    ]
    assert statuses == ["hit, not loaded"] * 3 + ["hit", "hit"]  # inspect reads the input of its node


def test_dag_and_composed_metaprograms_round_trip_with_the_same_id():
    """The canonical form validates back to the same id; untrusted input may use DAGs that name no files."""
    from engine.compose import load
    from engine.metaprogram import MetaprogramError, validate

    augmented = load(
        ["metaprogram/component/dataset=dag/digits_augmented", "metaprogram/component/model=composed/mlp_projection"],
        config_name="metaprogram/example",
    )
    mp = augmented.metaprogram
    assert validate(mp.canonical, trusted=False).id == mp.id
    text = load([], config_name="metaprogram/text_classification").metaprogram
    assert validate(text.canonical, trusted=True).id == text.id
    with pytest.raises(MetaprogramError, match=r"dataset.nodes.0.params.file: path keys"):
        validate(text.canonical, trusted=False)
