"""The study database: idempotent writes, export format, and survival of SIGKILL mid-write."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from database.export import export_jsonl
from database.store import Database, StudyRecord

REPO = Path(__file__).resolve().parents[2]
TASK = {
    "pipeline": "execution",
    "model": "mlp",
    "dataset": "iris",
    "dataset_facts": {"task": "classification", "n_samples": 150, "n_features": 4, "n_classes": 3},
    "objective": {"metric": "val/accuracy", "mode": "max"},
}
SPACE = {"pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.1}}
TRIAL_KEYS = {"order", "params", "objective", "status", "run_id"}
STUDY_KEYS = {"study_id", "task", "search_space", "algorithm", "scheduler", "seed", "base", "trials"}


def make_study(db: Database, study_id: str, requested: int = 3) -> None:
    db.begin_study(
        StudyRecord(
            id=study_id,
            task=TASK,
            search_space=SPACE,
            algorithm="tpe",
            scheduler="fifo",
            metric="val/accuracy",
            mode="max",
            seed=0,
            base={"model": {"name": "mlp"}},
            requested=requested,
        )
    )


def test_writes_are_idempotent_and_export_keeps_the_agreed_keys(tmp_path):
    with Database(tmp_path / "m.db") as db:
        make_study(db, "s1")
        for order in (2, 0, 1, 1):  # out of order, and one written twice
            db.record_trial(
                "s1",
                order,
                run_id=f"r{order}",
                params={"pipeline.optim.lr": 0.01 * (order + 1)},
                objective=None if order == 1 else 0.5 + order / 10,
                status="failed" if order == 1 else ("stopped" if order == 2 else "completed"),
                error="boom" if order == 1 else None,
                run=({"model": {"name": "mlp"}}, {"val/accuracy": 0.5}, {"wall_s": 1.0}),
            )
        make_study(db, "s1")  # beginning again (a resume) keeps its trials
        assert len(db.trials("s1")) == 3
        assert db.run("r1")["status"] == "failed" and db.run("r0")["status"] == "completed"
        make_study(db, "s2", requested=5)  # incomplete: not exported
        db.record_trial("s2", 0, run_id="x", params={}, objective=1.0, status="completed")
        assert db.finish_study("s1") and not db.finish_study("s2")
        count = export_jsonl(db, tmp_path / "out.jsonl")
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert count == 1 and len(lines) == 1
    study = json.loads(lines[0])
    assert set(study) == STUDY_KEYS and study["study_id"] == "s1"
    assert [t["order"] for t in study["trials"]] == [0, 1, 2]
    assert all(set(t) == TRIAL_KEYS for t in study["trials"])
    assert [t["status"] for t in study["trials"]] == ["completed", "failed", "completed"]  # stopped -> completed
    assert study["trials"][1]["objective"] is None and study["trials"][2]["objective"] == 0.7
    assert study["task"] == TASK and study["search_space"] == SPACE


@pytest.mark.integration  # a subprocess killed mid-write
def test_sigkill_during_writes_leaves_a_valid_database(tmp_path):
    db_path = tmp_path / "kill.db"
    script = tmp_path / "writer.py"
    script.write_text(
        "import sys\n"
        "from database.store import Database, StudyRecord\n"
        "db = Database(sys.argv[1])\n"
        "i = 0\n"
        "while True:\n"
        "    sid = f's{i}'\n"
        "    db.begin_study(StudyRecord(id=sid, task={}, search_space={}, algorithm='random', scheduler='fifo',\n"
        "                   metric='m', mode='min', seed=i, base={}, requested=25))\n"
        "    for k in range(25):\n"
        "        db.record_trial(sid, k, run_id=f'{sid}-{k}', params={'x': k}, objective=float(k),\n"
        "                        status='completed', run=({'seed': k}, {'m': float(k)}, {}))\n"
        "    db.finish_study(sid)\n"
        "    i += 1\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for delay in (0.05, 0.13, 0.29):  # after the first complete study: the kill lands mid-write, whatever the load
        proc = subprocess.Popen([sys.executable, str(script), str(db_path)], env=env)
        _wait_for_a_complete_study(db_path, proc)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        conn = sqlite3.connect(db_path)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
        with Database(db_path) as db:
            n = export_jsonl(db, tmp_path / "kill.jsonl")
            total = len(db.studies())
        studies = [json.loads(line) for line in (tmp_path / "kill.jsonl").read_text().splitlines()]
        assert len(studies) == n and n >= 1
        assert total >= n  # a study cut by the kill stays in the database, not in the export
        for study in studies:
            assert [t["order"] for t in study["trials"]] == list(range(25))


def _wait_for_a_complete_study(db_path: Path, proc: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and proc.poll() is None:
        if db_path.exists():
            conn = sqlite3.connect(db_path, timeout=5)
            try:
                if conn.execute("SELECT COUNT(*) FROM studies WHERE status='complete'").fetchone()[0] > 0:
                    return
            except sqlite3.OperationalError:  # the writer has not created the tables yet
                pass
            finally:
                conn.close()
        time.sleep(0.02)
    raise AssertionError("the writer never completed a study")


@pytest.mark.integration  # the command line in subprocesses
def test_cli_lists_shows_and_exports(tmp_path):
    db_path = tmp_path / "cli.db"
    with Database(db_path) as db:
        make_study(db, "s1", requested=1)
        db.record_trial("s1", 0, run_id="r", params={"a": 1}, objective=0.9, status="completed")
        db.finish_study("s1")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = lambda *a: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "database", "--db", str(db_path), *a], env=env, capture_output=True, text=True
    )
    listing = run("list")
    assert listing.returncode == 0 and "s1" in listing.stdout and "1/1 trials" in listing.stdout
    assert json.loads(run("show", "s1", "--format", "json").stdout)["trials"][0]["objective"] == 0.9
    readable = run("show", "s1").stdout
    assert "study s1  complete  (1/1 trials)" in readable and "0.9" in readable
    missing = run("show", "nope")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr and "s1" in missing.stderr
    assert run("export", str(tmp_path / "o.jsonl")).returncode == 0
    assert len((tmp_path / "o.jsonl").read_text().splitlines()) == 1
