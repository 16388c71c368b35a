"""Helpers for the LLM tests (import as `from unit_test.engine.llm.llm_helpers import ...`)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def metaprogram(model: dict, dataset: dict, pipeline: dict, seed: int = 0, paths=None):
    """Validated as the command line would; input files are found under `paths` (default: the environment's)."""
    from engine.metaprogram import validate

    raw = {"model": model, "dataset": dataset, "pipeline": pipeline, "seed": seed}
    return validate(raw, trusted=True, paths=paths)
