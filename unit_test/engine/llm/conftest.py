"""Fixtures for the LLM pipeline tests: a small local task-data root and a shared cache of built models.

The data root holds the first items of the HellaSwag / GSM8K files shipped (compressed) in the repository's
data/ folder, read straight from the archives so these tests do not depend on `make data`.
"""

from __future__ import annotations

import lzma
from pathlib import Path

import pytest

from unit_test.helpers import REPO

ITEMS = 40


def _first_lines(archive: Path, n: int) -> list[str]:
    with lzma.open(archive, "rt") as handle:
        return [next(handle) for _ in range(n)]


@pytest.fixture(scope="session")
def llm_data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("llm_data")
    for name in ("hellaswag_val.jsonl", "gsm8k_test.jsonl"):
        (root / name).write_text("".join(_first_lines(REPO / "data" / f"{name}.xz", ITEMS)))
    return root


@pytest.fixture(scope="session")
def llm_model_root(session_model_root) -> Path:
    return session_model_root


@pytest.fixture
def llm_paths(tmp_path, llm_data_root, llm_model_root):
    from engine.paths import Paths

    return Paths(
        data_root=str(llm_data_root),
        model_root=str(llm_model_root),
        cache_root=str(tmp_path / "cache"),
        output_root=str(tmp_path / "out"),
    )


@pytest.fixture(scope="session")
def tiny_folder(llm_data_root, llm_model_root) -> Path:
    from engine.models.llm.materialize import materialize
    from engine.paths import Paths
    from engine.schema.llm_models import TinyLlamaConfig

    paths = Paths(
        data_root=str(llm_data_root), model_root=str(llm_model_root), cache_root="unused", output_root="unused"
    )
    return materialize(TinyLlamaConfig(), paths)
