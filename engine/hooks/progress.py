"""A progress bar over epochs, with the latest metrics beside it."""

from __future__ import annotations

from typing import Any

from engine.hooks.base import Hook, TrainState

_SHOWN = ("train/loss", "val/loss", "val/accuracy", "val/mse")


class ProgressHook(Hook):
    order = 0
    name = "progress"

    def on_start(self, state: TrainState, context: Any) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(
            total=state.epochs,
            initial=state.epoch,
            desc="epochs",
            unit="ep",
            leave=self.cfg.leave,
            dynamic_ncols=True,
        )

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        self.bar.set_postfix({k: f"{metrics[k]:.4g}" for k in _SHOWN if k in metrics}, refresh=False)
        self.bar.update(1)

    def on_end(self, state: TrainState, context: Any) -> None:
        self.bar.close()
