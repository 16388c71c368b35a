"""Sweep progress and reports: the progress line's arithmetic, the report's plots and summary, and a real
Ray Tune sweep that prints its progress, writes its report and is tracked in MLflow as a parent with nested trials."""

from __future__ import annotations

import pytest

from database.reports import best_so_far, comparison, study_report
from database.store import Database, StudyRecord
from unit_test.util.sweep_helpers import sleep_sweep
from util.sweep_watch import SweepProgress

PNG = b"\x89PNG\r\n\x1a\n"


def test_progress_counts_best_so_far_and_eta(monkeypatch):
    clock = iter([100.0, 120.0, 120.0])  # started, then the line asks the time
    monkeypatch.setattr("util.sweep_watch.time.monotonic", lambda: next(clock))
    progress = SweepProgress(10, "val/loss", "min", done_before=[{"order": 0, "status": "completed", "objective": 0.5}])
    progress.trial_started()
    progress.trial_started()
    progress.trial_ended("completed", 0.3, 1)
    progress.trial_ended("failed", None, 2)
    progress.trial_ended("stopped", 0.4, 3)
    line = progress.line()  # at t=120: 3 ended here in 20 s -> 6 left take 40 s
    assert line.startswith("4/10 trials | 2 completed | 1 stopped | 1 failed | 0 running")
    assert "best val/loss 0.3 (trial 1)" in line and "ETA 0:00:40" in line


def test_best_so_far_ignores_failed_trials_and_follows_the_mode():
    trials = [
        {"objective": 0.5, "status": "completed"},
        {"objective": None, "status": "failed"},
        {"objective": 0.9, "status": "stopped"},
        {"objective": 0.7, "status": "completed"},
    ]
    assert best_so_far(trials, "max") == [0.5, 0.5, 0.9, 0.9]
    assert best_so_far(trials, "min") == [0.5, 0.5, 0.5, 0.5]


def _study(db, study_id: str, algorithm: str, objectives: list, task=None) -> None:
    space = {
        "pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.1},
        "model.hidden": {"type": "choice", "values": [16, 32, 64]},
    }
    db.begin_study(
        StudyRecord(
            id=study_id,
            task=task or {"pipeline": "execution", "model": "mlp", "dataset": "iris"},
            search_space=space,
            algorithm=algorithm,
            scheduler="fifo",
            metric="val/accuracy",
            mode="max",
            seed=0,
            base={},
            requested=len(objectives),
        )
    )
    for i, value in enumerate(objectives):
        params = {"pipeline.optim.lr": 10 ** -(1 + i % 3), "model.hidden": [16, 32, 64][i % 3]}
        status = "failed" if value is None else "completed"
        db.record_trial(study_id, i, run_id=f"{study_id}-{i}", params=params, objective=value, status=status)
    db.finish_study(study_id)


def test_report_compares_studies_of_the_same_task_and_summarises(tmp_path):
    with Database(tmp_path / "metaprogram.db") as db:
        _study(db, "tpe-study", "tpe", [0.6, None, 0.8, 0.75, 0.9])
        _study(db, "random-study", "random", [0.5, 0.7, 0.7, 0.72, 0.74])
        _study(db, "other-task", "random", [0.1, 0.2], task={"pipeline": "execution", "model": "cnn"})
        assert comparison(db, db.study("tpe-study")) == ["tpe-study", "random-study"]
        files = study_report(db, "tpe-study", tmp_path)
    folder = tmp_path / "sweeps" / "tpe-study" / "report"
    assert [f.name for f in files] == ["best_so_far.png", "params.png", "report.md"]
    assert all(f.parent == folder and f.stat().st_size > 10_000 for f in files if f.suffix == ".png")
    assert all(f.read_bytes()[:8] == PNG for f in files if f.suffix == ".png")
    text = (folder / "report.md").read_text()
    assert "5 of 5 (4 completed, 0 stopped early, 1 failed)" in text
    assert "best: val/accuracy = 0.9 at trial 4 (run `tpe-study-4`)" in text
    assert "| random-study | random/fifo seed 0 | 5 | 0.74 |" in text and "other-task" not in text


@pytest.mark.integration  # Ray Tune
@pytest.mark.usefixtures("ray_local")
def test_a_tune_sweep_shows_progress_writes_its_report_and_nests_its_trials_in_mlflow(tmp_path, monkeypatch, capsys):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    from unit_test.mlflow_store import client, empty_store
    from util.sweep_spec import from_dict
    from util.tune_sweep import run_tune

    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path))
    empty_store(tmp_path)
    spec = sleep_sweep(
        "watched",
        {"pipeline.x": {"type": "uniform", "low": 0.0, "high": 1.0}},
        count=3,
        overrides=["pipeline.seconds=0.01", "pipeline.epochs=2", "+pipeline.hooks.mlflow={}"],
        algorithm="random",
        scheduler="fifo",
    )
    sweep = from_dict(spec)
    summary = run_tune(sweep)
    assert summary["complete"] and summary["completed"] == 3

    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("sweep: ")]
    assert len(lines) == 3 and lines[-1].startswith("sweep: 3/3 trials | 3 completed | 0 stopped | 0 failed")
    assert f"best val/loss {summary['best']['objective']:.4g}" in lines[-1]

    folder = tmp_path / "sweeps" / sweep.study_id / "report"
    assert summary["report"] == str(folder)
    assert {p.name for p in folder.iterdir()} == {"best_so_far.png", "params.png", "report.md"}

    c = client(tmp_path)
    runs = c.search_runs([c.get_experiment_by_name("metaprogram-runner").experiment_id])
    (parent,) = [r for r in runs if r.info.run_name == sweep.study_id]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 3 and len(runs) == 4
    assert parent.data.metrics["final/best_objective"] == pytest.approx(summary["best"]["objective"])
    assert parent.data.params["sweep.algorithm"] == "random"
    assert {a.path for a in c.list_artifacts(parent.info.run_id)} >= {"best_so_far.png", "report.md"}
