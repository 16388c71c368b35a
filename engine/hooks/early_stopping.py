"""Stop when the watched validation metric has not improved for `patience` epochs."""

from __future__ import annotations

from typing import Any

from engine.hooks.base import Hook, TrainState
from engine.schema.pipelines import infer_mode


class EarlyStoppingHook(Hook):
    order = 10  # before the checkpoint, so the saved state includes this epoch's count
    name = "early_stopping"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.best: float | None = None
        self.bad_epochs = 0

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        metric = state.objective[0] if self.cfg.metric == "auto" else self.cfg.metric
        if metric not in metrics:
            return  # no validation split: nothing to watch
        mode = self.cfg.mode
        if mode == "auto":
            mode = state.objective[1] if self.cfg.metric == "auto" else infer_mode(metric)
        if state.is_better(metrics[metric], mode, self.best, self.cfg.min_delta):
            self.best, self.bad_epochs = metrics[metric], 0
            return
        self.bad_epochs += 1
        if self.bad_epochs >= self.cfg.patience:
            state.stop = True
            context.log.info(
                "early stopping at epoch %d: %s has not improved for %d epochs",
                state.epoch,
                metric,
                self.bad_epochs,
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "bad_epochs": self.bad_epochs}

    def load_state_dict(self, data: dict[str, Any]) -> None:
        self.best, self.bad_epochs = data["best"], data["bad_epochs"]
