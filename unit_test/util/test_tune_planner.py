"""`tune.algorithm: planner`: a Ray Tune sweep whose searcher is the planner, recorded like any study."""

from __future__ import annotations

import json

import pytest

from database.store import Database
from unit_test.planner.planner_helpers import structured_study
from util.study_runner import run_studies
from util.sweep_spec import SweepError, from_dict
from util.tune_sweep import run_tune

pytestmark = pytest.mark.integration  # Ray


def planner_sweep(checkpoint) -> dict:
    return {
        "name": "planner_sweep",
        "suite": "test",
        "base": {
            "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "execution"},
            "overrides": ["pipeline.epochs=2", "pipeline.device=cpu"],
        },
        "space": {
            "pipeline.optim.lr": {"type": "loguniform", "low": 0.001, "high": 0.1},
            "model.hidden": {"type": "choice", "values": [8, 16, 32]},
        },
        "mode": "tune",
        "count": 4,
        "seed": 0,
        "tune": {"algorithm": "planner", "planner_checkpoint": str(checkpoint), "planner_candidates": 4},
    }


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A planner with random weights: constrained decoding keeps every proposal valid whatever the weights."""
    from planner.model import Settings, build_model, save_checkpoint
    from planner.serialize import study_to_text
    from planner.vocab import Vocabulary

    settings = Settings(hidden=32, layers=1, heads=2, intermediate=64)
    vocab = Vocabulary.build([study_to_text(structured_study(s, dataset=d)) for s in range(2) for d in ("iris",)])
    out = tmp_path_factory.mktemp("planner") / "ckpt"
    save_checkpoint(out, build_model(settings, vocab), vocab, settings, {})
    return out


def test_a_planner_sweep_names_an_existing_checkpoint_or_none_for_the_shipped_one(tmp_path):
    from planner.model import SHIPPED, fingerprint

    spec = planner_sweep(tmp_path / "absent")
    with pytest.raises(SweepError, match="no planner checkpoint at"):
        from_dict(spec)
    del spec["tune"]["planner_checkpoint"]
    sweep = from_dict(spec)  # the shipped planner: its weights' digest is part of the study's id
    assert sweep.tune.planner_checkpoint is None
    spec["tune"]["planner_checkpoint"] = str(SHIPPED)
    assert from_dict(spec).study_id == sweep.study_id
    assert fingerprint(None) == fingerprint(SHIPPED)


def test_another_planner_or_other_planner_settings_is_another_study(checkpoint, tmp_path):
    """A finished study is reused by id: a retrained planner must not be judged by its predecessor's study."""
    import shutil

    spec = planner_sweep(checkpoint)
    same_weights_elsewhere = shutil.copytree(checkpoint, tmp_path / "copy")
    assert from_dict(planner_sweep(same_weights_elsewhere)).study_id == from_dict(spec).study_id
    retrained = shutil.copytree(checkpoint, tmp_path / "retrained")
    (retrained / "vocab.json").write_text((retrained / "vocab.json").read_text() + " ")
    assert from_dict(planner_sweep(retrained)).study_id != from_dict(spec).study_id
    spec["tune"]["planner_candidates"] = 8
    assert from_dict(spec).study_id != from_dict(planner_sweep(checkpoint)).study_id
    cooler = planner_sweep(checkpoint)
    cooler["tune"]["planner_temperature"] = 0.6
    assert from_dict(cooler).study_id != from_dict(planner_sweep(checkpoint)).study_id
    scheduled = planner_sweep(checkpoint)  # 4 candidates, 2 of them until the study has 5 trials
    scheduled["tune"]["planner_early_candidates"] = 2
    assert from_dict(scheduled).study_id != from_dict(planner_sweep(checkpoint)).study_id
    scheduled["tune"]["planner_early_candidates"] = 4  # as many early as late: no schedule, the same study
    assert from_dict(scheduled).study_id == from_dict(planner_sweep(checkpoint)).study_id
    unrefined = planner_sweep(checkpoint)  # no neighbours of the best scored late on: another study
    unrefined["tune"]["planner_neighbours"] = 0
    assert from_dict(unrefined).study_id != from_dict(planner_sweep(checkpoint)).study_id
    without_gp = planner_sweep(checkpoint)  # neighbours are scored only beside the GP: without it, no difference
    without_gp["tune"]["planner_local_model"] = None
    plain = json.loads(json.dumps(without_gp))
    plain["tune"]["planner_neighbours"] = 0
    assert from_dict(without_gp).study_id == from_dict(plain).study_id
    imitating = planner_sweep(checkpoint)  # no acquisition: the first sample is taken, nothing else is scored
    imitating["tune"]["planner_acquisition"] = None
    plain = json.loads(json.dumps(imitating))
    plain["tune"]["planner_neighbours"] = 0
    assert from_dict(imitating).study_id == from_dict(plain).study_id


def test_a_tune_sweep_searches_with_the_planner(ray_local, checkpoint, tmp_path, monkeypatch):
    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path))
    sweep = from_dict(planner_sweep(checkpoint))
    summary = run_tune(sweep)
    assert summary["complete"] and summary["trials"] == 4 and summary["completed"] == 4
    with Database(tmp_path / "metaprogram.db") as db:
        trials = db.trials(sweep.study_id)
        assert [t["order"] for t in trials] == [0, 1, 2, 3]
        for trial in trials:
            assert 0.001 <= trial["params"]["pipeline.optim.lr"] <= 0.1
            assert trial["params"]["model.hidden"] in (8, 16, 32)
            assert trial["objective"] is not None


def test_the_planner_plans_on_a_local_csv_in_a_real_tune_study(ray_local, checkpoint, tmp_path, monkeypatch):
    """The base names its data file (trusted); the planner's proposals (untrusted) only set the space's keys."""
    from sklearn.datasets import make_classification

    features, labels = make_classification(n_samples=120, n_features=5, n_informative=3, random_state=0)
    table = tmp_path / "my_table.csv"
    rows = [",".join([*(f"x{i}" for i in range(5)), "label"])]
    rows += [",".join([*(f"{v:.5f}" for v in x), str(y)]) for x, y in zip(features, labels, strict=True)]
    table.write_text("\n".join(rows) + "\n")
    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path / "out"))
    spec = planner_sweep(checkpoint)
    spec["base"]["components"]["dataset"] = "local/csv"
    spec["base"]["overrides"] += [f"dataset.file={table}", "dataset.target=label"]
    sweep = from_dict(spec)
    counts = run_studies([sweep], log=lambda line: None)  # as the held-out suite runs it: a batch of studies
    assert counts["complete"] == 1 and counts["failed"] == 0
    assert counts["proposals"]["sampled"] >= 4 * 4 and counts["proposals"]["rejected"] == 0  # 4 candidates each
    with Database(tmp_path / "out" / "metaprogram.db") as db:
        study = db.study(sweep.study_id)
        assert study["task"]["dataset"] == "csv" and study["task"]["dataset_facts"]["n_samples"] == 120
        assert study["base"]["dataset"]["file"] == str(table)
        assert study["status"] == "complete" and len(study["trials"]) == 4
        for trial in study["trials"]:
            assert trial["status"] == "completed" and set(trial["params"]) == set(spec["space"])
