"""The benchmark pipeline: serve the model, load it with guidellm, always stop the server.

Servers: `builtin` (engine/serving/openai_server.py, transformers on CPU or
GPU), `vllm` (`vllm serve`, for GPU users), `mock` (guidellm's mock server,
for tests), `external` (a server that is already running at `target`).
The server and guidellm each run in their own process group; whatever fails
(the server dies, guidellm rejects the profile, the time limit passes), both
groups are stopped and the port is free again before the run returns.
guidellm's reports (guidellm_report.json, .csv, .html) and the server log are written to the run directory.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from engine.atomic import atomic_write
from engine.context import RunContext, resolve_device
from engine.metaprogram import Metaprogram
from engine.models.llm.materialize import materialize
from engine.schema.llm import STANDARDS_DIR
from engine.serving.process import GroupProcess, Server, ServerError, free_port, healthy, python_module

LOAD_KEYS = ("profile", "rate", "max_seconds", "max_requests", "prompt_tokens", "output_tokens")
BUILTIN_LOAD = {
    "profile": "synchronous",
    "rate": None,
    "max_seconds": 20,
    "max_requests": None,
    "prompt_tokens": 128,
    "output_tokens": 32,
}
SERVED_NAME = "model"
REPORT = "guidellm_report.json"
SERVER_LOG = "server.log"
GUIDELLM_LOG = "guidellm.log"
GUIDELLM_GRACE_S = 120  # on top of the load's own duration: startup, warm-up, report


class BenchmarkError(RuntimeError):
    pass


def run(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    folder = materialize(mp.model, context.paths)
    return benchmark_folder(folder, mp, context)


def benchmark_folder(folder: Path, mp: Metaprogram, context: RunContext, prefix: str = "") -> dict[str, Any]:
    cfg = mp.pipeline
    load = resolve_load(cfg)
    context.log.info("benchmark %s with guidellm: %s", folder, load)
    atomic_write(context.run_dir / f"{prefix}load.yaml", yaml.safe_dump(load, sort_keys=True))
    report = context.run_dir / f"{prefix}{REPORT}"

    if cfg.server == "external":
        if not healthy(cfg.target.rstrip("/") + "/health") and not healthy(cfg.target.rstrip("/") + "/v1/models"):
            raise BenchmarkError(f"pipeline.target {cfg.target} is unreachable (no answer on /health or /v1/models)")
        _run_guidellm(cfg, load, cfg.target.rstrip("/"), folder, report, context, prefix, None, mp.seed)
        return parse_report(report)

    port = cfg.port or free_port()
    device = resolve_device(cfg.device) if cfg.server == "builtin" else cfg.device
    command = server_command(cfg, folder, port, device, mp.model.dtype, load)
    server = Server(command, port, context.run_dir / f"{prefix}{SERVER_LOG}")
    try:
        atomic_write(context.run_dir / f"{prefix}server.pid", f"{server.pid}\n")
        seconds = server.wait_healthy(cfg.startup_timeout_s)
        context.log.info("server %s healthy on port %d after %.1f s", cfg.server, port, seconds)
        _run_guidellm(cfg, load, server.url, folder, report, context, prefix, server, mp.seed)
    finally:
        server.stop()
        _wait_port_free(port)
    return parse_report(report)


def resolve_load(cfg) -> dict[str, Any]:
    """The benchmarking standard's values, each replaced by the pipeline's own when that is set."""
    load = dict(BUILTIN_LOAD)
    if cfg.standard is not None:
        standard = yaml.safe_load((STANDARDS_DIR / "benchmarking" / f"{cfg.standard}.yaml").read_text()) or {}
        load.update({k: standard[k] for k in LOAD_KEYS if k in standard})
    load.update({k: getattr(cfg, k) for k in LOAD_KEYS if getattr(cfg, k) is not None})
    if load["max_seconds"] is None and load["max_requests"] is None:
        raise BenchmarkError("the load has no limit: set pipeline.max_seconds or pipeline.max_requests")
    return load


def server_command(cfg, folder: Path, port: int, device: str, dtype: str, load: dict[str, Any]) -> list[str]:
    """The command that starts the configured server on `port`, serving `folder` as SERVED_NAME."""
    if cfg.server == "builtin":
        return python_module(
            "engine.serving.openai_server",
            *("--model", str(folder), "--port", str(port), "--device", device),
            *("--dtype", dtype, "--served-name", SERVED_NAME),
            *("--threads", str(max(1, int(cfg.resources.cpus)))),  # what the run reserved; more oversubscribes
        )
    if cfg.server == "mock":
        return python_module(
            "guidellm", "mock-server",
            *("--host", "127.0.0.1", "--port", str(port), "--model", SERVED_NAME),
            *("--output-tokens", str(load["output_tokens"]), "--ttft-ms", "20", "--itl-ms", "5"),
        )  # fmt: skip
    if cfg.server == "vllm":
        command = ["vllm", "serve", str(folder), "--host", "127.0.0.1", "--port", str(port)]
        command += ["--served-model-name", SERVED_NAME, "--dtype", "auto" if dtype == "auto" else dtype]
        command += ["--gpu-memory-utilization", str(cfg.gpu_memory_utilization)]
        command += ["--tensor-parallel-size", str(cfg.tensor_parallel_size)]
        command += ["--max-model-len", str(max(2048, load["prompt_tokens"] + load["output_tokens"]))]
        return command
    raise BenchmarkError(f"pipeline.server={cfg.server!r} starts no server")


def profile_arg(load: dict[str, Any]) -> str:
    """guidellm's --profile value: what `rate` means depends on the profile kind."""
    kind, rate = load["profile"], load["rate"]
    if kind == "synchronous":
        return "kind=synchronous"
    if kind in ("constant", "poisson"):
        return f"kind={kind}" + (f",rate={rate}" if rate is not None else "")
    if kind == "concurrent":
        return "kind=concurrent" + (f",streams={int(rate)}" if rate is not None else "")
    if kind == "throughput":
        return "kind=throughput" + (f",max_concurrency={int(rate)}" if rate is not None else "")
    if kind == "sweep":
        return "kind=sweep" + (f",sweep_size={int(rate)}" if rate is not None else "")
    return f"kind={kind}"


