"""Fixtures for the LLM pipeline tests: a small local task-data root and a shared cache of built models.

The data root holds the first items of the public HellaSwag / GSM8K files when ../shared/data exists,
and otherwise items in the same format made up here, so the tests never depend on that folder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[4] / "shared" / "data"
ITEMS = 40


def _first_lines(path: Path, n: int) -> list[str]:
    with path.open() as handle:
        return [next(handle) for _ in range(n)]


def _made_up_hellaswag(n: int) -> list[str]:
    rows = []
    for i in range(n):
        endings = [f"picks up the ball number {i + k}." for k in range(4)]
        rows.append(
            {
                "id": i,
                "activity_label": "Playing ball",
                "ctx": f"A man walks to the park {i}. He",
                "endings": endings,
                "label": i % 4,
            }
        )
    return [json.dumps(r) + "\n" for r in rows]


def _made_up_gsm8k(n: int) -> list[str]:
    return [
        json.dumps({"question": f"What is {i} + {i}?", "answer": f"{i} + {i} = {2 * i}\n#### {2 * i}"}) + "\n"
        for i in range(n)
    ]


@pytest.fixture(scope="session")
def llm_data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("llm_data")
    for name, made_up in (("hellaswag_val.jsonl", _made_up_hellaswag), ("gsm8k_test.jsonl", _made_up_gsm8k)):
        source = SHARED_DATA / name
        lines = _first_lines(source, ITEMS) if source.is_file() else made_up(ITEMS)
        (root / name).write_text("".join(lines))
    return root


@pytest.fixture(scope="session")
def llm_model_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("llm_models")


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
    from engine.schema.llm import TinyLlamaConfig

    paths = Paths(
        data_root=str(llm_data_root), model_root=str(llm_model_root), cache_root="unused", output_root="unused"
    )
    return materialize(TinyLlamaConfig(), paths)
