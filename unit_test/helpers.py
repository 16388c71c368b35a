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
