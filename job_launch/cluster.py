"""Start or join Ray, and check a job's resources against what the cluster's nodes can offer."""

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
GIB = 2**30


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """A fresh local Ray instance (no address) or an existing cluster; workers import this repository.

    Workers find the code through PYTHONPATH: right for a cluster on this machine or
    one sharing its file system (a remote cluster needs the package installed on its nodes).
    """
    import ray

    for key, value in RAY_ENV.items():
        os.environ.setdefault(key, value)
    if ray.is_initialized():
        return
    pythonpath = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {**RAY_ENV, "PYTHONPATH": pythonpath}}
    kwargs: dict[str, Any] = {"runtime_env": runtime_env, "log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **kwargs)
    else:
        # "local": always a fresh instance; None would join a cluster that `ray start` left on this machine
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **kwargs)


def node_capacities() -> list[dict[str, float]]:
    """Total CPU, GPU and memory (bytes) of every live node."""
    import ray

    nodes = []
    for node in ray.nodes():
        if node.get("Alive"):
            res = node.get("Resources", {})
            nodes.append({"CPU": res.get("CPU", 0.0), "GPU": res.get("GPU", 0.0), "memory": res.get("memory", 0.0)})
    return nodes


def request_of(resources: Any) -> dict[str, float]:
    """Ray resources for a metaprogram's pipeline.resources."""
    return {"CPU": float(resources.cpus), "GPU": float(resources.gpus), "memory": float(resources.memory_gb) * GIB}


def infeasible(request: dict[str, float], nodes: list[dict[str, float]]) -> str | None:
    """Why no node can ever run this request, or None when one can."""
    if any(all(node[k] >= v for k, v in request.items()) for node in nodes):
        return None
    best = {k: max((n[k] for n in nodes), default=0.0) for k in request}
    short = [f"{_show(k, v)} (largest node: {_show(k, best[k])})" for k, v in request.items() if v > best[k] and v > 0]
    return "no node can offer " + ", ".join(short or [str(request)])


def _show(key: str, value: float) -> str:
    if key == "memory":
        return f"{value / GIB:.1f} GiB memory"
    return f"{value:g} {key}{'s' if value != 1 else ''}"