def guidellm_command(
    load: dict[str, Any], target: str, tokenizer_dir: Path, report: Path, request_format: str, seed: int
) -> list[str]:
    """The `guidellm run` command line (guidellm 0.8.1: kind=...,key=value options)."""
    command = python_module("guidellm", "run")
    command += ["--backend", f"kind=openai_http,target={target},model={SERVED_NAME},request_format={request_format}"]
    command += ["--profile", profile_arg(load)]
    if load["max_seconds"] is not None:
        command += ["--constraint", f"kind=max_duration,seconds={load['max_seconds']}"]
    if load["max_requests"] is not None:
        command += ["--constraint", f"kind=max_requests,count={load['max_requests']}"]
    data = f"kind=synthetic_text,prompt_tokens={load['prompt_tokens']},output_tokens={load['output_tokens']}"
    command += ["--data", data]
    command += ["--tokenizer", f"kind=huggingface_auto,model={tokenizer_dir}"]
    command += ["--seed", f"kind=static,value={seed}"]
    command += ["--output", f"kind=json,path={report}"]
    for kind in ("csv", "html"):  # guidellm's own table and self-contained HTML report, beside the JSON
        command += ["--output", f"kind={kind},path={report.with_suffix('.' + kind)}"]
    command += ["--disable-console-interactive"]
    return command


