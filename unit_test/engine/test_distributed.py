"""Data-parallel training on Ray Train (engine/distributed.py): 2 CPU workers give the single-process run's
metrics, keep its id and run directory, and a SIGTERM mid-training resumes from Ray Train's checkpoint."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

from unit_test.helpers import REPO, run_cli

pytestmark = pytest.mark.integration  # Ray Train workers, the command line killed and restarted

ARGS = [
    "+metaprogram/component/pipeline=execution",
    "+metaprogram/component/model=classic/mlp",
    "+metaprogram/component/dataset=synthetic/classification",
    "+path=default",
    "dataset.n_samples=12000",
    "model.hidden=128",
    "pipeline.epochs=5",
    "pipeline.batch_size=64",
    "pipeline.hooks.early_stopping.patience=100",
    "pipeline.schedule.name=cosine",
]
# two workers, each streaming its share of every batch through the sharding sampler
DISTRIBUTED = ["pipeline.distributed.workers=2", "pipeline.loader.in_memory_limit_gb=0", "pipeline.loader.workers=0"]


def test_two_workers_give_the_single_process_metrics_and_resume_after_sigterm(cli_env, tmp_path):
    from engine.compose import load
    from engine.runner import execute

    single = load(ARGS)
    straight = execute(single.metaprogram, single.paths.model_copy(update={"output_root": str(tmp_path / "single")}))

    command = [sys.executable, "-B", str(REPO / "run_metaprogram.py"), *ARGS, *DISTRIBUTED]
    proc = subprocess.Popen(
        command, cwd=tmp_path, env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    checkpoint, deadline = None, time.monotonic() + 240
    while checkpoint is None and time.monotonic() < deadline and proc.poll() is None:
        checkpoint = next(iter((tmp_path / "out" / "runs").glob("*/checkpoints/ray_train/train/checkpoint_*/last.pt")),
                          None)  # fmt: skip
        time.sleep(0.05)
    assert checkpoint is not None and proc.poll() is None, "the run ended before it could be interrupted"
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, stderr
    run_dir = checkpoint.parents[4]
    assert run_dir.name == single.metaprogram.id  # the worker count is a resource: the same id
    assert json.loads((run_dir / "results.json").read_text())["status"] == "interrupted"

    resumed = run_cli([*ARGS, *DISTRIBUTED], cli_env, tmp_path, timeout=400)
    assert resumed.returncode == 0, resumed.stderr
    log = (run_dir / "run.log").read_text()
    assert "resuming from the checkpoint of epoch" in log and "data-parallel training: 2 workers" in log
    final = json.loads((run_dir / "results.json").read_text())
    assert final["status"] == "completed" and final["observers"]["pipeline.distributed"]["workers"] == 2
    metrics, expected = final["metrics"], straight["metrics"]
    assert metrics.keys() == expected.keys() and metrics["epochs"] == expected["epochs"] == 5
    for key in ("val/loss", "test/loss", "val/accuracy", "test/accuracy"):
        assert metrics[key] == pytest.approx(expected[key], rel=1e-3, abs=2e-3), key
