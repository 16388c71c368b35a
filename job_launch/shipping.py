"""Runs on nodes that cannot see the driver's files: a scratch root on the node, and the records carried back.

Shared by job_launch and the Ray Tune sweeper (util imports this, never the other way).

A job or trial placed on the driver's own node writes straight into the driver's
output root. On any other node it runs in a scratch root of that node (kept as a
cache of runs and built models, never needed again), and when it ends, completed,
failed or stopped, its run directory, with those of a chain's stages, comes back
to the driver as a bundle: results.json, metaprogram.yaml, run.log and every
artifact up to `max_file_mb`. Larger files (a quantized model's weights) stay on
the worker unless asked for and are named in the returned results.json under
`left_on_worker`; the driver does not reuse such a run, it recomputes it when needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.paths import ENV_VARS, Paths
from engine.records import atomic_write, read_results

SCRATCH_ENV = "METAPROGRAM_SCRATCH"  # where a node keeps its scratch roots (default: the temp dir)
DEFAULT_MAX_FILE_MB = 16.0
MB = 2**20


@dataclass(frozen=True)
class Placement:
    """What a worker needs to place a run: the driver's node and roots, and which roots lie in the shipped code."""

    driver_node: str
    roots: dict[str, str]  # the driver's absolute roots
    in_repo: dict[str, str] = field(default_factory=dict)  # root -> path relative to the repository
    max_file_mb: float | None = DEFAULT_MAX_FILE_MB  # None: bring every file back

    @classmethod
    def for_driver(cls, paths: Paths, max_file_mb: float | None = DEFAULT_MAX_FILE_MB) -> Placement:
        from job_launch.cluster import driver_node, inside_repo

        roots = {k: str(paths.root(k)) for k in ENV_VARS}  # the roots only: where each lives on the driver
        in_repo = {k: rel for k, v in roots.items() if (rel := inside_repo(Path(v))) is not None}
        return cls(driver_node(), roots, in_repo, max_file_mb)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def paths_here(self) -> tuple[Paths, bool]:
        """(the roots a run uses on this node, whether its records must be carried back to the driver)."""
        import ray

        if ray.get_runtime_context().get_node_id() == self.driver_node:
            return Paths(**self.roots), False
        return self.remote_paths(), True

    def remote_paths(self) -> Paths:
        """Outputs and caches in this node's scratch; data from the shipped copy when it lies in the repository;
        models built here when model_root is the repository's (weights never travel); other roots as given
        (they must then be reachable on every node, e.g. a shared file system)."""
        from job_launch.cluster import REPO_ROOT  # this node's copy of the code

        scratch = scratch_root(self.roots["output_root"])
        data = self.in_repo.get("data_root")
        return Paths(
            data_root=str(REPO_ROOT / data) if data is not None else self.roots["data_root"],
            model_root=str(scratch / "models") if "model_root" in self.in_repo else self.roots["model_root"],
            cache_root=str(scratch / "cache"),
            output_root=str(scratch / "outputs"),
        )


def scratch_root(driver_output_root: str) -> Path:
    """One scratch folder per node, user and driver output root."""
    base = Path(os.environ.get(SCRATCH_ENV) or tempfile.gettempdir())
    key = hashlib.sha256(driver_output_root.encode()).hexdigest()[:12]
    return base / f"metaprogram-{os.getuid()}-{key}"


# ----------------------------------------------------------------------------- bundles


def run_ids_of(paths: Paths, run_id: str) -> list[str]:
    """The run and, for a chain, the runs of its stages (listed in its stages.json)."""
    ids = [run_id]
    from engine.records import read_record

    stages = read_record(paths.run_dir(run_id) / "stages.json")
    if not stages:
        return ids
    return ids + [s["id"] for s in stages.values() if isinstance(s, dict) and s.get("id") and s["id"] != run_id]


def pack(paths: Paths, run_id: str, max_file_mb: float | None) -> dict[str, Any]:
    """The records of `run_id` (and its stages) on this node, as {path under output_root: bytes}."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    output_root = paths.root("output_root")
    files: dict[str, bytes] = {}
    for rid in run_ids_of(paths, run_id):
        run_dir = paths.run_dir(rid)
        left: dict[str, int] = {}
        for path in sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith(".")):
            size = path.stat().st_size
            if path.name != "results.json" and max_file_mb is not None and size > max_file_mb * MB:
                left[path.relative_to(run_dir).as_posix()] = size
            elif path.name != "results.json":
                files[path.relative_to(output_root).as_posix()] = path.read_bytes()
        results = read_results(run_dir / "results.json")
        if results is not None:
            results["worker"] = {"node_id": node, "run_dir": str(run_dir)}
            if left:
                results["left_on_worker"] = left
            name = (run_dir / "results.json").relative_to(output_root).as_posix()
            files[name] = (json.dumps(results, indent=2, sort_keys=True, default=str) + "\n").encode()
    return {"run_id": run_id, "node_id": node, "files": files}


def unpack(bundle: dict[str, Any] | None, output_root: Path) -> int:
    """Write a bundle's files under the driver's output root (each atomically; results.json last); count them."""
    if not bundle:
        return 0
    root = Path(output_root).resolve()
    names = sorted(bundle["files"], key=lambda n: n.endswith("results.json"))  # a reader sees results last
    for name in names:
        target = (root / name).resolve()
        if root not in target.parents:  # a bundle names paths under the output root only
            raise ValueError(f"a returned record would be written outside the output root: {name}")
        atomic_write(target, bundle["files"][name])
    return len(names)


class RunFailedOnWorker(RuntimeError):
    """A run failed on a worker; carries its records (the log above all) back to the driver."""

    def __init__(self, message: str, bundle: dict[str, Any] | None = None):
        super().__init__(message, bundle)
        self.message, self.bundle = message, bundle

    def __str__(self) -> str:
        return self.message


def failure_bundle(exc: BaseException) -> dict[str, Any] | None:
    """The records a failed Ray task or trial sent back, if any (Ray wraps the worker's exception)."""
    for candidate in (exc, getattr(exc, "cause", None), exc.__cause__):
        if isinstance(candidate, RunFailedOnWorker):
            return candidate.bundle
    return None


class RecordSink:
    """An actor on the driver's node that takes records from trials elsewhere (Tune trials return nothing)."""

    def __init__(self, output_root: str):
        self.output_root = Path(output_root)

    def store(self, bundle: dict[str, Any]) -> int:
        return unpack(bundle, self.output_root)

    def completed(self, run_id: str) -> dict[str, Any] | None:
        """The driver's results of a completed run, so that a worker elsewhere reuses it instead of recomputing."""
        from engine.records import RunRecord

        return RunRecord(self.output_root / "runs" / run_id).completed()


def start_sink(output_root: Path) -> Any:
    """A RecordSink pinned to the driver's node (no CPU reserved)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    from job_launch.cluster import driver_node

    strategy = NodeAffinitySchedulingStrategy(node_id=driver_node(), soft=False)
    return ray.remote(num_cpus=0)(RecordSink).options(scheduling_strategy=strategy).remote(str(output_root))


def worker_logging() -> None:
    """In a Ray worker, keep the engine's INFO lines: they go to each run's run.log."""
    import logging

    from engine.runner import LOGGER_NAME

    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)
