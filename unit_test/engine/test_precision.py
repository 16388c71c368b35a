"""Mixed precision and device copies: CPU stays fp32 whatever the setting; CUDA paths run where a GPU is."""

from __future__ import annotations

import pytest
import torch

from engine.data_point import Split
from engine.precision import Precision, to_device


@pytest.mark.parametrize("setting", ["auto", "fp32", "bf16", "fp16"])
def test_cpu_runs_fp32_for_every_setting(setting):
    precision = Precision(setting, "cpu")
    assert precision.name == "fp32" and precision.scaler is None
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.weight.detach().clone()
    with precision.autocast():
        loss = model(torch.randn(4, 3)).pow(2).mean()
    assert loss.dtype == torch.float32
    precision.backward(loss, optimizer)
    precision.step(optimizer)
    assert not torch.equal(before, model.weight)


def test_to_device_on_cpu_keeps_the_split():
    split = Split(torch.randn(5, 2), torch.arange(5))
    moved = to_device(split, "cpu")
    assert torch.equal(moved.inputs, split.inputs) and torch.equal(moved.targets, split.targets)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("setting", ["bf16", "fp16"])
def test_cuda_autocast_and_pinned_copies(setting):
    precision = Precision(setting, "cuda")
    assert precision.name == setting and (precision.scaler is not None) == (setting == "fp16")
    model = torch.nn.Linear(8, 2).cuda()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    split = to_device(Split(torch.randn(16, 8), torch.arange(16) % 2), "cuda")
    assert split.inputs.is_cuda
    with precision.autocast():
        out = model(split.inputs)
        loss = torch.nn.functional.cross_entropy(out, split.targets)
    assert out.dtype == {"bf16": torch.bfloat16, "fp16": torch.float16}[setting]
    precision.backward(loss, optimizer)
    precision.step(optimizer)
    assert torch.isfinite(model.weight).all()
