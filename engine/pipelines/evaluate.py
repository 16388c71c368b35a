"""The evaluate pipeline: lm-eval's simple_evaluate on the dataset component's tasks.

Backends: `hf` (transformers, CPU or CUDA) and `vllm` (GPU; built here, run by
lm-eval). Tasks are lm-eval registered names or local tasks from
configs/lm_eval_tasks, copied into the run directory with their data files
resolved through path.data_root. The model is loaded once and evaluated per
few-shot group. Metrics come back flat as `<task>/<metric>` plus the group
score (`group/score`, and `group/normalized` against the random baselines);
lm-eval's results and the per-sample log are written to the run directory.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write
from engine.context import RunContext, resolve_device
from engine.data_pipe.llm_data import TaskSpec, prepare_local_tasks, task_specs
from engine.metaprogram import Metaprogram
from engine.models.llm.materialize import materialize

BOOTSTRAP_ITERS = 100  # lm-eval's default (100k) costs minutes on CPU for a stderr we only log


def run(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    # Before anything imports huggingface_hub / datasets: they read these variables once, at import.
    _hf_env(context, offline=all(s.local for s in task_specs(mp.dataset)))
    folder = materialize(mp.model, context.paths)
    return evaluate_folder(folder, mp, context)


def evaluate_folder(folder: Path, mp: Metaprogram, context: RunContext, prefix: str = "") -> dict[str, Any]:
    cfg = mp.pipeline
    specs = task_specs(mp.dataset)
    include = prepare_local_tasks(specs, mp.dataset, context.paths, context.run_dir / "tasks")
    all_local = all(s.local for s in specs)
    _hf_env(context, offline=all_local)

    import lm_eval
    from lm_eval.api.registry import get_model
    from lm_eval.tasks import TaskManager

    device = resolve_device(cfg.device)
    backend, model_args = lm_eval_model_args(cfg, folder, device, mp.model.dtype)
    context.log.info("evaluate %s with lm-eval %s (%s) on %s", folder, backend, model_args, [s.name for s in specs])
    lm = get_model(backend).create_from_arg_string(model_args, {"batch_size": cfg.batch_size})
    # Indexing lm-eval's thousands of built-in tasks takes tens of seconds: skip it when every task is local.
    manager = TaskManager(include_path=str(include) if include else None, include_defaults=not all_local)

    results: dict[str, dict[str, Any]] = {}
    samples: dict[str, list[Any]] = {}
    for fewshot, names in _fewshot_groups(specs, cfg.num_fewshot).items():
        out = lm_eval.simple_evaluate(
            model=lm,
            tasks=names,
            num_fewshot=fewshot,
            limit=cfg.limit,
            batch_size=cfg.batch_size,
            device=device,
            task_manager=manager,
            log_samples=cfg.log_samples,
            apply_chat_template=cfg.apply_chat_template,
            bootstrap_iters=BOOTSTRAP_ITERS,
            random_seed=mp.seed,
            numpy_random_seed=mp.seed,
            torch_random_seed=mp.seed,
            fewshot_random_seed=mp.seed,
        )
        context.check_deadline()
        results.update(out["results"])
        samples.update(out.get("samples") or {})
    _write(context.run_dir / f"{prefix}lm_eval_results.json", results)
    _write_samples(context.run_dir / f"{prefix}samples", samples)
    metrics = flatten(results)
    metrics.update(group_scores(specs, results))
    return metrics


def lm_eval_model_args(cfg, folder: Path, device: str, dtype: str) -> tuple[str, str]:
    """(lm-eval model name, model_args string) for the configured backend."""
    if cfg.backend == "vllm":
        if device != "cuda":
            raise RuntimeError("pipeline.backend=vllm needs a CUDA GPU (and `pip install vllm`); use backend=hf on CPU")
        args = {
            "pretrained": str(folder),
            "dtype": "auto" if dtype == "auto" else dtype,
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "tensor_parallel_size": cfg.tensor_parallel_size,
        }
        if cfg.max_length:
            args["max_model_len"] = cfg.max_length
        return "vllm", _arg_string(args)
    args = {"pretrained": str(folder), "device": device, "dtype": dtype}
    if cfg.max_length:
        args["max_length"] = cfg.max_length
    return "hf", _arg_string(args)


def _arg_string(args: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in args.items())


def _fewshot_groups(specs: list[TaskSpec], override: int | None) -> dict[int | None, list[str]]:
    groups: dict[int | None, list[str]] = defaultdict(list)
    for spec in specs:
        groups[override if override is not None else spec.num_fewshot].append(spec.name)
    return dict(groups)


def flatten(results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """{"hellaswag_local": {"acc_norm,none": 0.3}} -> {"hellaswag_local/acc_norm": 0.3}; stderr dropped."""
    flat = {}
    for task, values in results.items():
        for key, value in values.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or "_stderr" in key or key == "sample_len":
                continue
            metric, _, filt = key.partition(",")
            name = metric if filt in ("", "none") else f"{metric}.{filt}"
            flat[f"{task}/{name}"] = float(value)
    return flat


def _metric_value(spec: TaskSpec, values: dict[str, Any]) -> float:
    if spec.metric is None:
        candidates = [k for k, v in values.items() if isinstance(v, int | float) and "_stderr" not in k]
        if not candidates:
            raise KeyError(f"task {spec.name}: no metric in its results ({', '.join(values)})")
        return float(values[candidates[0]])
    key = spec.metric if "," in spec.metric else f"{spec.metric},none"
    if key not in values:
        raise KeyError(f"task {spec.name}: metric {spec.metric!r} not in its results ({', '.join(values)})")
    return float(values[key])


def group_scores(specs: list[TaskSpec], results: dict[str, dict[str, Any]]) -> dict[str, float]:
    """Mean of each task's counted metric, and the mean normalised by random baseline ((v - b) / (1 - b))."""
    values = [(_metric_value(s, results[s.name]), s.random_baseline) for s in specs]
    score = sum(v for v, _ in values) / len(values)
    normalized = sum((v - b) / (1 - b) if b < 1 else 0.0 for v, b in values) / len(values)
    return {"group/score": score, "group/normalized": normalized}


def _hf_env(context: RunContext, offline: bool) -> None:
    """Keep lm-eval's caches under path.cache_root; with only local tasks, never touch the hub."""
    os.environ.setdefault("HF_HOME", str(context.paths.root("cache_root") / "huggingface"))
    if offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HF_DATASETS_OFFLINE"] = "1"


def _write(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _write_samples(folder: Path, samples: dict[str, list[Any]]) -> None:
    if not samples:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for task, items in samples.items():
        with (folder / f"{task}.jsonl").open("w") as handle:
            for item in items:
                handle.write(json.dumps(item, default=str) + "\n")
