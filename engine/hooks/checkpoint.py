"""Save the whole training state every N epochs; resume from it when the run starts again."""

from __future__ import annotations

from typing import Any

import torch

from engine.atomic import atomic_path
from engine.hooks.base import Hook, TrainState

LAST = "last.pt"


class CheckpointHook(Hook):
    order = 90  # after every hook that changes state at the end of an epoch
    name = "checkpoint"

    def on_start(self, state: TrainState, context: Any) -> None:
        path = context.checkpoint_dir / LAST
        if not path.exists():
            return
        saved = torch.load(path, map_location="cpu", weights_only=False)
        state.model.load_state_dict(saved["model"])
        state.optimizer.load_state_dict(saved["optimizer"])
        state.scheduler.load_state_dict(saved["scheduler"])
        for key in ("epoch", "history", "best_value", "best_epoch", "best_weights", "stop"):
            setattr(state, key, saved[key])
        for hook in state.hooks:
            if hook.name in saved["hooks"]:
                hook.load_state_dict(saved["hooks"][hook.name])
        torch.set_rng_state(saved["rng"])
        context.log.info("resuming from the checkpoint of epoch %d (%s)", state.epoch, path)

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        if state.epoch % self.cfg.every and state.epoch != state.epochs and not state.stop:
            return
        saved = {
            "model": state.model.state_dict(),
            "optimizer": state.optimizer.state_dict(),
            "scheduler": state.scheduler.state_dict(),
            "epoch": state.epoch,
            "history": state.history,
            "best_value": state.best_value,
            "best_epoch": state.best_epoch,
            "best_weights": state.best_weights,
            "stop": state.stop,
            "hooks": {hook.name: hook.state_dict() for hook in state.hooks},
            "rng": torch.get_rng_state(),
        }
        context.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(context.checkpoint_dir / LAST) as tmp:  # a kill mid-save leaves the last one whole
            torch.save(saved, tmp)
