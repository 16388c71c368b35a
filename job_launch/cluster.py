"""Start or join Ray with the project shipped to every worker; check jobs' resources against the nodes.

The driver's repository travels to the workers as Ray's `working_dir` (code, configs
and the small data under data/; never outputs, caches, model weights, .git or the
virtual environment), so a node needs only the installed packages, not our files.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
# Tune defaults that cost time on short trials or move the working directory: turned off.
RAY_ENV = {
    "RAY_CHDIR_TO_TRIAL_DIR": "0",
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_MAX_PENDING_TRIALS_PG": "4",
    "RAY_AIR_NEW_OUTPUT": "0",
    "OMP_NUM_THREADS": "1",
}
# Never shipped: results, caches, weights, history, the environment (each node has its own).
SHIP_EXCLUDES = [
    ".git",
    ".venv",
    "outputs",
    "multirun",
    "mlruns",
    ".cache",
    "models",
    "benchmarks/results",
    "build",
    "*.egg-info",
    "__pycache__",
    "*.pyc",
    ".pytest_cache",
    ".ruff_cache",
]
GIB = 2**30


class ShipError(RuntimeError):
    """The project could not be shipped to the cluster (too large, unreadable)."""


def runtime_env(extra_excludes: list[str] = ()) -> dict[str, Any]:
    """The runtime_env every worker of our jobs and trials gets: the project as its working directory."""
    from engine.records import CODE_REVISION_ENV, code_revision

    env_vars = {**RAY_ENV, CODE_REVISION_ENV: code_revision()}
    return {"working_dir": str(REPO_ROOT), "excludes": [*SHIP_EXCLUDES, *extra_excludes], "env_vars": env_vars}


def inside_repo(path: Path) -> str | None:
    """`path` relative to the repository (so it travels with the code), or None when it lies outside."""
    try:
        return Path(path).resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return None


def init_ray(address: str | None = None, num_cpus: int | None = None, paths: Any = None) -> None:
    """A fresh local Ray instance (no address) or an existing cluster, with the project shipped to workers.

    `paths`: the driver's roots; an output or cache root inside the repository is left out of what is shipped.
    """
    import ray

    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    # Ship by our excludes alone: .gitignore leaves out data/, which workers may need.
    os.environ.setdefault("RAY_RUNTIME_ENV_IGNORE_GITIGNORE", "1")
    os.environ.setdefault("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", "")  # ours list them (without a warning)
    if ray.is_initialized():
        return
    extra = []
    if paths is not None:
        for key in ("output_root", "cache_root", "model_root"):
            rel = inside_repo(paths.root(key))
            if rel and rel != ".":
                extra.append(rel)
    kwargs: dict[str, Any] = {
        "runtime_env": runtime_env(extra),
        "log_to_driver": False,
        "logging_level": logging.WARNING,
    }
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            # "local": always a fresh instance; None would join a cluster that `ray start` left on this machine
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **kwargs)
    except ValueError as exc:
        if "Package size" in str(exc):  # Ray's refusal of a working_dir over its upload limit
            ray.shutdown()
            raise ShipError(
                f"cannot ship the project in {REPO_ROOT} to the Ray workers: {str(exc).splitlines()[0]} "
                "Move large files out of the repository (e.g. data under an outside path.data_root)."
            ) from None
        raise


def driver_node() -> str:
    """The Ray node this driver runs on: jobs placed there write straight into the driver's output root."""
    import ray

    return ray.get_runtime_context().get_node_id()


def node_capacities() -> list[dict[str, float]]:
    """Total resources of every live node: CPU, GPU, memory (bytes) and custom resources."""
    import ray

    nodes = []
    for node in ray.nodes():
        if node.get("Alive"):
            res = dict(node.get("Resources", {}))
            nodes.append({"CPU": 0.0, "GPU": 0.0, "memory": 0.0, **res})
    return nodes


def request_of(resources: Any, custom: dict[str, float] | None = None) -> dict[str, float]:
    """Ray resources for a metaprogram's pipeline.resources, plus custom resources the launch asks for."""
    request = {
        "CPU": float(resources.cpus),
        "GPU": float(resources.gpus),
        "memory": float(resources.memory_gb) * GIB,
    }
    return {**request, **{k: float(v) for k, v in (custom or {}).items()}}


def infeasible(request: dict[str, float], nodes: list[dict[str, float]]) -> str | None:
    """Why no node can ever run this request, or None when one can."""
    if any(all(node.get(k, 0.0) >= v for k, v in request.items()) for node in nodes):
        return None
    best = {k: max((n.get(k, 0.0) for n in nodes), default=0.0) for k in request}
    short = [f"{_show(k, v)} (largest node: {_show(k, best[k])})" for k, v in request.items() if v > best[k] and v > 0]
    return "no node can offer " + ", ".join(short or [f"all of {_show_all(request)} at once"])


def _show(key: str, value: float) -> str:
    if key == "memory":
        return f"{value / GIB:.1f} GiB memory"
    if key in ("CPU", "GPU"):
        return f"{value:g} {key}{'s' if value != 1 else ''}"
    return f"{value:g} of resource {key!r}"


def _show_all(request: dict[str, float]) -> str:
    return ", ".join(_show(k, v) for k, v in request.items() if v > 0)
