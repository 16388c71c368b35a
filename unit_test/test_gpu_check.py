"""benchmarks/gpu_check.py (`make gpu-check`): without CUDA it says so and exits 0; every path it would run on a
GPU is a valid metaprogram or command line here, so the day a GPU is there it does not fail on a typo."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from unit_test.helpers import REPO


@pytest.fixture
def gpu_check(monkeypatch):
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))  # it imports _common as the benchmarks do
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop("_common", None)


def test_without_cuda_it_says_so_and_exits_0(gpu_check, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    out = capsys.readouterr().out
    assert "no CUDA device here" in out and "nothing to check" in out


def test_every_gpu_path_is_a_valid_metaprogram(gpu_check):
    from engine.compose import load

    mps = [gpu_check._mlp("cuda", 6, precision=p) for p in ("bf16", "fp16")]
    mps.append(gpu_check._mlp("cuda", 6, loader={"in_memory_limit_gb": 0, "workers": 2}))
    mps.append(gpu_check._mlp("cuda", 6, distributed={"workers": 2, "gpus_per_worker": 1}))
    assert [mp.pipeline.precision for mp in mps[:2]] == ["bf16", "fp16"]
    assert mps[3].pipeline.distributed.workers == 2 and mps[3].id == mps[2].id  # workers and loader: not the id
    chain = load(["pipeline.device=cuda"], "metaprogram/tiny_llama_chain")
    assert chain.metaprogram.pipeline.device == "cuda"
    serve = load(["+metaprogram/component/pipeline=benchmark", *gpu_check.SMOLLM2, "pipeline.server=vllm",
                  "pipeline.standard=chat"])  # fmt: skip
    assert serve.metaprogram.pipeline.server == "vllm"
    for backend in ("vllm", "hf"):
        evaluate = load(["+metaprogram/component/pipeline=evaluate", *gpu_check.SMOLLM2, "pipeline.limit=100",
                         f"pipeline.backend={backend}"])  # fmt: skip
        assert evaluate.metaprogram.pipeline.backend == backend and evaluate.metaprogram.pipeline.device == "cuda"
