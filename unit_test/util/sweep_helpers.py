"""Sweep configs for the tests of util/ (imported, not a conftest)."""

from __future__ import annotations


def sleep_sweep(name: str, space: dict, *, count: int = 4, overrides=(), **tune) -> dict:
    """A tune sweep over the sleep pipeline (a run of known length that trains nothing)."""
    return {
        "name": name,
        "suite": "test",
        "base": {
            "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "sleep"},
            "overrides": list(overrides),
        },
        "space": space,
        "mode": "tune",
        "count": count,
        "seed": 0,
        "tune": {"concurrency": 2, **tune},
    }
