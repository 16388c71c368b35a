"""configs/sweep/quant_recipe.yaml in tiny form: a real Ray Tune sweep of tiny-Llama chains over recipe arguments."""

from __future__ import annotations

import json

import pytest
import yaml

from database.store import Database
from engine.paths import ENV_VARS, Paths
from engine.records import RunRecord
from util.sweep_spec import SWEEP_DIR, from_dict


@pytest.fixture
def tiny_recipe_sweep(llm_data_root, llm_model_root, tiny_folder, tmp_path, monkeypatch):
    """The shipped sweep on the tiny Llama (W4A16): both group sizes (a grid), one block size, a 4-item evaluation."""
    for key, root in (("DATA", llm_data_root), ("MODEL", llm_model_root), ("OUTPUT", tmp_path), ("CACHE", tmp_path)):
        monkeypatch.setenv(f"METAPROGRAM_{key}_ROOT", str(root))
    spec = yaml.safe_load((SWEEP_DIR / "quant_recipe.yaml").read_text())
    spec["base"]["config"] = "metaprogram/tiny_llama_chain"
    spec["base"]["overrides"] = [
        "pipeline.quantize.scheme=w4a16",
        "pipeline.run_benchmark=false",
        "pipeline.evaluate.limit=4",
        "pipeline.quantize.num_calibration_samples=4",
        "pipeline.quantize.max_seq_length=64",
    ]
    spec["space"]["pipeline.quantize.recipe_args.group_size"]["type"] = "grid"
    spec["space"]["pipeline.quantize.recipe_args.block_size"]["values"] = [64]
    spec.update(count=1, suite="test")
    spec["tune"].update(algorithm="grid", retries=0)
    yield from_dict(spec)
    import ray

    ray.shutdown()


@pytest.mark.slow  # about 2.5 min on 2 loaded cores: Ray start and two chains
def test_the_recipe_sweep_scores_each_stage_and_names_its_best_recipe(tiny_recipe_sweep, tmp_path):
    from util.tune_sweep import run_tune

    sweep = tiny_recipe_sweep
    summary = run_tune(sweep)
    assert summary["complete"] and summary["trials"] == 2 and summary["failed"] == 0, summary
    assert summary["metric"] == "objective/score" and summary["mode"] == "max"
    paths = Paths(**{k: str(tmp_path) for k in ENV_VARS})
    objective = sweep.objective
    with Database(tmp_path / "metaprogram.db") as db:
        trials = db.trials(sweep.study_id)
    assert sorted(t["params"]["pipeline.quantize.recipe_args.group_size"] for t in trials) == [32, 64]
    sizes = {}
    for trial in trials:
        record = RunRecord(paths.run_dir(trial["run_id"])).results()
        metrics = record["metrics"]
        sizes[trial["params"]["pipeline.quantize.recipe_args.group_size"]] = metrics["quantize/size_after_mb"]
        if trial["status"] == "completed":  # every stage reported: baseline, quantize, quantized evaluation
            assert trial["epochs"] == 3
            recovery = metrics["recovery/group"]
            expected = 0.0 if recovery < 0.9 else recovery - 0.001 * metrics["quantize/size_after_mb"]
            assert trial["objective"] == pytest.approx(expected)
        else:  # ASHA stopped it after the quantize stage, scored with recovery assumed 1.0
            assert trial["status"] == "stopped" and trial["epochs"] == 2
            assert trial["objective"] == pytest.approx(1.0 - 0.001 * metrics["quantize/size_after_mb"])
        recipe = yaml.safe_load(
            (
                paths.run_dir(
                    json.loads((paths.run_dir(trial["run_id"]) / "stages.json").read_text())["quantize"]["id"]
                )
                / "recipe.yaml"
            ).read_text()
        )
        assert json.dumps(recipe).count('"block_size": 64') == 1
    assert sizes[32] > sizes[64]  # smaller groups: more scales to store
    best = summary["best"]
    assert best["objective"] == max(t["objective"] for t in trials if t["status"] != "failed")
    assert objective.score({"recovery/group": 1.0, "quantize/size_after_mb": 100.0}) == pytest.approx(0.9)
