"""A multirun's jobs run at once through job_launch on Ray with hydra/launcher=ray (engine/launchers.py)."""

from __future__ import annotations

import json

import pytest

from unit_test.helpers import run_cli

pytestmark = pytest.mark.integration  # Ray, the command line in a subprocess


def test_hydra_launcher_ray_runs_each_distinct_job_once_in_parallel(cli_env, tmp_path):
    args = ["--config-name=metaprogram/example", "-m", "hydra/launcher=ray", "pipeline.epochs=1",
            "seed=1,2", "pipeline.hooks.progress.leave=true,false"]  # fmt: skip
    result = run_cli(args, cli_env, tmp_path, timeout=400)
    assert result.returncode == 0, result.stderr
    # four jobs, two experiments: the progress bar is an observer, so each seed is one run
    assert "2 of 2 run(s) completed on Ray" in result.stderr
    runs = sorted((tmp_path / "out" / "runs").iterdir())
    assert len(runs) == 2
    results = [json.loads((run / "results.json").read_text()) for run in runs]
    assert {r["status"] for r in results} == {"completed"}
    assert sorted(json.loads(json.dumps(r["id"])) for r in results) == sorted(run.name for run in runs)
    assert result.stdout.count("test/accuracy") == 2
