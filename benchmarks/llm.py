"""LLM: quantization time and HellaSwag recovery per scheme on SmolLM2; serving efficiency of our server.

    python -B benchmarks/llm.py [--limit 100] [--schemes w4a16,w8a8,fp8_dynamic] [--serve-requests 8]
                                [--skip-quantize] [--skip-serve] [--direct-check] [--data-root data]

Figures, measured side by side in one run (SmolLM2-135M-Instruct, converted once and cached):
- per scheme: llm-compressor oneshot wall time, size before / after, and recovery = quantized acc_norm over
  baseline acc_norm on the first `--limit` local HellaSwag items (through the quantize_eval_bench chain, so
  the baseline evaluation is shared by every scheme);
- serving efficiency = output tokens/s of our OpenAI-compatible server under guidellm's synchronous profile
  (`--serve-requests` requests, so that no request is cut off by a duration limit)
  over output tokens/s of in-process `generate` on the same model with the same prompt / output lengths
  (target >= 0.8); in-process is measured before and after the server and averaged, against drift;
- with --direct-check: baseline acc_norm from calling lm_eval.simple_evaluate directly on the same model
  and items, against the evaluate pipeline's (target: within 0.02).
Results go to benchmarks/results/llm.json; the ratios are printed last.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
sys.path.insert(0, str(REPO))

PROMPT_TOKENS, OUTPUT_TOKENS = 128, 32  # the cpu_short benchmarking standard


def paths_for(args):
    from engine.paths import Paths

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="llm_bench_"))
    return Paths(
        data_root=str(Path(args.data_root).resolve()),
        model_root=str(Path(args.model_root).resolve()),
        cache_root=str(work / "cache"),
        output_root=str(work / "out"),
    )


def quantize_figures(args, paths) -> dict:
    from engine.compose import load
    from engine.runner import RunFailed, execute

    figures = {}
    for scheme in args.schemes.split(","):
        overrides = [
            f"pipeline.evaluate.limit={args.limit}",
            f"pipeline.quantize.num_calibration_samples={args.calibration_samples}",
            "pipeline.run_benchmark=false",
            "pipeline.device=cpu",
        ]
        mp = load(overrides, config_name=f"metaprogram/smollm2_{scheme}").metaprogram
        started = time.perf_counter()
        try:
            metrics = execute(mp, paths)["metrics"]
        except RunFailed as exc:  # one scheme failing does not lose the others' figures
            figures[scheme] = {"error": exc.error}
            print(f"{scheme}: FAILED {exc.error}", flush=True)
            continue
        figures[scheme] = {
            "quantize_s": metrics["quantize/wall_s"],
            "size_before_mb": metrics["quantize/size_before_mb"],
            "size_after_mb": metrics["quantize/size_after_mb"],
            "baseline_acc_norm": metrics["baseline/hellaswag_local/acc_norm"],
            "quantized_acc_norm": metrics["quantized/hellaswag_local/acc_norm"],
            "recovery": metrics["recovery/hellaswag_local"],
            "chain_wall_s": round(time.perf_counter() - started, 1),
        }
        print(f"{scheme}: {figures[scheme]}", flush=True)
    return figures


def in_process_tokens_per_s(folder: Path, repeats: int, threads: int) -> float:
    """Greedy generate of exactly OUTPUT_TOKENS after a PROMPT_TOKENS prompt, prefill included (as served)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    text = "The quick brown fox jumps over the lazy dog. " * PROMPT_TOKENS
    ids = torch.tensor([tokenizer(text)["input_ids"][:PROMPT_TOKENS]])
    kwargs = {"max_new_tokens": OUTPUT_TOKENS, "min_new_tokens": OUTPUT_TOKENS, "do_sample": False,
              "attention_mask": torch.ones_like(ids), "pad_token_id": tokenizer.eos_token_id}  # fmt: skip
    with torch.inference_mode():
        model.generate(ids, **kwargs)  # warm-up
        started = time.perf_counter()
        for _ in range(repeats):
            out = model.generate(ids, **kwargs)
            assert out.shape[1] - ids.shape[1] == OUTPUT_TOKENS
        seconds = time.perf_counter() - started
    return repeats * OUTPUT_TOKENS / seconds


def serving_figures(args, paths) -> dict:
    from engine.metaprogram import validate
    from engine.models.llm.materialize import materialize
    from engine.runner import execute
    from engine.schema.llm_models import SmolLM2Config

    folder = materialize(SmolLM2Config(), paths)
    before = in_process_tokens_per_s(folder, args.generate_repeats, args.threads)
    raw = {
        "model": {"name": "smollm2_135m"},
        "dataset": {"name": "lm_tasks"},
        "pipeline": {
            "name": "benchmark", "server": "builtin", "device": "cpu", "standard": "cpu_short",
            "profile": "synchronous", "max_seconds": args.serve_seconds, "max_requests": args.serve_requests,
            "prompt_tokens": PROMPT_TOKENS, "output_tokens": OUTPUT_TOKENS, "resources": {"cpus": args.threads},
        },
    }  # fmt: skip
    metrics = execute(validate(raw, trusted=True), paths, force=True)["metrics"]
    after = in_process_tokens_per_s(folder, args.generate_repeats, args.threads)
    in_process = statistics.mean([before, after])
    served = metrics["bench/output_tokens_per_s"]
    return {
        "prompt_tokens": PROMPT_TOKENS,
        "output_tokens": OUTPUT_TOKENS,
        "in_process_tokens_per_s": [round(before, 2), round(after, 2)],
        "served_output_tokens_per_s": round(served, 2),
        "served_requests_per_s": round(metrics["bench/requests_per_s"], 3),
        "ttft_ms": [round(metrics[f"bench/ttft_ms_{q}"], 1) for q in ("median", "p90", "p99")],
        "itl_ms": [round(metrics[f"bench/itl_ms_{q}"], 1) for q in ("median", "p90", "p99")],
        "serving_efficiency": round(served / in_process, 4),
        "threads": args.threads,
    }


