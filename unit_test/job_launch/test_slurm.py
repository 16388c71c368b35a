"""Hydra's submitit launcher (job_launch/slurm.py): `-m hydra/launcher=submitit_local|submitit_slurm`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from unit_test.helpers import run_cli

SLEEP = ["+metaprogram/component/pipeline=sleep", "+metaprogram/component/model=classic/mlp",
         "+metaprogram/component/dataset=classification/iris", "+path=default", "pipeline.seconds=0.05"]  # fmt: skip


@pytest.mark.integration  # the command line and submitit's job processes
def test_submitit_local_multirun_runs_each_job_as_an_engine_run_in_the_runs_table(cli_env, tmp_path):
    result = run_cli(["-m", "hydra/launcher=submitit_local", *SLEEP, "pipeline.x=0.1,0.9"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "submitted 2 job(s) to submitit (local)" in result.stderr
    assert "2 of 2 run(s) completed through submitit (local)" in result.stderr
    listing = subprocess.run([sys.executable, "-m", "database", "runs", "--columns", "id,pipeline.x,status,run_dir",
                              "--format", "json"], capture_output=True, text=True, env=cli_env)  # fmt: skip
    rows = json.loads(listing.stdout)
    assert sorted((r["pipeline.x"], r["status"]) for r in rows) == [(0.1, "completed"), (0.9, "completed")]
    for row in rows:  # each job wrote an ordinary run directory under the command's output root
        results = json.loads((tmp_path / "out" / "runs" / row["id"] / "results.json").read_text())
        assert results["status"] == "completed" and results["id"] == row["id"]
        assert f"id: {row['id']}" in result.stdout
    # submitit's own logs live under Hydra's sweep directory, one folder per job
    logs = list((tmp_path / "out" / "multirun").glob("*/.submitit/*/*_log.err"))
    assert len(logs) == 2


@pytest.mark.integration
def test_an_invalid_job_stops_the_multirun_before_anything_is_submitted(cli_env, tmp_path):
    result = run_cli(["-m", "hydra/launcher=submitit_local", *SLEEP, "pipeline.x=0.1,oops"], cli_env, tmp_path)
    assert result.returncode == 2
    assert "1 of 2 jobs are invalid; none was run." in result.stderr
    assert not (tmp_path / "out").exists()  # no sweep folder, no submitit folder, no run


def _composed(overrides: list[str]):
    from engine.compose import Composer

    with Composer() as composer:
        return composer.load(["hydra/launcher=submitit_slurm", *SLEEP, *overrides], with_hydra=True)


def test_slurm_settings_become_sbatch_lines_and_unset_resources_come_from_the_run(tmp_path, monkeypatch):
    from job_launch.slurm import executor_for

    job = _composed(["pipeline.resources.cpus=3", "pipeline.resources.gpus=0", "pipeline.resources.memory_gb=6",
                     "hydra.launcher.partition=gpu", "hydra.launcher.gpus_per_node=2",
                     "hydra.launcher.timeout_min=120", "hydra.launcher.account=lab"])  # fmt: skip
    assert job.launcher == "submitit_slurm"
    srun = tmp_path / "bin" / "srun"  # submitit only checks that SLURM's commands are on PATH; nothing is submitted
    srun.parent.mkdir()
    srun.write_text("#!/bin/sh\nexit 1\n")
    srun.chmod(0o755)
    monkeypatch.setenv("PATH", f"{srun.parent}:/usr/bin:/bin")
    settings = {**job.launcher_settings, "submitit_folder": str(tmp_path / "submitit" / "%j")}
    executor = executor_for("slurm", settings, [job])
    script = executor._executor._make_submission_file_text("python -u -m submitit.core._submit x", "uid")
    for line in ("--partition=gpu", "--gpus-per-node=2", "--time=120", "--account=lab", "--cpus-per-task=3",
                 "--mem=6GB", "--job-name=run_metaprogram"):  # fmt: skip
        assert f"#SBATCH {line}" in script, script


def test_without_slurm_submitit_slurm_exits_2_and_submits_nothing(tmp_path, monkeypatch, capsys):
    from job_launch.slurm import run_on_submitit

    job = _composed([])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no srun, no sbatch
    settings = {**job.launcher_settings, "submitit_folder": str(tmp_path / "submitit" / "%j")}
    assert run_on_submitit([job], settings, "slurm") == 2
    err = capsys.readouterr().err
    assert 'Could not detect "srun"' in err and "Nothing was run or written." in err
