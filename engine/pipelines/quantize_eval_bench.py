"""The quantize_eval_bench chain: evaluate the baseline, quantize, evaluate the quantized model, benchmark both.

Each stage is a metaprogram of its own (same model / dataset / seed, the
stage's pipeline settings) run through the context's run_stage, so it has its
own id and run directory and is reused when unchanged: a chain whose quantize
stage did not change reuses the compressed model, and the baseline's
evaluation and benchmark are shared by every scheme. The quantized model
enters the later stages as an `hf` model whose local_dir is the quantize
run's model folder. Results carry every stage's metrics with a prefix and
the recovery ratio (quantized over baseline) per task and for the group.
`quality_speed.png` plots recovery against speed and size for every chain sharing this one's baseline.
"""

from __future__ import annotations

import json
from typing import Any

from engine.atomic import atomic_write
from engine.context import RunContext, RunFailed
from engine.data_pipe.llm_data import task_specs
from engine.metaprogram import Metaprogram, assemble
from engine.pipelines.quantize import MODEL_SUBDIR
from engine.schema.llm_data import CalibrationConfig, LMTasksConfig
from engine.schema.llm_models import HFModelConfig


class StageFailed(RuntimeError):
    pass


def run(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    cfg = mp.pipeline
    paths = context.paths
    # Stages see only what they use, so that unrelated settings do not change their ids.
    eval_data = mp.dataset.model_copy(update={"calibration": CalibrationConfig()})
    bench_data = LMTasksConfig()
    stages: dict[str, dict[str, Any]] = {}
    metrics: dict[str, Any] = {}

    def stage(name: str, model, dataset, pipeline) -> dict[str, Any]:
        sub = assemble(model, dataset, pipeline.model_copy(update={"device": cfg.device}), mp.seed, paths)
        context.log.info("chain stage %s: run %s", name, sub.id)
        try:
            results = context.run_stage(sub)
        except RunFailed as exc:
            stages[name] = {"id": exc.run_id, "status": "failed", "error": exc.error}
            _write_stages(context, stages)
            raise StageFailed(f"stage {name} (run {exc.run_id}) failed: {exc.error}") from exc
        stages[name] = {"id": sub.id, "run_dir": str(paths.run_dir(sub.id)), "reused": bool(results.get("reused"))}
        _write_stages(context, stages)
        metrics[f"stages/{name}_reused"] = int(bool(results.get("reused")))
        context.check_deadline()
        return results["metrics"]

    def reached() -> None:  # one report per stage (cfg.stage_names()): a scheduler may stop the chain between stages
        context.report({"epoch": len(stages), **metrics})

    baseline = stage("evaluate_baseline", mp.model, eval_data, cfg.evaluate)
    metrics.update({f"baseline/{k}": v for k, v in baseline.items()})
    reached()
    metrics.update(stage("quantize", mp.model, mp.dataset, cfg.quantize))
    reached()
    quantized_model = HFModelConfig(
        local_dir=str(paths.run_dir(stages["quantize"]["id"]) / MODEL_SUBDIR), dtype=mp.model.dtype
    )
    quantized = stage("evaluate_quantized", quantized_model, eval_data, cfg.evaluate)
    metrics.update({f"quantized/{k}": v for k, v in quantized.items()})
    metrics.update(recovery(mp.dataset, baseline, quantized))
    reached()
    if cfg.run_benchmark:
        base_bench = stage("benchmark_baseline", mp.model, bench_data, cfg.benchmark)
        metrics.update({f"baseline/{k}": v for k, v in base_bench.items()})
        reached()
        quant_bench = stage("benchmark_quantized", quantized_model, bench_data, cfg.benchmark)
        metrics.update({f"quantized/{k}": v for k, v in quant_bench.items()})
        base_tps = base_bench.get("bench/output_tokens_per_s") or 0.0
        if base_tps:
            metrics["speedup/output_tokens_per_s"] = quant_bench.get("bench/output_tokens_per_s", 0.0) / base_tps
        reached()
    _plot(context, metrics)
    return metrics


def _plot(context: RunContext, metrics: dict[str, Any]) -> None:
    """quality_speed.png: this chain and every chain sharing its baseline (an observer: never fails the chain)."""
    from engine.chain_report import quality_speed_plot

    try:
        path = quality_speed_plot(context.run_dir, context.paths.root("output_root"), metrics)
        context.log.info("chain plot: %s", path)
    except Exception as exc:
        context.log.warning("could not draw the chain's quality/speed plot: %s", exc)


def recovery(dataset, baseline: dict[str, float], quantized: dict[str, float]) -> dict[str, float]:
    """Quantized over baseline for each task's counted metric and for the group score."""
    out = {}
    for spec in task_specs(dataset):
        if spec.metric is not None:
            metric, _, filt = spec.metric.partition(",")
            key = f"{spec.name}/{metric}" if filt in ("", "none") else f"{spec.name}/{metric}.{filt}"
        else:
            key = next((k for k in baseline if k.startswith(f"{spec.name}/")), None)
        if key is None or key not in baseline or key not in quantized:
            continue
        ratio = _ratio(quantized[key], baseline[key])
        if ratio is not None:
            out[f"recovery/{spec.name}"] = ratio
    ratio = _ratio(quantized.get("group/score", 0.0), baseline.get("group/score", 0.0))
    if ratio is not None:
        out["recovery/group"] = ratio
    return out


def _ratio(quantized: float, baseline: float) -> float | None:
    if baseline:
        return quantized / baseline
    return 1.0 if quantized == baseline else None  # 0 / 0: nothing was lost; x / 0: undefined, left out


def _write_stages(context: RunContext, stages: dict[str, Any]) -> None:
    atomic_write(context.run_dir / "stages.json", json.dumps(stages, indent=2, sort_keys=True) + "\n")
