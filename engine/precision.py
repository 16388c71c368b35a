"""Mixed precision on CUDA (bf16 or fp16 autocast, a gradient scaler for fp16); plain fp32 elsewhere.

`pipeline.precision: auto` is bf16 where the GPU supports it (else fp16) and fp32 on CPU,
so one metaprogram runs unchanged on both; `fp32` turns autocast off everywhere.
"""

from __future__ import annotations

import contextlib

import torch


class Precision:
    def __init__(self, setting: str, device: str):
        self.device_type = torch.device(device).type
        self.dtype: torch.dtype | None = None
        if self.device_type == "cuda" and setting != "fp32":
            bf16_ok = torch.cuda.is_bf16_supported()
            wanted = setting if setting != "auto" else ("bf16" if bf16_ok else "fp16")
            self.dtype = torch.bfloat16 if wanted == "bf16" else torch.float16
        # fp16 needs loss scaling against underflow; bf16 has fp32's range and does not
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        """Backward; with a scaler, gradients are unscaled before hooks (clipping) see them."""
        if self.scaler is None:
            loss.backward()
            return
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            optimizer.step()
            return
        self.scaler.step(optimizer)
        self.scaler.update()


def to_device(split, device: str):
    """A split on `device`; from pinned memory with a non-blocking copy on CUDA."""
    if torch.device(device).type != "cuda":
        return split.to(device)
    return type(split)(
        split.inputs.pin_memory().to(device, non_blocking=True),
        split.targets.pin_memory().to(device, non_blocking=True),
    )
