"""Fixtures for the data DAG tests: isolated roots, and a small DAG over digits."""

from __future__ import annotations

import pytest


@pytest.fixture
def dag_paths(tmp_path):
    from engine.paths import Paths

    return Paths(
        data_root=str(tmp_path / "data"),
        model_root=str(tmp_path / "models"),
        cache_root=str(tmp_path / "cache"),
        output_root=str(tmp_path / "out"),
    )
