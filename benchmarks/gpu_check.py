"""The GPU check: every GPU path of the project in a few minutes, one figure each (`make gpu-check`).

    python -B benchmarks/gpu_check.py [--only NAME ...] [--skip-vllm]

Without CUDA it says so and exits 0: there is nothing to check. With a GPU it runs, each through the engine
as a user would, and prints one line per path (its figure, or why it failed or was skipped), then exits 1
if any path failed:
- train-bf16: the example's MLP trained on CUDA under bf16 autocast: samples/s on the GPU over the CPU's;
- train-fp16: the same with fp16 and a gradient scaler: samples/s on the GPU over the CPU's;
- streaming-pinned: the streaming path (DataLoader workers, pinned memory, non-blocking copies) on CUDA:
  samples/s, and over the in-memory path on the same GPU;
- ddp-2gpu: with 2 GPUs, `pipeline.distributed.workers=2` (Ray Train, nccl): samples/s over 1 GPU;
- llm-chain-cuda: the tiny LLM chain (evaluate, W4A16, evaluate, guidellm on the mock server) with
  `pipeline.device=cuda`: HellaSwag recovery (quantized / baseline) and its wall time;
- vllm-serve: in `.venv-vllm` (`bash scripts/install.sh .venv-vllm vllm`), SmolLM2 under `vllm serve`
  loaded by guidellm: output tokens/s;
- vllm-eval: lm-eval's `vllm` backend against `hf` on the same 100 HellaSwag items: the two scores' ratio.
Figures go to benchmarks/results/gpu_check.json, with the GPU's name.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from _common import REPO, save, table

VLLM_PYTHON = REPO / ".venv-vllm" / "bin" / "python"
SMOLLM2 = ["+metaprogram/component/model=llm/smollm2_135m", "+metaprogram/component/dataset=llm/hellaswag_local",
           "+path=default", "pipeline.device=cuda", "model.dtype=bfloat16"]  # fmt: skip


class Skipped(Exception):
    """A path that cannot run on this machine (one GPU, no .venv-vllm): said, not failed."""


def _mlp(device: str, epochs: int, **pipeline) -> dict:
    from engine.metaprogram import validate

    settings = {"name": "execution", "epochs": epochs, "batch_size": 256, "device": device,
                "hooks": {"progress": {"leave": False}, "checkpoint": {}, "early_stopping": {"patience": 1000}},
                **pipeline}  # fmt: skip
    dataset = {"name": "synthetic_classification", "n_samples": 100_000, "n_features": 64, "n_informative": 16}
    return validate({"model": {"name": "mlp", "hidden": 512, "layers": 3}, "dataset": dataset, "pipeline": settings},
                    trusted=True)  # fmt: skip


def _samples_per_s(mp, out: Path, clock_key: str | None = None) -> float:
    """Training samples/s over epochs 2..N, from the epoch ends the run reports."""
    from engine.data_pipe import build_splits
    from engine.paths import Paths
    from engine.runner import execute

    paths = Paths(data_root=str(REPO / "data"), model_root=str(REPO / "models"), cache_root=str(out / "cache"),
                  output_root=str(out))  # fmt: skip
    stamps: list[float] = []
    execute(mp, paths, force=True, report=lambda m: stamps.append(m[clock_key] if clock_key else time.time()))
    return (len(stamps) - 1) * len(build_splits(mp.dataset, paths).train) / (stamps[-1] - stamps[0])


def train(precision: str) -> Callable[[Path], str]:
    def check(out: Path) -> str:
        gpu = _samples_per_s(_mlp("cuda", 6, precision=precision), out)
        cpu = _samples_per_s(_mlp("cpu", 3, precision="fp32"), out)
        return f"{gpu:,.0f} samples/s on the GPU, {gpu / cpu:.1f}x the CPU's ({cpu:,.0f})"

    return check


def streaming(out: Path) -> str:
    streamed = _samples_per_s(_mlp("cuda", 6, loader={"in_memory_limit_gb": 0, "workers": 2}), out)
    memory = _samples_per_s(_mlp("cuda", 6), out)
    return f"{streamed:,.0f} samples/s streamed with pinned memory, {streamed / memory:.2f}x in memory on the GPU"


def ddp(out: Path) -> str:
    import torch

    if torch.cuda.device_count() < 2:
        raise Skipped(f"{torch.cuda.device_count()} GPU: a 2-GPU DDP run needs 2")
    two = _samples_per_s(_mlp("cuda", 6, distributed={"workers": 2, "gpus_per_worker": 1}), out, "worker/time_s")
    one = _samples_per_s(_mlp("cuda", 6), out)
    return f"{two:,.0f} samples/s on 2 GPUs (Ray Train, nccl), {two / one:.2f}x one GPU"


def _cli(python: Path | str, args: list[str], out: Path, timeout: float = 1200) -> dict:
    """One run_metaprogram.py command; its results.json (the last run directory it printed)."""
    env = {**os.environ, "METAPROGRAM_OUTPUT_ROOT": str(out / "runs_root")}
    done = subprocess.run([str(python), "-B", str(REPO / "run_metaprogram.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    run_dir = re.findall(r"^run directory: (.+)$", done.stdout, re.M)[-1]
    return json.loads((Path(run_dir) / "results.json").read_text())


def llm_chain(out: Path) -> str:
    started = time.monotonic()
    results = _cli(sys.executable, ["--config-name=metaprogram/tiny_llama_chain", "pipeline.device=cuda"], out)
    metrics = results["metrics"]
    recovery = metrics.get("recovery/group", next((v for k, v in metrics.items() if k.startswith("recovery/")), None))
    if recovery is None:
        raise RuntimeError(f"no recovery among the chain's metrics: {sorted(metrics)}")
    return f"recovery {recovery:.3f} (quantized / baseline), the chain in {time.monotonic() - started:.0f} s"


def _vllm() -> Path:
    if not VLLM_PYTHON.exists():
        raise Skipped("no .venv-vllm: bash scripts/install.sh .venv-vllm vllm")
    return VLLM_PYTHON


def vllm_serve(out: Path) -> str:
    args = ["+metaprogram/component/pipeline=benchmark", *SMOLLM2, "pipeline.server=vllm", "pipeline.standard=chat"]
    metrics = _cli(_vllm(), args, out)["metrics"]
    value = metrics.get("bench/output_tokens_per_s")
    if value is None:
        raise RuntimeError(f"no bench/output_tokens_per_s among {sorted(metrics)}")
    return f"{value:,.0f} output tokens/s (vllm serve under guidellm)"


def vllm_eval(out: Path) -> str:
    scores = {}
    for backend in ("vllm", "hf"):
        args = [
            "+metaprogram/component/pipeline=evaluate",
            *SMOLLM2,
            "pipeline.limit=100",
            f"pipeline.backend={backend}",
        ]
        metrics = _cli(_vllm(), args, out)["metrics"]
        objective = metrics.get("group/score")  # the evaluate pipeline's objective
        if objective is None:
            raise RuntimeError(f"no score among {sorted(metrics)}")
        scores[backend] = objective
    return f"HellaSwag vllm {scores['vllm']:.3f} vs hf {scores['hf']:.3f}: ratio {scores['vllm'] / scores['hf']:.3f}"


CHECKS: dict[str, Callable[[Path], str]] = {
    "train-bf16": train("bf16"),
    "train-fp16": train("fp16"),
    "streaming-pinned": streaming,
    "ddp-2gpu": ddp,
    "llm-chain-cuda": llm_chain,
    "vllm-serve": vllm_serve,
    "vllm-eval": vllm_eval,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", choices=list(CHECKS), help="run these paths only")
    parser.add_argument("--skip-vllm", action="store_true", help="leave out the .venv-vllm paths")
    args = parser.parse_args(argv)
    import torch

    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA device here (torch {torch.__version__}, torch.cuda.is_available() is False): "
              "nothing to check. Run it on a machine with a GPU (make gpu-check).")  # fmt: skip
        return 0
    gpu = f"{torch.cuda.get_device_name(0)} x{torch.cuda.device_count()}"
    names = args.only or [n for n in CHECKS if not (args.skip_vllm and n.startswith("vllm"))]
    rows, figures, failed = [], {"gpu": gpu}, []
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        for name in names:
            started = time.monotonic()
            try:
                figure, status = CHECKS[name](Path(scratch) / name), "ok"
            except Skipped as why:
                figure, status = str(why), "skipped"
            except Exception as exc:  # one path failing does not hide the others' figures
                figure, status = f"{type(exc).__name__}: {exc}", "FAILED"
                failed.append(name)
            seconds = time.monotonic() - started
            figures[name] = {"status": status, "figure": figure, "seconds": seconds}
            rows.append((name, status, f"{seconds:.0f}", figure))
            print(f"{name}: {status}: {figure}", flush=True)
    path = save("gpu_check", figures)
    print(f"\nresults: {path}\nGPU: {gpu}")
    print(table(rows, ("path", "status", "s", "figure")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
