"""Batches and splits as tensors, with what a model needs to know about them."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass(frozen=True)
class DataInfo:
    """What a model is built from and how predictions are read back."""

    task: str  # "classification" | "regression"
    input_shape: tuple[int, ...]  # one sample, e.g. (64,) or (1, 8, 8)
    n_outputs: int  # classes, or 1 for regression
    class_names: tuple[str, ...] = ()
    target_mean: float = 0.0  # regression targets are trained standardised ...
    target_std: float = 1.0  # ... and reported in their own units
    input_kind: str = "features"  # "features" | "image"
    extra: dict = field(default_factory=dict)


@dataclass
class Batch:
    inputs: torch.Tensor  # (B, *input_shape)
    targets: torch.Tensor  # (B,) long class ids, or (B,) float standardised values

    def to(self, device: str | torch.device, non_blocking: bool = False) -> Batch:
        return Batch(
            self.inputs.to(device, non_blocking=non_blocking),
            self.targets.to(device, non_blocking=non_blocking),
        )

    def __len__(self) -> int:
        return self.inputs.shape[0]


@dataclass
class Split:
    """One split held in memory: batches are index slices, no DataLoader overhead."""

    inputs: torch.Tensor  # (N, *input_shape)
    targets: torch.Tensor  # (N,)

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def batch(self, index: torch.Tensor | slice) -> Batch:
        return Batch(self.inputs[index], self.targets[index])

    def to(self, device: str | torch.device) -> Split:
        return Split(self.inputs.to(device), self.targets.to(device))


@dataclass
class Splits:
    train: Split
    val: Split
    test: Split
    info: DataInfo
