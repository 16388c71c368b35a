"""A run killed with SIGTERM mid-training resumes from its checkpoint and ends like an uninterrupted one."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from unit_test.helpers import REPO, run_cli

pytestmark = pytest.mark.integration  # a subprocess killed and restarted

ARGS = [
    "+metaprogram/component/pipeline=execution",
    "+metaprogram/component/model=classic/mlp",
    "+metaprogram/component/dataset=synthetic/classification",
    "+path=default",
    "dataset.n_samples=20000",
    "model.hidden=256",
    "model.dropout=0.1",
    "pipeline.epochs=8",
    "pipeline.hooks.early_stopping.patience=100",
    "pipeline.schedule.name=cosine",
]


def test_sigterm_then_restart_gives_the_same_metrics(cli_env, tmp_path):
    straight_env = {**cli_env, "METAPROGRAM_OUTPUT_ROOT": str(tmp_path / "straight")}
    straight = run_cli(ARGS, straight_env, tmp_path)
    assert straight.returncode == 0, straight.stderr
    (straight_results,) = (tmp_path / "straight" / "runs").glob("*/results.json")

    proc = subprocess.Popen(
        [sys.executable, "-B", str(REPO / "run_metaprogram.py"), *ARGS],
        cwd=tmp_path,
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    checkpoint = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "out" / "runs").glob("*/checkpoints/last.pt"))
        if found:
            checkpoint = found[0]
            break
        time.sleep(0.05)
    assert checkpoint is not None and proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert "Traceback" not in stderr and "run the same command again to resume" in stderr
    results = checkpoint.parent.parent / "results.json"
    assert json.loads(results.read_text())["status"] == "interrupted"

    resumed = run_cli(ARGS, cli_env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from the checkpoint of epoch" in resumed.stderr
    final = json.loads(results.read_text())
    assert final["status"] == "completed"
    assert final["metrics"] == json.loads(straight_results.read_text())["metrics"]
