"""Clip the global gradient norm after each backward pass; report the epoch's mean norm before clipping."""

from __future__ import annotations

from typing import Any

import torch

from engine.hooks.base import Hook, TrainState


class GradClipHook(Hook):
    order = 20
    name = "grad_clip"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.norms: list[torch.Tensor] = []

    def on_after_backward(self, state: TrainState) -> None:
        # gradients are already unscaled here under fp16 (see engine/precision.py)
        norm = torch.nn.utils.clip_grad_norm_(state.model.parameters(), self.cfg.max_norm, self.cfg.norm_type)
        self.norms.append(norm.detach())

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        if self.norms:  # one sync per epoch, not per step
            metrics["grad_norm"] = torch.stack(self.norms).float().mean().item()
            self.norms.clear()
