"""The run directory: what ran, with what, and what came out. Every write is atomic (engine/atomic.py)."""

from __future__ import annotations

import functools
import json
import logging
import os
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from engine.atomic import atomic_write
from engine.metaprogram import Metaprogram

__all__ = [
    "RunRecord",
    "atomic_write",
    "code_revision",
    "now",
    "package_versions",
    "read_record",
    "read_results",
    "write_json",
]
STATUSES = ("running", "completed", "failed", "interrupted", "stopped")  # stopped: by a Tune scheduler
# what results.json must hold, with its type, for the run to be read at all (the runner writes all of them)
_RESULTS_SHAPE = {"status": str, "metrics": dict, "objective": dict, "timings": dict}
_log = logging.getLogger("metaprogram")

PACKAGES = (
    "metaprogram-runner",
    "torch",
    "transformers",
    "hydra-core",
    "omegaconf",
    "pydantic",
    "scikit-learn",
    "numpy",
    "llmcompressor",
    "lm_eval",
    "guidellm",
    "ray",
)
REPO_ROOT = Path(__file__).resolve().parent.parent
# Set by job_launch on Ray workers, whose copy of the code has no .git: the driver's revision.
CODE_REVISION_ENV = "METAPROGRAM_CODE_REVISION"


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@functools.cache  # one lookup per process: a sweep worker runs many short runs
def package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


@functools.cache  # a process runs the code it imported: ask git once, not per run
def code_revision() -> str:
    """The git commit of the code that ran, '+dirty' when it had local changes."""
    if os.environ.get(CODE_REVISION_ENV):
        return os.environ[CODE_REVISION_ENV]
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + ("+dirty" if dirty else "")


def read_record(path: Path, kind: type = dict) -> Any:
    """A record file read back (JSON or YAML) through the one safe loader; None when absent.

    A damaged one (unreadable, not plain data, or not a `kind`) is one warning naming the file, and None:
    whoever reads many records skips it and goes on."""
    from engine import strict_yaml

    try:
        value = strict_yaml.load_file(path)
    except FileNotFoundError:
        return None
    except (OSError, yaml.YAMLError) as exc:
        _log.warning("%s: damaged, skipped (%s)", path, str(exc).splitlines()[0][:200])
        return None
    if not isinstance(value, kind):
        _log.warning("%s: damaged, skipped (a %s, not a %s)", path, type(value).__name__, kind.__name__)
        return None
    return value


def read_results(path: Path) -> dict[str, Any] | None:
    """A results.json with the shape the runner writes, else None (a damaged one warns and is never trusted)."""
    results = read_record(path)
    if results is None:
        return None
    wrong = [key for key, kind in _RESULTS_SHAPE.items() if not isinstance(results.get(key), kind)]
    if wrong or results["status"] not in STATUSES:
        _log.warning("%s: damaged, skipped (%s)", path, f"no valid {', '.join(wrong)}" if wrong else "unknown status")
        return None
    return results


class RunRecord:
    """Reads and writes one run directory (output_root/runs/<id>)."""

    def __init__(self, run_dir: Path):
        self.run_dir = Path(run_dir)
        self.results_path = self.run_dir / "results.json"

    def results(self) -> dict[str, Any] | None:
        """The run's results.json, None when absent or damaged (a damaged run is recomputed, never reused)."""
        return read_results(self.results_path)

    def completed(self) -> dict[str, Any] | None:
        """Results of a completed run whose files are all here (not left on a Ray worker), else None."""
        results = self.results()
        if not results or results.get("status") != "completed" or results.get("left_on_worker"):
            return None
        return results

    def begin(self, mp: Metaprogram, overrides: list[str]) -> dict[str, Any]:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.run_dir / "metaprogram.yaml", yaml.safe_dump(mp.canonical, sort_keys=True))
        atomic_write(self.run_dir / "id", mp.id + "\n")
        atomic_write(self.run_dir / "overrides.yaml", yaml.safe_dump(list(overrides)))
        metric, mode = mp.objective()
        state = {
            "id": mp.id,
            "pipeline": mp.pipeline.name,
            "status": "running",
            "objective": {"metric": metric, "mode": mode, "value": None},
            # beside the id, not in it: what watched the run, and the files whose contents it hashes
            "observers": mp.observers,
            "inputs": mp.inputs,
            "metrics": {},
            "timings": {"started": now()},
            "versions": dict(package_versions()),
            "code_revision": code_revision(),
            "error": None,
        }
        if mp.from_run:  # beside the id: composing from a recorded run changes nothing the id describes
            state["from_run"] = mp.from_run
        write_json(self.results_path, state)
        return state

    def finish(
        self,
        state: dict[str, Any],
        status: str,
        metrics: dict[str, Any],
        wall_s: float,
        error: str | None = None,
    ) -> dict[str, Any]:
        state = {**state, "status": status, "metrics": metrics, "error": error}
        state["objective"] = {**state["objective"], "value": metrics.get(state["objective"]["metric"])}
        state["timings"] = {**state["timings"], "finished": now(), "wall_s": round(wall_s, 3)}
        write_json(self.results_path, state)
        return state
