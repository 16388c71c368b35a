"""The benchmark pipeline: guidellm against a server the pipeline starts and always stops.

Process-cleanup tests check, after a failure, that no process of the server's group is left and that
the port is free again.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from engine.runner import RunFailed, execute
from engine.serving.process import group_members, port_open
from unit_test.engine.llm.llm_helpers import metaprogram

pytestmark = pytest.mark.integration  # real LLMs, servers and subprocesses

TINY = {"name": "tiny_llama"}
DATA = {"name": "lm_tasks"}


def _bench(**settings):
    return {"name": "benchmark", "device": "cpu", "startup_timeout_s": 120, **settings}


def _server_pid(run_dir, timeout_s: float = 120) -> int:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid_file = run_dir / "server.pid"
        if pid_file.is_file() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        time.sleep(0.1)
    raise AssertionError("the pipeline never started a server")


def _port(run_dir) -> int:
    first = (run_dir / "server.log").read_text().splitlines()[0]
    return int(first.split("--port", 1)[1].split()[0])


def test_guidellm_command_follows_the_0_8_interface(tmp_path):
    from engine.pipelines.benchmark import guidellm_command, profile_arg, resolve_load
    from engine.schema.llm_pipelines import BenchmarkConfig

    load = resolve_load(BenchmarkConfig(standard="chat", max_seconds=30))
    assert load == {
        "profile": "sweep",
        "rate": 10,
        "max_seconds": 30,
        "max_requests": None,
        "prompt_tokens": 512,
        "output_tokens": 256,
    }
    command = guidellm_command(load, "http://127.0.0.1:8000", tmp_path, tmp_path / "r.json", "/v1/completions", 3)
    text = " ".join(command)
    assert command[1:4] == ["-m", "guidellm", "run"]
    assert "--profile kind=sweep,sweep_size=10" in text
    assert "--constraint kind=max_duration,seconds=30" in text
    assert "--data kind=synthetic_text,prompt_tokens=512,output_tokens=256" in text
    assert f"--tokenizer kind=huggingface_auto,model={tmp_path}" in text
    assert f"--output kind=json,path={tmp_path / 'r.json'}" in text
    assert f"--output kind=csv,path={tmp_path / 'r.csv'}" in text
    assert f"--output kind=html,path={tmp_path / 'r.html'}" in text
    assert "--seed kind=static,value=3" in text
    assert profile_arg({"profile": "constant", "rate": 2.5}) == "kind=constant,rate=2.5"
    assert profile_arg({"profile": "concurrent", "rate": 4}) == "kind=concurrent,streams=4"


def test_vllm_serve_command_for_gpu_users(tmp_path):
    from engine.pipelines.benchmark import server_command
    from engine.schema.llm_pipelines import BenchmarkConfig

    cfg = BenchmarkConfig(server="vllm", gpu_memory_utilization=0.6, tensor_parallel_size=2)
    load = {"prompt_tokens": 512, "output_tokens": 256}
    command = server_command(cfg, tmp_path, 8123, "cuda", "bfloat16", load)
    assert command[:3] == ["vllm", "serve", str(tmp_path)]
    text = " ".join(command)
    for part in (
        "--port 8123",
        "--served-model-name model",
        "--dtype bfloat16",
        "--gpu-memory-utilization 0.6",
        "--tensor-parallel-size 2",
        "--max-model-len 2048",
    ):
        assert part in text


def test_builtin_server_under_guidellm(llm_paths, tiny_folder):
    mp = metaprogram(
        TINY, DATA, _bench(server="builtin", max_requests=6, max_seconds=None, prompt_tokens=32, output_tokens=8)
    )
    metrics = execute(mp, llm_paths)["metrics"]
    assert metrics["bench/successful_requests"] == 6 and metrics["bench/errored_requests"] == 0
    assert metrics["bench/requests_per_s"] > 0 and metrics["bench/output_tokens_per_s"] > 0
    assert 0 < metrics["bench/ttft_ms_median"] <= metrics["bench/ttft_ms_p99"]
    assert 0 < metrics["bench/itl_ms_median"] <= metrics["bench/itl_ms_p99"]
    run_dir = llm_paths.run_dir(mp.id)
    assert (run_dir / "guidellm_report.json").is_file() and (run_dir / "server.log").is_file()
    # guidellm's own table and HTML report, written by guidellm itself beside the JSON
    assert "<html" in (run_dir / "guidellm_report.html").read_text().lower()
    table = (run_dir / "guidellm_report.csv").read_text().splitlines()
    assert len(table) >= 2 and "Requests" in (run_dir / "guidellm_report.csv").read_text()
    pid = int((run_dir / "server.pid").read_text())
    assert group_members(pid) == [] and not port_open(_port(run_dir))


def test_invalid_profile_leaves_no_process_and_frees_the_port(llm_paths, tiny_folder):
    mp = metaprogram(TINY, DATA, _bench(server="mock", profile="constant", rate=None, max_seconds=2))
    with pytest.raises(RunFailed) as err:
        execute(mp, llm_paths)
    assert "guidellm failed" in err.value.error and "profile.constant.rate" in err.value.error
    run_dir = llm_paths.run_dir(mp.id)
    pid = int((run_dir / "server.pid").read_text())
    assert group_members(pid) == [] and not port_open(_port(run_dir))


def test_server_killed_mid_run_fails_the_run_and_leaves_nothing(llm_paths, tiny_folder):
    mp = metaprogram(TINY, DATA, _bench(server="mock", max_seconds=60))
    run_dir = llm_paths.run_dir(mp.id)
    killed = {}

    def kill_server_once_loaded():
        pid = _server_pid(run_dir)
        deadline = time.monotonic() + 120
        while not (run_dir / "guidellm.log").is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(3)  # guidellm is under way
        killed["members"] = group_members(pid)
        os.kill(pid, signal.SIGKILL)

    thread = threading.Thread(target=kill_server_once_loaded, daemon=True)
    thread.start()
    started = time.monotonic()
    with pytest.raises(RunFailed) as err:
        execute(mp, llm_paths)
    thread.join(timeout=10)
    assert killed["members"], "the server was running when it was killed"
    assert "server died during the benchmark" in err.value.error
    assert time.monotonic() - started < 60, "the pipeline noticed before the load's 60 s were over"
    pid = int((run_dir / "server.pid").read_text())
    assert group_members(pid) == [] and not port_open(_port(run_dir))
    client_pids = [p for p in os.listdir("/proc") if p.isdigit() and _cmdline_has(p, str(run_dir))]
    assert client_pids == [], "no guidellm process of the run is left"


def test_unreachable_external_target_is_a_clear_error(llm_paths, tiny_folder):
    from engine.serving.process import free_port

    mp = metaprogram(TINY, DATA, _bench(server="external", target=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(RunFailed) as err:
        execute(mp, llm_paths)
    assert "is unreachable" in err.value.error


def _cmdline_has(pid: str, text: str) -> bool:
    try:
        return text in open(f"/proc/{pid}/cmdline").read().replace("\0", " ")
    except OSError:
        return False
