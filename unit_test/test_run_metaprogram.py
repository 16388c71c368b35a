"""run_metaprogram.py as a user meets it: both seed commands, overrides, -m, dry_run, bad input."""

from __future__ import annotations

import json
import re

import pytest

from unit_test.helpers import files_under, run_cli

pytestmark = pytest.mark.integration  # the command line, in subprocesses

EXAMPLE = ["--config-name=metaprogram/example"]
COMPONENTS = [
    "+metaprogram/component/pipeline=execution",
    "+metaprogram/component/model=classic/mlp",
    "+metaprogram/component/dataset=classification/digits",
    "+path=default",
]


def dry_run_id(args, env, cwd) -> str:
    result = run_cli([*args, "dry_run=true"], env, cwd)
    assert result.returncode == 0, result.stderr
    match = re.search(r"^id: ([0-9a-f]{16})$", result.stdout, re.M)
    assert match, result.stdout
    return match.group(1)


def test_dry_run_prints_the_id_and_writes_nothing(cli_env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    by_file = dry_run_id(EXAMPLE, cli_env, work)
    # the same metaprogram written from components and overrides has the same id
    by_parts = dry_run_id([*COMPONENTS, "pipeline.epochs=30"], cli_env, work)
    reordered = dry_run_id(["pipeline.epochs=30", *reversed(COMPONENTS)], cli_env, work)
    assert by_file == by_parts == reordered
    assert dry_run_id([*EXAMPLE, "model.hidden=256"], cli_env, work) != by_file
    assert files_under(work) == [] and not (tmp_path / "out").exists()


def test_components_form_runs_and_records(cli_env, tmp_path):
    result = run_cli([*COMPONENTS, "pipeline.epochs=2", "model.hidden=32"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"^id: ([0-9a-f]{16})", result.stdout, re.M).group(1)
    run_dir = tmp_path / "out" / "runs" / run_id
    for name in ("metaprogram.yaml", "id", "overrides.yaml", "results.json", "run.log", "checkpoints/last.pt"):
        assert (run_dir / name).exists(), name
    results = json.loads((run_dir / "results.json").read_text())
    assert results["status"] == "completed" and results["id"] == run_id
    assert 0.0 <= results["metrics"]["test/accuracy"] <= 1.0
    assert results["objective"] == {
        "metric": "val/accuracy",
        "mode": "max",
        "value": results["metrics"]["val/accuracy"],
    }
    assert "torch" in results["versions"] and results["code_revision"]
    assert "model.hidden=32" in (run_dir / "overrides.yaml").read_text()

    again = run_cli([*COMPONENTS, "pipeline.epochs=2", "model.hidden=32"], cli_env, tmp_path)
    assert again.returncode == 0 and "(reused)" in again.stdout and "reusing its results" in again.stderr
    forced = run_cli([*COMPONENTS, "pipeline.epochs=2", "model.hidden=32", "force=true"], cli_env, tmp_path)
    assert forced.returncode == 0 and "(reused)" not in forced.stdout


def test_multirun_runs_every_job(cli_env, tmp_path):
    result = run_cli([*EXAMPLE, "-m", "pipeline.optim.lr=1e-3,1e-2", "pipeline.epochs=1"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert len(set(re.findall(r"^id: ([0-9a-f]{16})", result.stdout, re.M))) == 2
    assert len(list((tmp_path / "out" / "runs").iterdir())) == 2


def test_help_lists_the_component_options(cli_env, tmp_path):
    result = run_cli(["--help"], cli_env, tmp_path)
    assert result.returncode == 0
    assert "metaprogram/component/model/classic: cnn, mlp, transformer" in result.stdout
    classification = "breast_cancer, cifar, cifar100, digits, image_folder, iris, wine"
    assert f"metaprogram/component/dataset/classification: {classification}" in result.stdout


BAD_INPUTS = [
    pytest.param(
        [*COMPONENTS[:1], "+metaprogram/component/model=classic/mlpp", *COMPONENTS[2:]],
        "metaprogram/component/model=classic/mlpp: no such option; did you mean 'classic/mlp'?",
        id="unknown-component",
    ),
    pytest.param([*EXAMPLE, "model.hiden=3"], "model.hiden: unknown key; did you mean 'hidden'?", id="misspelt-key"),
    pytest.param([*EXAMPLE, "+model.hiden=3"], "model.hiden: unknown key; did you mean 'hidden'?", id="added-key"),
    pytest.param([*EXAMPLE, "model.hidden=wide"], "model.hidden: expected a number, got str 'wide'", id="wrong-type"),
    pytest.param(
        [*EXAMPLE, "pipeline.optim.lr=-1"], "pipeline.optim.lr: Input should be greater than 0", id="out-of-range"
    ),
    pytest.param(
        [*EXAMPLE, "metaprogram/component/dataset=local/csv"],
        "dataset.file: missing required value",
        id="missing-value",
    ),
    pytest.param([*EXAMPLE, "pipeline.optim.name=adamm"], "did you mean 'adam' or 'adamw'?", id="bad-choice"),
    pytest.param(
        [*EXAMPLE, "metaprogram/component/dataset=local/csv", "dataset.file=absent.csv", "dataset.target=y"],
        "absent.csv does not exist (relative paths start at path.data_root)",
        id="missing-file",
    ),
    pytest.param(["--config-name=metaprogram/exampel"], "did you mean 'metaprogram/example'", id="unknown-config"),
    pytest.param(
        [*EXAMPLE, "-m", "pipeline.optim.lr=1e-3,-1"], "1 of 2 jobs are invalid; none was run", id="multirun-one-bad"
    ),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS)
def test_bad_input_exits_2_with_a_clear_message_no_traceback_and_no_files(args, message, cli_env, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli(args, cli_env, work)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "Nothing was run or written." in result.stderr
    assert files_under(work) == [] and not (tmp_path / "out").exists()


def test_a_failing_run_is_recorded_failed_and_exits_1(cli_env, tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.csv").write_text("a,b\n1,2\n3,4\n")  # no column y: the run fails reading it
    args = [*EXAMPLE, "metaprogram/component/dataset=local/csv", "dataset.file=table.csv", "dataset.target=y"]
    result = run_cli(args, cli_env, tmp_path)
    assert result.returncode == 1
    assert "no column(s) y" in result.stderr and "Traceback" not in result.stderr
    (results,) = (tmp_path / "out" / "runs").glob("*/results.json")
    recorded = json.loads(results.read_text())
    assert recorded["status"] == "failed" and "no column(s) y" in recorded["error"]
