"""Run a dataset's transform DAG with a cache per node.

A node's key hashes its transform (name and version), its parameters, the
stamps of the files it reads, and the keys of its inputs; so changing one
node's parameter changes that node's key and its descendants' keys only.
Nodes are pulled from the output backwards: a node whose output is cached is
loaded, not recomputed, and nodes above a cached node are not even read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.data_pipe.cache import CorruptCache, NodeCache
from engine.data_pipe.frame import Data
from engine.data_pipe.loaders import DataError
from engine.paths import Paths

FORMAT_VERSION = 1  # bump when Data's layout changes: every key changes with it
_log = logging.getLogger("metaprogram")


@dataclass
class NodeReport:
    name: str
    transform: str
    key: str
    status: str  # hit | computed | regenerated | recomputed (corrupt cache) | hit, not loaded | not needed
    seconds: float = 0.0


@dataclass
class TransformEnv:
    """What a transform may use besides its inputs and parameters."""

    paths: Paths
    log: logging.Logger


EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"  # small data shipped with the repository


def resolve_path(params: Any, field: str, paths: Paths) -> Path:
    """A path parameter: `example:<name>` is a file shipped in the repository's data/examples; an absolute
    path is taken as given; anything else is under the transform's root (data_root by default)."""
    raw = str(getattr(params, field))
    if raw.startswith("example:"):
        return EXAMPLES / raw.removeprefix("example:")
    value = Path(raw).expanduser()
    if value.is_absolute():
        return value
    return paths.root(getattr(type(params), "path_root", "data_root")) / value


def _stamp(path: Path) -> list:
    """Size and modification time of a file, or of every file in a folder: a changed input changes the key."""
    if path.is_file():
        st = path.stat()
        return [st.st_size, st.st_mtime_ns]
    if path.is_dir():
        return [[str(p.relative_to(path)), *_stamp(p)] for p in sorted(path.rglob("*")) if p.is_file()]
    return ["missing"]


def node_keys(cfg, paths: Paths) -> dict[str, str]:
    from engine.schema.base import is_path_field

    keys: dict[str, str] = {}
    for node in cfg.nodes:
        params = node.params
        stamps = {
            f: _stamp(resolve_path(params, f, paths))
            for f in type(params).model_fields
            if is_path_field(type(params), f) and getattr(params, f) is not None
        }
        text = json.dumps(
            {
                "format": FORMAT_VERSION,
                "transform": node.transform,
                "version": type(params).version,
                "params": params.model_dump(mode="json"),
                "files": stamps,
                "inputs": [keys[i] for i in node.inputs],
            },
            sort_keys=True,
        )
        keys[node.name] = hashlib.sha256(text.encode()).hexdigest()[:32]
    return keys


