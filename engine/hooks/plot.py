"""Learning curves as a PNG in the run directory: losses on the left, the other metrics on the right."""

from __future__ import annotations

from typing import Any

from engine.atomic import atomic_path
from engine.hooks.base import Hook, TrainState

_SKIP = ("epoch", "lr", "grad_norm")


class PlotHook(Hook):
    order = 80
    name = "plot"

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        if state.epoch % self.cfg.every == 0:
            self.draw(state.history, context.run_dir / self.cfg.file)

    def on_end(self, state: TrainState, context: Any) -> None:
        if state.history:
            self.draw(state.history, context.run_dir / self.cfg.file)

    @staticmethod
    def draw(history: list[dict[str, float]], path) -> None:
        import matplotlib

        matplotlib.use("Agg")  # no display: write files only
        import matplotlib.pyplot as plt

        epochs = [row["epoch"] for row in history]
        names = sorted({k for row in history for k in row if k not in _SKIP})
        losses = [n for n in names if "loss" in n]
        others = [n for n in names if n not in losses]
        fig, axes = plt.subplots(1, 2, figsize=(10, 4))
        for ax, group, title in ((axes[0], losses, "loss"), (axes[1], others, "metrics")):
            for name in group:
                ax.plot(epochs, [row.get(name, float("nan")) for row in history], marker=".", label=name)
            ax.set_xlabel("epoch")
            ax.set_title(title)
            if group:
                ax.legend()
            ax.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(path) as tmp:  # a reader never sees half an image
            fig.savefig(tmp, dpi=100)
        plt.close(fig)
