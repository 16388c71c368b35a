"""Shared fixtures: an isolated output root per test, and helpers to run the command line."""

from __future__ import annotations

import os

import pytest

from unit_test.helpers import REPO


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
