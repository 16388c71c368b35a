"""job_launch on real Ray: a head started on loopback by the test, GPU rejection, failures and retries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from database.store import Database
from engine.compose import load
from unit_test.helpers import write_sleep_jobs
from unit_test.ray_nodes import RayNode, failure_report, free_port, start_in_tries, wait_started

# Ray; most tests share one `ray start --head` (module fixture), so the module stays on one pytest-xdist worker
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("job_launch")]

REPO = Path(__file__).resolve().parents[2]
# A throwaway cluster on loopback: no auth token to share between the head and its clients.
HEAD_ENV = {
    "PYTHONPATH": str(REPO),
    "OMP_NUM_THREADS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
}


def _start_head(log_dir: Path) -> tuple[RayNode, str | None]:
    port = free_port()
    args = ["--num-cpus=2", "--num-gpus=0", "--include-dashboard=false"]
    head = RayNode(args, {**os.environ, **HEAD_ENV}, REPO, Path(f"/tmp/rw5_{port}"), log_dir / "head.out", port=port)
    head.start()
    why = wait_started({"head": head}, timeout=150, restart=False)
    return head, why and failure_report(f"the loopback Ray head did not come up: {why}", {"head": head})


@pytest.fixture(scope="module")
def loopback_head(tmp_path_factory):
    """`ray start --head` on 127.0.0.1 in its own temp dir (so no other Ray user finds it), stopped after."""
    head = start_in_tries(lambda: _start_head(tmp_path_factory.mktemp("head")))
    yield head.address
    head.stop()


def _summary(stdout: str) -> dict:
    """The JSON summary job_launch prints last (Ray may print task errors before it)."""
    lines = stdout.splitlines()
    start = max(i for i, line in enumerate(lines) if line == "{")
    return json.loads("\n".join(lines[start:]))


def _launch(files, tmp_path, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, **HEAD_ENV, "METAPROGRAM_OUTPUT_ROOT": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "job_launch", *map(str, files), "--no-progress", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_jobs_run_on_a_ray_head_given_by_address(loopback_head, tmp_path):
    files = write_sleep_jobs(tmp_path / "jobs", [[], [], []])
    done = _launch(files, tmp_path, "--address", loopback_head)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = _summary(done.stdout)
    assert summary["completed"] == 3 and summary["failed"] == 0
    # joined the test's head (Ray reports the host's address for it), not a fresh local instance
    assert summary["gcs_address"].rsplit(":", 1)[1] == loopback_head.rsplit(":", 1)[1]
    with Database(tmp_path / "metaprogram.db") as db:
        assert [r["status"] for r in db.runs()] == ["completed"] * 3


def test_a_gpu_job_is_rejected_before_anything_starts(loopback_head, tmp_path):
    files = write_sleep_jobs(tmp_path / "jobs", [[], ["pipeline.resources.gpus=1"]])
    rejected = _launch(files, tmp_path, "--address", loopback_head)
    assert rejected.returncode == 2
    assert "no node can offer 1 GPU" in rejected.stderr and "nothing was started" in rejected.stderr
    assert "Traceback" not in rejected.stderr
    assert not (tmp_path / "runs").exists()  # not even the CPU job ran


def test_one_failure_stops_no_other_and_is_retried_and_recorded(loopback_head, tmp_path):
    files = write_sleep_jobs(tmp_path / "jobs", [[], ["pipeline.fail=true"], []])
    done = _launch(files, tmp_path, "--address", loopback_head, "--retries", "1")
    assert done.returncode == 1
    summary = _summary(done.stdout)
    assert summary["completed"] == 2 and summary["failed"] == 1
    with Database(tmp_path / "metaprogram.db") as db:
        failed = db.runs("failed")
        assert len(failed) == 1 and "asked to fail" in failed[0]["error"]
        assert len(db.runs("completed")) == 2
    log = (tmp_path / "runs" / failed[0]["id"] / "run.log").read_text()
    assert log.count("sleep on iris with mlp") == 2  # the first try and one retry


def test_bad_files_are_refused_with_every_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"model": {"name": "mlpp"}, "dataset": {"name": "iris"}, "pipeline": {"name": "x"}}))
    refused = _launch([bad, tmp_path / "missing.yaml"], tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert "did you mean 'mlp'" in refused.stderr and "missing.yaml: cannot read it" in refused.stderr


def test_ctrl_c_cancels_jobs_in_flight_and_leaves_consistent_records(loopback_head, tmp_path):
    files = write_sleep_jobs(tmp_path / "jobs", [["pipeline.seconds=30"], ["pipeline.seconds=30"]])
    env = {**os.environ, **HEAD_ENV, "METAPROGRAM_OUTPUT_ROOT": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "job_launch", *map(str, files), "--no-progress", "--address", loopback_head],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    runs = tmp_path / "runs"
    deadline = time.monotonic() + 120
    while len(list(runs.glob("*/results.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    statuses = [json.loads(p.read_text())["status"] for p in runs.glob("*/results.json")]
    assert statuses == ["interrupted", "interrupted"]  # each run recorded itself, none left 'running'
    with Database(tmp_path / "metaprogram.db") as db:
        assert [r["status"] for r in db.runs()] == ["interrupted", "interrupted"]


def test_a_grid_sweep_launched_on_the_head_is_recorded_as_a_complete_study(loopback_head, tmp_path):
    env = {**os.environ, **HEAD_ENV, "METAPROGRAM_OUTPUT_ROOT": str(tmp_path)}
    sweep = tmp_path / "grid.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "grid",
                "base": {
                    "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "sleep"},
                    "overrides": ["pipeline.seconds=0.05"],
                },
                "space": {"pipeline.x": {"type": "grid", "values": [0.1, 0.3, 0.5]}},
                "mode": "grid",
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-B", str(REPO / "util" / "sweeper.py"), str(sweep), "--launch", "--address", loopback_head],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    with Database(tmp_path / "metaprogram.db") as db:
        (study,) = db.studies()
        assert study["status"] == "complete" and study["trials"] == 3 and study["algorithm"] == "grid"
        objectives = [t["objective"] for t in db.trials(study["id"])]
        assert objectives == pytest.approx([0.04 + 0.1, 0.0 + 0.1, 0.04 + 0.1])
    report = tmp_path / "sweeps" / study["id"] / "report"  # a --launch sweep gets its report too
    assert {p.name for p in report.iterdir()} == {"best_so_far.png", "params.png", "report.md"}


def test_a_trusted_file_whose_recipe_file_is_missing_is_refused_before_anything_starts(tmp_path, monkeypatch):
    from job_launch.__main__ import read_jobs

    monkeypatch.setenv("METAPROGRAM_DATA_ROOT", str(tmp_path))
    (tmp_path / "hellaswag_val.jsonl").write_text("{}\n")  # the chain's evaluation file must exist; it is not read
    (tmp_path / "my_recipe.yaml").write_text("quant_stage:\n  quant_modifiers:\n    GPTQModifier: {scheme: W4A16}\n")
    composed = load(["pipeline.quantize.recipe_file=my_recipe.yaml"], config_name="metaprogram/tiny_llama_chain")
    job = tmp_path / "job.yaml"
    job.write_text(yaml.safe_dump(composed.metaprogram.canonical))
    jobs, errors = read_jobs([str(job)], trusted=True)
    assert len(jobs) == 1 and errors == []
    (tmp_path / "my_recipe.yaml").unlink()
    jobs, errors = read_jobs([str(job)], trusted=True)
    assert jobs == [] and f"recipe_file: {tmp_path / 'my_recipe.yaml'} does not exist" in errors[0]
    assert str(job) in errors[0] and "pipeline.quantize.recipe_file" in errors[0]