def _run_guidellm(cfg, load, target, folder, report, context, prefix, server: Server | None, seed: int) -> None:
    fmt = "/v1/chat/completions" if cfg.request_format == "chat" else "/v1/completions"
    command = guidellm_command(load, target, folder, report, fmt, seed)
    budget = (load["max_seconds"] or 0) * _runs(load) + GUIDELLM_GRACE_S
    if load["max_seconds"] is None:
        budget = cfg.startup_timeout_s + GUIDELLM_GRACE_S + 60 * _runs(load)
    client = GroupProcess(command, context.run_dir / f"{prefix}{GUIDELLM_LOG}")
    started = time.monotonic()
    try:
        while client.alive():
            if server is not None and not server.alive():
                raise BenchmarkError(
                    f"the {cfg.server} server died during the benchmark (exit code {server.proc.returncode}); "
                    f"see {server.log_path}:\n{server.log_tail(8)}"
                )
            if time.monotonic() - started > budget:
                raise BenchmarkError(f"guidellm did not finish within {budget:.0f} s; see {client.log_path}")
            context.check_deadline()
            time.sleep(0.2)
    finally:
        client.stop()
    if client.proc.returncode != 0 or not report.is_file():
        raise BenchmarkError(
            f"guidellm failed (exit code {client.proc.returncode}) with profile {profile_arg(load)}; "
            f"last lines of {client.log_path.name}:\n{client.log_tail(12)}"
        )
    if server is not None and not server.alive():
        raise BenchmarkError(f"the {cfg.server} server died during the benchmark; see {server.log_path}")


def _runs(load: dict[str, Any]) -> int:
    if load["profile"] == "sweep":
        return int(load["rate"] or 10)
    return 1


def _wait_port_free(port: int, timeout_s: float = 10.0) -> None:
    from engine.serving.process import port_open

    deadline = time.monotonic() + timeout_s
    while port_open(port) and time.monotonic() < deadline:
        time.sleep(0.1)
    if port_open(port):
        raise ServerError(f"port {port} is still taken after the server was stopped")


def parse_report(report: Path) -> dict[str, float]:
    """requests/s, output tokens/s, TTFT and ITL (median, p90, p99) from guidellm's JSON report."""
    data = json.loads(report.read_text())
    benchmarks = data.get("benchmarks") or []
    if not benchmarks:
        raise BenchmarkError(f"guidellm's report {report.name} has no benchmark")
    flat: dict[str, float] = {}
    for index, bench in enumerate(benchmarks):
        metrics = _benchmark_metrics(bench)
        label = "bench" if len(benchmarks) == 1 else f"bench/{index}_{_strategy(bench)}"
        flat.update({f"{label}/{k}": v for k, v in metrics.items()})
    if len(benchmarks) > 1:
        best = max(
            range(len(benchmarks)), key=lambda i: flat[f"bench/{i}_{_strategy(benchmarks[i])}/output_tokens_per_s"]
        )
        label = f"bench/{best}_{_strategy(benchmarks[best])}"
        flat.update({f"bench/{k}": flat[f"{label}/{k}"] for k in _benchmark_metrics(benchmarks[best])})
    if flat["bench/successful_requests"] == 0:
        raise BenchmarkError(
            f"no request succeeded ({int(flat['bench/errored_requests'])} errored, the rest unfinished within the "
            f"limit); see {report}"
        )
    return flat


def _strategy(bench: dict[str, Any]) -> str:
    strategy = (bench.get("config") or {}).get("strategy") or {}
    return str(strategy.get("type_") or strategy.get("kind") or "run")


def _benchmark_metrics(bench: dict[str, Any]) -> dict[str, float]:
    metrics = bench["metrics"]
    totals = metrics.get("request_totals", {})
    out = {
        "requests_per_s": _stat(metrics, "requests_per_second", "mean"),
        "output_tokens_per_s": _stat(metrics, "output_tokens_per_second", "mean"),
        "successful_requests": float(totals.get("successful", 0)),
        "errored_requests": float(totals.get("errored", 0)),
    }
    for name, key in (("ttft_ms", "time_to_first_token_ms"), ("itl_ms", "inter_token_latency_ms")):
        out[f"{name}_median"] = _stat(metrics, key, "median")
        out[f"{name}_p90"] = _stat(metrics, key, "p90")
        out[f"{name}_p99"] = _stat(metrics, key, "p99")
    return out


def _stat(metrics: dict[str, Any], key: str, which: str) -> float:
    successful = (metrics.get(key) or {}).get("successful") or {}
    if which in ("mean", "median"):
        return float(successful.get(which) or 0.0)
    return float((successful.get("percentiles") or {}).get(which) or 0.0)
