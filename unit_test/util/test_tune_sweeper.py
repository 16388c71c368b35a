"""The Ray Tune sweeper on a real local Ray instance: failures, time limits, ASHA against FIFO."""

from __future__ import annotations

import json

import pytest

from database.store import Database
from engine.paths import ENV_VARS, Paths
from engine.records import RunRecord
from unit_test.util.sweep_helpers import sleep_sweep
from util.sweep_spec import from_dict
from util.tune_sweep import run_tune

pytestmark = pytest.mark.integration  # Ray


def test_a_trial_that_raises_and_one_past_its_time_limit_are_failed_and_the_sweep_goes_on(
    ray_local, tmp_path, monkeypatch
):
    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path))
    spec = sleep_sweep(
        "failures",
        {
            "pipeline.fail": {"type": "grid", "values": [False, True]},
            "pipeline.seconds": {"type": "grid", "values": [0.05, 3.0]},
        },
        count=1,
        overrides=["pipeline.resources.time_limit_s=1", "pipeline.epochs=2"],
        algorithm="grid",
        retries=0,
    )
    sweep = from_dict(spec)
    summary = run_tune(sweep)
    assert summary["complete"] and summary["trials"] == 4
    assert summary["completed"] == 1 and summary["failed"] == 3
    with Database(tmp_path / "metaprogram.db") as db:
        trials = db.trials(sweep.study_id)
        paths = Paths(**{k: str(tmp_path) for k in ENV_VARS})
        for trial in trials:
            params = trial["params"]
            record = RunRecord(paths.run_dir(trial["run_id"])).results()
            if params["pipeline.fail"]:
                assert trial["status"] == "failed" and "asked to fail" in trial["error"]
                assert record["status"] == "failed" and "RuntimeError" in record["error"]
            elif params["pipeline.seconds"] == 3.0:
                assert trial["status"] == "failed" and "TimeLimitExceeded" in trial["error"]
                assert record["status"] == "failed"
            else:
                assert trial["status"] == "completed" and trial["objective"] is not None
                assert record["status"] == "completed"
            assert db.run(trial["run_id"])["status"] == trial["status"]


def _asha_or_fifo(scheduler: str, root, monkeypatch) -> dict:
    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(root))  # separate roots: no run is reused across the two
    # the real execution pipeline; val/loss (min) so that trials differ at every rung
    spec = {
        "name": f"cmp_{scheduler}",
        "suite": "test",
        "base": {
            "components": {
                "model": "classic/mlp",
                "dataset": "synthetic/classification",
                "pipeline": "execution",
            },
            "overrides": [
                "dataset.n_samples=300",
                "dataset.class_sep=0.6",
                "pipeline.epochs=8",
                "pipeline.device=cpu",
                "pipeline.objective.metric=val/loss",
                "~pipeline.hooks.progress",
                "~pipeline.hooks.early_stopping",
            ],
        },
        "space": {
            "pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.3},
            "model.hidden": {"type": "choice", "values": [4, 16, 64]},
        },
        "mode": "tune",
        "count": 10,
        "seed": 7,
        "tune": {"algorithm": "random", "scheduler": scheduler, "concurrency": 2, "grace_period": 1},
    }
    return run_tune(from_dict(spec))


def test_asha_runs_fewer_epochs_than_fifo_at_the_same_trial_count(ray_local, tmp_path, monkeypatch):
    fifo = _asha_or_fifo("fifo", tmp_path / "fifo", monkeypatch)
    asha = _asha_or_fifo("asha", tmp_path / "asha", monkeypatch)
    figures = {
        name: {"trials": s["trials"], "epochs": s["epochs_run"], "stopped": s["stopped"], "best": s["best"]}
        for name, s in (("fifo", fifo), ("asha", asha))
    }
    print("ASHA vs FIFO:", json.dumps(figures, sort_keys=True))
    assert fifo["trials"] == asha["trials"] == 10
    assert fifo["epochs_run"] == 80 and fifo["stopped"] == 0
    assert asha["stopped"] > 0 and asha["epochs_run"] < fifo["epochs_run"]
    assert asha["best"]["objective"] is not None
    # a stopped trial's run is recorded 'stopped', never left 'running'
    paths = Paths(**{k: str(tmp_path / "asha") for k in ENV_VARS})
    with Database(tmp_path / "asha" / "metaprogram.db") as db:
        for study in db.studies():
            for trial in db.trials(study["id"]):
                record = RunRecord(paths.run_dir(trial["run_id"])).results()
                assert record is None or record["status"] in ("completed", "stopped")
