"""The README's Optuna script with PlannerSampler runs as written (the shipped planner, 20 trials)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys

import pytest

from unit_test.helpers import REPO

pytestmark = pytest.mark.integration  # a subprocess


def readme_optuna_script() -> str:
    blocks = re.findall(r"^```python\n(.*?)^```", (REPO / "README.md").read_text(), re.M | re.S)
    (script,) = [b for b in blocks if "PlannerSampler(seed=0)" in b and "create_study" in b]
    return script


def test_the_readme_optuna_script_is_short_and_runs_as_written(tmp_path):
    script = readme_optuna_script()
    assert len([line for line in script.splitlines() if line.strip()]) <= 13
    result = subprocess.run(
        [sys.executable, "-B", "-c", script], cwd=tmp_path, capture_output=True, text=True, env=_env()
    )
    assert result.returncode == 0, result.stderr[-3000:]
    best = ast.literal_eval(result.stdout.strip().splitlines()[-1])  # the printed best_params dict
    assert set(best) == {"lr", "layers", "activation"} and 1e-4 <= best["lr"] <= 1e-1
    assert "no task description" in result.stderr  # it said what it assumed


def _env() -> dict:
    import os

    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{path}" if path else str(REPO), "OMP_NUM_THREADS": "1"}