def run_dag(
    cfg, paths: Paths, log: logging.Logger = _log, run_dir: Path | None = None
) -> tuple[Data, list[NodeReport]]:
    """The output node's data, and what happened at each node (also logged, and written to run_dir)."""
    from engine.schema.data_dag import TRANSFORMS

    nodes = {node.name: node for node in cfg.nodes}
    keys = node_keys(cfg, paths)
    cache = NodeCache(paths.root("cache_root") / "dag")
    env = TransformEnv(paths, log)
    forced: set[str] = set()
    for node in cfg.nodes:  # declared order is topological: inputs come first
        if node.regenerate or any(i in forced for i in node.inputs):
            forced.add(node.name)
    results: dict[str, Data] = {}
    reports: dict[str, NodeReport] = {}

    def get(name: str) -> Data:
        if name in results:
            return results[name]
        node, key = nodes[name], keys[name]
        status = "regenerated" if name in forced else "computed"
        if node.cache and name not in forced:
            started = time.perf_counter()
            try:
                data = cache.load(key)
            except (CorruptCache, OSError, ValueError) as exc:  # damaged file: recompute, do not crash
                log.warning("data node %s: cache file unusable (%s); recomputing", name, exc)
                data, status = None, "recomputed (corrupt cache)"
            if data is not None:
                _finish(name, data, "hit", time.perf_counter() - started)
                return data
        inputs = [get(i) for i in node.inputs]
        started = time.perf_counter()
        data = TRANSFORMS.load(node.transform)(inputs, node.params, env)
        if node.cache:
            try:
                cache.store(key, data)
            except OSError as exc:  # a full or read-only cache costs the next run time, not this run
                log.warning("data node %s: could not write the cache (%s)", name, exc)
        _finish(name, data, status, time.perf_counter() - started)
        return data

    def _finish(name: str, data: Data, status: str, seconds: float) -> None:
        node = nodes[name]
        results[name] = data
        reports[name] = NodeReport(name, node.transform, keys[name], status, seconds)
        log.info("data node %-14s %-26s %7.3f s  (%s, key %s)", name, status, seconds, node.transform, keys[name][:12])
        if node.inspect and run_dir is not None:
            before = {i: get(i).samples() for i in node.inputs}
            _write_json(run_dir / "inspect" / f"{name}.json", {"before": before, "after": data.samples()})

    output = cfg.output or cfg.nodes[-1].name
    data = get(output)
    for node in cfg.nodes:  # nodes above a cached node were not read: say whether they are cached
        if node.name not in reports:
            status = "hit, not loaded" if node.cache and cache.exists(keys[node.name]) else "not needed"
            reports[node.name] = NodeReport(node.name, node.transform, keys[node.name], status)
            log.info(
                "data node %-14s %-26s %7s    (%s, key %s)",
                node.name,
                status,
                "-",
                node.transform,
                keys[node.name][:12],
            )
    ordered = [reports[n.name] for n in cfg.nodes]
    hits = sum(r.status in ("hit", "hit, not loaded") for r in ordered)
    log.info("data DAG: %d of %d nodes from the cache", hits, len(ordered))
    if run_dir is not None:
        _write_json(run_dir / "data_dag.json", [r.__dict__ for r in ordered])
    return data, ordered


def _write_json(path: Path, payload: Any) -> None:
    from engine.records import write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path, payload)


def to_splits(data: Data, task: str):
    """The output node's parts as the tensors the execution pipeline trains on."""
    import torch

    from engine.data_point import DataInfo, Split, Splits

    if not data.is_split:
        raise DataError("the DAG's output node has no train/val/test parts (add a split or kfold node)")
    kind = data.meta.get("input_kind", "features")
    if kind == "text":
        raise DataError("the DAG's output holds raw text: add a tokenize node before the output")
    if data.meta.get("task", task) != task:
        raise DataError(f"dataset.task_type is {task} but the DAG's data is {data.meta.get('task')}")
    class_names = tuple(data.meta.get("class_names", ()))

    def part(name: str) -> Split:
        x, y = data.arrays[f"{name}/x"], data.arrays[f"{name}/y"]
        x = x.astype(np.int64) if kind == "tokens" else x.astype(np.float32)
        y = y.astype(np.int64) if task == "classification" else y.astype(np.float32)
        return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y)))

    train = part("train")
    info = DataInfo(
        task=task,
        input_shape=tuple(train.inputs.shape[1:]),
        n_outputs=len(class_names) if task == "classification" else 1,
        class_names=class_names,
        target_mean=float(data.meta.get("target_mean", 0.0)),
        target_std=float(data.meta.get("target_std", 1.0)),
        input_kind=kind,
        extra={k: data.meta[k] for k in ("vocab_size", "pad_id") if k in data.meta},
    )
    return Splits(train, part("val"), part("test"), info)


def load_dag(cfg, paths: Paths, context: Any = None):
    """Registered loader of the `dag` dataset: run the DAG, hand over train/val/test tensors."""
    log = context.log if context is not None else _log
    run_dir = context.run_dir if context is not None else None
    data, _ = run_dag(cfg, paths, log, run_dir)
    return to_splits(data, cfg.task())


load_dag.wants_context = True  # type: ignore[attr-defined]
