"""Helpers for the LLM tests (import as `from unit_test.engine.llm.llm_helpers import ...`)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def metaprogram(model: dict, dataset: dict, pipeline: dict, seed: int = 0):
    from engine.metaprogram import validate

    return validate({"model": model, "dataset": dataset, "pipeline": pipeline, "seed": seed}, trusted=True)
