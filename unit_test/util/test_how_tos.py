"""Every how-to in util/how_tos/ runs as written, each in a folder of its own with every root inside it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from unit_test.helpers import REPO

pytestmark = pytest.mark.integration  # each how-to runs the command line in subprocesses

HOW_TOS = sorted(p for p in (REPO / "util" / "how_tos").glob("*.py") if not p.name.startswith("_"))
# what each one prints when it worked: a metric of its last run, or the runs it recorded
PROOF = {
    "own_model_plugin": "test/accuracy",
    "dag_transform": "test/accuracy",
    "own_pipeline": "data/largest_class_share",
    "sweep_plugin": "3 runs of the plugin model in the runs table",
}

RUN_ELSEWHERE = {"fine_tune_and_evaluate": "unit_test/test_lineage_command_line.py, with its lineage checked"}


def test_every_how_to_has_its_proof():
    assert sorted(PROOF) == sorted(p.stem for p in HOW_TOS if p.stem in PROOF)
    assert all(p.stem in PROOF or p.stem in RUN_ELSEWHERE for p in HOW_TOS), "a new how-to needs an entry in PROOF"
    assert all((REPO / where.split(",")[0]).is_file() for where in RUN_ELSEWHERE.values())


@pytest.mark.parametrize("how_to", [p.stem for p in HOW_TOS if p.stem in PROOF])
def test_a_how_to_runs_as_written(how_to, cli_env, tmp_path):
    work = tmp_path / "work"
    result = subprocess.run([sys.executable, "-B", str(REPO / "util" / "how_tos" / f"{how_to}.py"), str(work)],
                            cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert PROOF[how_to] in result.stdout
