"""Development data: real runs through the runner, studies replayed in the export format, regret."""

from __future__ import annotations

import pytest

from engine.paths import Paths
from planner.dev_data import TableObjective, base_metaprogram, dataset_facts, replay_study, run_point
from planner.train import read_studies
from util.search_space import grid

SPACE = {
    "model.hidden": {"type": "choice", "values": [8, 16]},
    "pipeline.optim.lr": {"type": "choice", "values": [1e-3, 1e-1]},
}


def test_a_point_is_a_real_recorded_run(tmp_path):
    paths = Paths(
        data_root=str(tmp_path), model_root=str(tmp_path), cache_root=str(tmp_path), output_root=str(tmp_path)
    )
    base = base_metaprogram({"name": "iris"})
    entry = run_point(base, {"model.hidden": 8, "pipeline.optim.lr": 0.01}, paths)
    assert entry["status"] == "completed" and 0.0 <= entry["objective"] <= 1.0
    assert (tmp_path / "runs" / entry["run_id"] / "results.json").exists()
    facts = dataset_facts({"name": "iris"})
    assert {k: facts[k] for k in ("task", "n_samples", "n_features", "n_classes")} == {
        "task": "classification",
        "n_samples": 150,
        "n_features": 4,
        "n_classes": 3,
    }
    assert 0.9 <= facts["balance"] <= 1.0 and 0.7 <= facts["lin"] <= 1.0 and 0.7 <= facts["knn"] <= 1.0


def fake_table() -> dict:
    """A hand-made table (not real runs) for testing the replay logic only."""
    entries = [
        {
            "params": p,
            "objective": p["model.hidden"] / 16 - p["pipeline.optim.lr"],
            "status": "completed",
            "run_id": str(i),
        }
        for i, p in enumerate(grid(SPACE))
    ]
    task = {
        "pipeline": "execution",
        "model": "mlp",
        "dataset": "iris",
        "dataset_facts": {"task": "classification", "n_samples": 150, "n_features": 4, "n_classes": 3},
        "objective": {"metric": "val/accuracy", "mode": "max"},
    }
    return {"name": "fake", "task": task, "search_space": SPACE, "base": {}, "entries": entries}


@pytest.mark.parametrize("algorithm", ["random", "tpe"])
def test_replayed_studies_follow_the_export_format(algorithm, tmp_path):
    study = replay_study(fake_table(), algorithm, seed=1, n_trials=4)
    assert set(study) == {"study_id", "task", "search_space", "algorithm", "scheduler", "seed", "base", "trials"}
    assert [t["order"] for t in study["trials"]] == [0, 1, 2, 3]
    if algorithm == "random":  # without replacement on a finite grid: all four points
        assert len({t["run_id"] for t in study["trials"]}) == 4
    path = tmp_path / "s.jsonl"
    path.write_text(__import__("json").dumps(study) + "\n")
    assert read_studies(path)[0]["study_id"] == study["study_id"]


def test_regret_is_normalised_between_worst_and_best():
    objective = TableObjective(fake_table())
    assert objective.regret(objective.best) == 0.0 and objective.regret(objective.worst) == 1.0
    assert objective.regret(None) == 1.0
    middle = (objective.best + objective.worst) / 2
    assert objective.regret(middle) == pytest.approx(0.5)
