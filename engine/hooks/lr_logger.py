"""Log the learning rate each epoch (and, if asked, every step) to the log and to lr.csv in the run directory."""

from __future__ import annotations

from typing import Any

from engine.hooks.base import Hook, TrainState


class LRLoggerHook(Hook):
    order = 30
    name = "lr_logger"

    def __init__(self, cfg):
        super().__init__(cfg)
        self.rows: list[tuple[int, int, float]] = []
        self.step = 0

    def on_after_backward(self, state: TrainState) -> None:
        self.step += 1
        if self.cfg.every_step:  # the rate this step's update will use
            self.rows.append((state.epoch + 1, self.step, state.optimizer.param_groups[0]["lr"]))

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        rates = [group["lr"] for group in state.optimizer.param_groups]
        context.log.info("epoch %d: learning rate %s", state.epoch, ", ".join(f"{r:.3g}" for r in rates))
        if not self.cfg.every_step:
            self.rows.append((state.epoch, self.step, rates[0]))
        path = context.run_dir / "lr.csv"
        new = not path.exists()
        with path.open("a") as handle:  # appended, so a resumed run continues the file
            if new:
                handle.write("epoch,step,lr\n")
            handle.writelines(f"{e},{s},{r:.8g}\n" for e, s, r in self.rows)
        self.rows.clear()

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step}

    def load_state_dict(self, data: dict[str, Any]) -> None:
        self.step = data.get("step", 0)
