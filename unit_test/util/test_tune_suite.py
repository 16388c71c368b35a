"""util/tune_suite.py: a study that fails is recorded as failed, and the suite goes on."""

from __future__ import annotations

import json

import pytest
import yaml

from database.store import Database


def suite_file(tmp_path, checkpoint) -> str:
    suite = {
        "suite": "failing",
        "count": 3,
        "overrides": ["pipeline.epochs=1", "pipeline.device=cpu", "~pipeline.hooks.progress"],
        "tune": {"concurrency": 4, "retries": 0, "planner_checkpoint": str(checkpoint)},
        "tasks": {"iris": {"dataset": "classification/iris"}},
        "models": {
            "mlp": {
                "model": "classic/mlp",
                "space": {"pipeline.optim.lr": {"type": "loguniform", "low": 0.001, "high": 0.1}},
            },
            # every point of this space is refused in the worker: each such trial fails alone, in a pack with others
            "bad": {
                "model": "classic/mlp",
                "space": {"pipeline.optim.name": {"type": "choice", "values": ["nonesuch"]}},
            },
        },
        # the planner's checkpoint folder is empty: that study cannot start; the random one must still run
        "studies": [
            {"models": ["mlp"], "algorithms": ["planner", "random"], "seeds": [0]},
            {"models": ["bad"], "algorithms": ["random"], "seeds": [0]},
        ],
    }
    path = tmp_path / "failing.yaml"
    path.write_text(yaml.safe_dump(suite))
    return str(path)


@pytest.mark.integration  # Ray Tune
def test_a_failed_study_is_recorded_and_the_suite_goes_on(tmp_path, monkeypatch, ray_local, capsys):
    from util.tune_suite import main

    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path / "out"))
    checkpoint = tmp_path / "empty_checkpoint"
    checkpoint.mkdir()
    db_path = tmp_path / "suite.db"
    status = main([suite_file(tmp_path, checkpoint), "--db", str(db_path)])
    out = capsys.readouterr().out
    counts = json.loads(out.strip().splitlines()[-1])
    assert status == 1  # not everything completed
    assert counts == {**counts, "studies": 3, "complete": 2, "failed": 1}
    assert "FAILED" in out
    with Database(db_path) as db:
        by_name = {s["id"].split(".")[2] + "." + s["algorithm"]: s for s in db.studies("failing")}
        random_trials = db.trials(by_name["mlp.random"]["id"])
        bad_trials = db.trials(by_name["bad.random"]["id"])
    assert by_name["mlp.planner"]["status"] == "failed"
    assert by_name["mlp.random"]["status"] == "complete"
    assert by_name["mlp.random"]["trials"] == 3
    # the random study ran in a batch (util/tune_batch.py): its trials are real runs that completed
    assert [t["status"] for t in random_trials] == ["completed"] * 3, random_trials
    assert all(t["objective"] is not None for t in random_trials)
    # the bad study's trials shared packs with the random study's (concurrency 4, 2 workers): each failed alone
    assert by_name["bad.random"]["status"] == "complete"
    assert [t["status"] for t in bad_trials] == ["failed"] * 3
    assert all("nonesuch" in t["error"] for t in bad_trials), bad_trials


@pytest.mark.integration  # Ray Tune
def test_the_batch_path_scores_trials_by_the_sweeps_own_objective(tmp_path, monkeypatch, ray_local):
    """A sweep that declares `objective` is searched and recorded by it in a batch, as its single sweep would be."""
    from util.sweep_spec import from_dict
    from util.tune_batch import run_batch

    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path / "out"))
    data = {
        "name": "by_loss",
        "base": {
            "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "execution"},
            "overrides": ["pipeline.epochs=1", "pipeline.device=cpu", "~pipeline.hooks.progress"],
        },
        "space": {"pipeline.optim.lr": {"type": "loguniform", "low": 0.001, "high": 0.1}},
        "mode": "tune",
        "count": 3,
        "tune": {"algorithm": "tpe"},
        "objective": {"metric": "val/loss", "mode": "min"},  # the base metaprogram's is val/accuracy, max
    }
    sweep = from_dict(data, "by_loss.yaml")
    assert sweep.base()[0].objective() != ("val/loss", "min") and sweep.batchable
    db_path = tmp_path / "objective.db"
    summary = run_batch([sweep], db_url=str(db_path))
    assert summary["complete"] == 1, summary
    with Database(db_path) as db:
        study = db.study(sweep.study_id)
        assert (study["metric"], study["mode"]) == (sweep.objective.metric, "min")
        for trial in study["trials"]:
            assert trial["status"] == "completed"
            assert trial["objective"] == pytest.approx(db.run(trial["run_id"])["metrics"]["val/loss"])
