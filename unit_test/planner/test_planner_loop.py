"""The generation loop end to end: proposals validated, run for real, recorded, planner retrained."""

from __future__ import annotations

import json

import pytest

from planner.loop import main

pytestmark = pytest.mark.integration  # proposals run through job_launch on Ray


def test_loop_grows_the_record_with_real_runs(untrained_checkpoint, tmp_path, capsys):
    root = tmp_path / "loop"
    args = ["--checkpoint", str(untrained_checkpoint), "--root", str(root), "--corpus", str(tmp_path / "none.jsonl")]
    args += ["--tasks", "iris", "--iterations", "2", "--per-study", "2", "--train-steps", "2", "-k", "4"]
    assert main(args) == 0
    studies = [json.loads(line) for line in (root / "studies.jsonl").read_text().splitlines()]
    assert len(studies) == 1 and len(studies[0]["trials"]) == 4
    for order, trial in enumerate(studies[0]["trials"]):
        assert trial["order"] == order and trial["status"] == "completed"
        assert (root / "runs" / trial["run_id"] / "results.json").exists()  # a real run, recorded
    assert (root / "ckpt-2" / "model").is_dir() and (root / "ckpt-latest" / "vocab.json").exists()
    from database.store import Database

    with Database(root / "metaprogram.db") as db:  # job_launch recorded every proposal as a trial
        trials = db.trials(studies[0]["study_id"])
        assert [t["run_id"] for t in trials] == [t["run_id"] for t in studies[0]["trials"]]
        assert all(db.run(t["run_id"])["status"] == "completed" for t in trials)
        assert db.study(studies[0]["study_id"])["status"] == "complete"
    out = capsys.readouterr().out
    assert "record 0 -> 2 trials" in out and "record 2 -> 4 trials" in out and "0 of" in out


def test_loop_refuses_a_missing_checkpoint(tmp_path, capsys):
    assert main(["--checkpoint", str(tmp_path / "nothing"), "--root", str(tmp_path), "--tasks", "iris"]) == 2
    assert "not a planner checkpoint" in capsys.readouterr().err


def test_loop_refuses_an_unknown_held_out_space_before_running_anything(untrained_checkpoint, tmp_path, capsys):
    args = ["--checkpoint", str(untrained_checkpoint), "--root", str(tmp_path / "loop"), "--tasks", "iris"]
    assert main([*args, "--evaluate", "--eval-models", "no_such_space"]) == 2
    assert "no_such_space" in capsys.readouterr().err
    assert not (tmp_path / "loop" / "metaprogram.db").exists()  # nothing began
