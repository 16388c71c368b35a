"""Helpers for tests that run the command line (import as `from unit_test.helpers import ...`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


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


def write_sleep_jobs(folder: Path, variants: list[list[str]]) -> list[Path]:
    """Metaprogram files of the sleep pipeline, one per override list (for job_launch)."""
    import yaml

    from engine.compose import load

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i, extra in enumerate(variants):
        composed = load(
            [
                "+metaprogram/component/model=classic/mlp",
                "+metaprogram/component/dataset=classification/iris",
                "+metaprogram/component/pipeline=sleep",
                "+path=default",
                "pipeline.seconds=0.1",
                f"pipeline.x={i / 10}",
                *extra,
            ]
        )
        path = folder / f"job{i}.yaml"
        path.write_text(yaml.safe_dump(composed.metaprogram.canonical))
        files.append(path)
    return files


def a_study(study_id: str, **fields):
    """A database.store.StudyRecord with plain defaults (no task, no space, one trial asked for), for storage tests."""
    from database.store import StudyRecord

    defaults = {"task": {}, "search_space": {}, "algorithm": "tpe", "scheduler": "fifo", "metric": "val/accuracy",
                "mode": "max", "seed": 0, "base": {}, "requested": 1}  # fmt: skip
    return StudyRecord(id=study_id, **{**defaults, **fields})
