"""Shared by the benchmarks: where results go, and how figures are printed."""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

from engine.atomic import atomic_write  # noqa: E402  (the repository is on the path from here)


def execution_pipeline(epochs: int, batch_size: int, **extra: object) -> dict:
    """The execution pipeline the benchmarks time: CPU, no progress bar, no early stop, plus `extra` settings."""
    hooks = {"progress": {"leave": False}, "checkpoint": {}, "early_stopping": {"patience": 1000}}
    return {"name": "execution", "epochs": epochs, "batch_size": batch_size, "device": "cpu", "hooks": hooks, **extra}


def save(name: str, figures: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    figures = {**figures, "machine": {"python": platform.python_version(), "cpu": platform.processor() or "?"}}
    atomic_write(path, json.dumps(figures, indent=2, sort_keys=True) + "\n")
    return path


def table(rows: list[tuple], header: tuple) -> str:
    cells = [tuple(str(c) for c in header)] + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
