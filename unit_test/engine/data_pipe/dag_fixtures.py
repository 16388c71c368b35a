"""Helpers shared by the data DAG tests (a module with its own name, not conftest, so imports stay unambiguous)."""

from __future__ import annotations


def digits_dag(fraction: float = 0.5, regenerate: str | None = None) -> dict:
    nodes = {
        "raw": {"transform": "sklearn", "params": {"dataset": "digits"}},
        "parts": {"transform": "split", "inputs": ["raw"], "params": {"seed": 1}},
        "small": {"transform": "subsample", "inputs": ["parts"], "params": {"fraction": fraction}},
        "std": {"transform": "standardize", "inputs": ["small"]},
    }
    if regenerate:
        nodes[regenerate]["regenerate"] = True
    return {"name": "dag", "nodes": nodes}


def dag_config(raw: dict):
    from engine.schema.data_dag import DagDatasetConfig

    return DagDatasetConfig.model_validate(raw)
