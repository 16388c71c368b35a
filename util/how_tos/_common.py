"""What every how-to shares: a work folder of its own, and the runner's command line run from it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def work_folder(argv: list[str]) -> Path:
    """The folder a how-to writes into: its first argument, else ./how_to_work."""
    folder = Path(argv[0] if argv else "how_to_work").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def run(args: list[str], work: Path, plugins: list[Path] = (), script: str = "run_metaprogram.py") -> str:
    """`python -B <script> ARGS` from `work`, with `plugins` named in METAPROGRAM_PLUGINS; its output, echoed."""
    env = {**os.environ, "METAPROGRAM_PLUGINS": ",".join(str(p) for p in plugins)}
    env.setdefault("METAPROGRAM_OUTPUT_ROOT", str(work / "outputs"))
    command = [sys.executable, "-B", str(REPO / script), *args]
    print("$", " ".join(["python -B", script, *args]))
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    print(result.stdout.rstrip())
    if result.returncode != 0:
        raise SystemExit(f"failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
    return result.stdout