def direct_check(args, paths, pipeline_acc_norm: float) -> dict:
    """lm_eval.simple_evaluate called directly on the same model and items as the evaluate pipeline."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    from engine.data_pipe.llm_data import prepare_local_tasks, task_specs
    from engine.models.llm.materialize import materialize
    from engine.schema.llm_data import LMTasksConfig
    from engine.schema.llm_models import SmolLM2Config

    folder = materialize(SmolLM2Config(), paths)
    data = LMTasksConfig(suite="hellaswag")
    include = prepare_local_tasks(task_specs(data), data, paths, Path(paths.output_root) / "direct_tasks")
    out = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={folder},device=cpu,dtype=float32", tasks=["hellaswag_local"],
        num_fewshot=0, limit=args.limit, batch_size=8, task_manager=TaskManager(include_path=str(include)),
        bootstrap_iters=0,
    )  # fmt: skip
    direct = out["results"]["hellaswag_local"]["acc_norm,none"]
    return {
        "direct_acc_norm": direct,
        "pipeline_acc_norm": pipeline_acc_norm,
        "abs_diff": abs(direct - pipeline_acc_norm),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-root",
        default=os.environ.get("METAPROGRAM_DATA_ROOT", str(REPO / "data")),
        help="folder with hellaswag_val.jsonl, gsm8k_test.jsonl (default: the repository's data/, see `make data`)",
    )
    parser.add_argument(
        "--model-root",
        default=os.environ.get("METAPROGRAM_MODEL_ROOT", str(REPO / "models")),
        help="where SmolLM2 is converted and cached",
    )
    parser.add_argument("--work-dir", default=None, help="run directories (default: a temporary folder)")
    parser.add_argument("--schemes", default="w4a16,w8a8,fp8_dynamic")
    parser.add_argument("--limit", type=int, default=100, help="HellaSwag items per evaluation")
    parser.add_argument("--calibration-samples", type=int, default=64)
    parser.add_argument("--serve-seconds", type=float, default=None, help="a duration limit instead of requests")
    parser.add_argument(
        "--serve-requests", type=int, default=8, help="requests served (all complete: a duration limit cuts the last)"
    )
    parser.add_argument("--generate-repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads, in-process and in the server alike")
    parser.add_argument("--skip-quantize", action="store_true")
    parser.add_argument("--skip-serve", action="store_true")
    parser.add_argument("--direct-check", action="store_true")
    args = parser.parse_args()
    paths = paths_for(args)
    logging.getLogger("metaprogram").setLevel(logging.INFO)  # each run's run.log gets the pipeline's lines

    figures: dict = {"limit": args.limit, "calibration_samples": args.calibration_samples}
    if not args.skip_serve:
        figures["serving"] = serving_figures(args, paths)
        print(f"serving: {figures['serving']}", flush=True)
    if not args.skip_quantize:
        figures["schemes"] = quantize_figures(args, paths)
        if args.direct_check:
            baseline = next(f for f in figures["schemes"].values() if "error" not in f)["baseline_acc_norm"]
            figures["direct_check"] = direct_check(args, paths, baseline)

    RESULTS.mkdir(parents=True, exist_ok=True)
    figures["machine"] = {"python": platform.python_version(), "cpu": platform.processor() or "?"}
    from engine.atomic import atomic_write

    atomic_write(RESULTS / "llm.json", json.dumps(figures, indent=2, sort_keys=True) + "\n")

    print("\n== LLM figures (ratios last)")
    schemes = {k: v for k, v in figures.get("schemes", {}).items() if "error" not in v}
    for scheme, f in schemes.items():
        print(
            f"{scheme:12s} quantize {f['quantize_s']:7.1f} s  "
            f"size {f['size_before_mb']:.0f} -> {f['size_after_mb']:.0f} MB"
            f"  acc_norm {f['baseline_acc_norm']:.3f} -> {f['quantized_acc_norm']:.3f}"
        )
    if "direct_check" in figures:
        d = figures["direct_check"]
        print(f"baseline acc_norm: pipeline {d['pipeline_acc_norm']:.4f}, direct lm-eval {d['direct_acc_norm']:.4f}")
    if "serving" in figures:
        s = figures["serving"]
        print(
            f"served {s['served_output_tokens_per_s']} tok/s vs in-process {s['in_process_tokens_per_s']} tok/s; "
            f"TTFT ms (median/p90/p99) {s['ttft_ms']}; ITL ms {s['itl_ms']}"
        )
    for scheme, f in schemes.items():
        print(f"recovery {scheme}: {f['recovery']:.4f}   (HellaSwag acc_norm, {args.limit} items)")
    if "direct_check" in figures:
        print(f"wrapper |pipeline - direct| acc_norm: {figures['direct_check']['abs_diff']:.4f}   (target <= 0.02)")
    if "serving" in figures:
        print(f"serving efficiency: {figures['serving']['serving_efficiency']:.3f}   (target >= 0.8)")


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
