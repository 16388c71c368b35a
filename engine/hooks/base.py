"""The training state hooks see, and the hook interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class TrainState:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    epochs: int  # planned
    objective: tuple[str, str]  # (metric, mode)
    hooks: list[Hook] = field(default_factory=list)
    epoch: int = 0  # completed epochs
    history: list[dict[str, float]] = field(default_factory=list)
    best_value: float | None = None
    best_epoch: int | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    stop: bool = False

    def is_better(self, value: float, mode: str, than: float | None, min_delta: float = 0.0) -> bool:
        if than is None:
            return True
        return value < than - min_delta if mode == "min" else value > than + min_delta


class Hook:
    """Override what you need; `order` sorts hooks (lower runs first at each event)."""

    order = 50
    name = "hook"

    def __init__(self, cfg: Any):
        self.cfg = cfg

    def on_start(self, state: TrainState, context: Any) -> None: ...

    def on_after_backward(self, state: TrainState) -> None: ...

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None: ...

    def on_end(self, state: TrainState, context: Any) -> None: ...

    def on_results(self, results: dict[str, Any], context: Any) -> None:
        """The final metrics (test included), after on_end: trackers record them here."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, data: dict[str, Any]) -> None: ...
