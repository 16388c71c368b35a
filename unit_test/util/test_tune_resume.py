"""SIGKILL the sweep driver halfway, resume with tune.resume=true: no completed trial runs again."""

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

pytestmark = pytest.mark.integration  # Ray

REPO = Path(__file__).resolve().parents[2]
TRIALS = 10


def _sweep_file(tmp_path: Path) -> Path:
    path = tmp_path / "resume.yaml"
    path.write_text(
        json.dumps(
            {
                "name": "resume",
                "suite": "test",
                "base": {
                    "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "sleep"},
                    "overrides": ["pipeline.seconds=0.4", "pipeline.epochs=2"],
                },
                "space": {"pipeline.x": {"type": "uniform", "low": 0.0, "high": 1.0}},
                "mode": "tune",
                "count": TRIALS,
                "seed": 0,
                "tune": {"algorithm": "random", "scheduler": "fifo", "concurrency": 2},
            }
        )
    )
    return path


def _recorded(db: Path) -> int:
    try:
        conn = sqlite3.connect(db)
        try:
            return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error:
        return 0


def _starts(runs: Path) -> dict[str, int]:
    """How many times each run's pipeline started (the engine logs one line per start)."""
    out = {}
    for log in runs.glob("*/run.log"):
        out[log.parent.name] = sum(": sleep on iris with mlp" in line for line in log.read_text().splitlines())
    return out


def _completed(runs: Path) -> dict[str, str]:
    done = {}
    for results in runs.glob("*/results.json"):
        data = json.loads(results.read_text())
        if data["status"] == "completed":
            done[results.parent.name] = data["timings"]["finished"]
    return done


def test_sigkill_the_driver_then_resume(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "METAPROGRAM_OUTPUT_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-B", str(REPO / "util" / "sweeper.py"), str(_sweep_file(tmp_path))]
    db, runs = tmp_path / "metaprogram.db", tmp_path / "runs"
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _recorded(db) < TRIALS // 2 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    killed_at = _recorded(db)
    assert 0 < killed_at < TRIALS, f"the kill came at {killed_at} of {TRIALS} trials"
    time.sleep(2)  # let the killed driver's Ray processes go
    done_before = _completed(runs)
    assert all(n == 1 for run, n in _starts(runs).items() if run in done_before)

    resumed = subprocess.run([*cmd, "tune.resume=true"], env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    summary = json.loads(resumed.stdout[resumed.stdout.index("{") :])
    starts, done_after = _starts(runs), _completed(runs)
    rerun = [run for run in done_before if starts[run] != 1 or done_after[run] != done_before[run]]
    print(
        f"resume: killed after {killed_at} recorded trials, {len(done_before)} runs completed; "
        f"after resume {summary['trials']} trials, {len(done_after)} runs completed, "
        f"{len(rerun)} completed runs re-run"
    )
    assert rerun == []
    assert summary["complete"] and summary["trials"] == TRIALS and summary["completed"] == TRIALS
    assert len(done_after) == TRIALS
