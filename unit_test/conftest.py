"""Shared fixtures: an isolated output root per test, and helpers to run the command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def paths(tmp_path):
    from engine.paths import Paths

    return Paths(
        data_root=str(tmp_path / "data"),
        model_root=str(tmp_path / "models"),
        cache_root=str(tmp_path / "cache"),
        output_root=str(tmp_path / "out"),
    )


@pytest.fixture
def cli_env(tmp_path):
    """Environment for command-line tests: every root inside tmp_path."""
    env = dict(os.environ)
    for key, sub in (("DATA", "data"), ("MODEL", "models"), ("CACHE", "cache"), ("OUTPUT", "out")):
        env[f"METAPROGRAM_{key}_ROOT"] = str(tmp_path / sub)
    env["PYTHONPATH"] = str(REPO)
    env["OMP_NUM_THREADS"] = "1"
    return env


def run_cli(args: list[str], env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """python -B run_metaprogram.py ARGS, from `cwd`."""
    return subprocess.run(
        [sys.executable, "-B", str(REPO / "run_metaprogram.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []
