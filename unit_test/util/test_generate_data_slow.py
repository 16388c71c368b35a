"""generate_ray_tune_data.sh end to end on a small sample of the held-out suite (slow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # Ray

REPO = Path(__file__).resolve().parents[2]
KEYS = {"study_id", "task", "search_space", "algorithm", "scheduler", "seed", "base", "trials"}


@pytest.mark.slow
def test_the_data_script_writes_complete_studies_as_jsonl(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO), "METAPROGRAM_OUTPUT_ROOT": str(tmp_path), "PYTHON": sys.executable}
    out = tmp_path / "studies.jsonl"
    done = subprocess.run(
        ["bash", str(REPO / "generate_ray_tune_data.sh"), "heldout", "--limit", "2", "--count", "6"],
        env={**env, "OUT": str(out)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    studies = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(studies) == 2
    for study in studies:
        assert set(study) == KEYS and study["study_id"].startswith("heldout.")
        assert [t["order"] for t in study["trials"]] == list(range(6))
        assert study["task"]["dataset_facts"]["n_samples"] > 0
        assert all(t["status"] in ("completed", "failed") for t in study["trials"])
