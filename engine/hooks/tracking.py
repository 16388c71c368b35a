"""The `mlflow` and `wandb` hooks inside the execution pipeline's training loop.

Tracking itself is run-level and works for every pipeline (engine/trackers.py,
started by the runner through engine/observe.py): parameters at the start,
each epoch's metrics as the pipeline reports them, final metrics and files at
the end. What only the training loop can do is here: with `log_model: true`,
log the trained torch model (best weights restored) as an MLflow model.
"""

from __future__ import annotations

from typing import Any

from engine.flat import flatten
from engine.hooks.base import Hook, TrainState


def flat_metaprogram(run_dir) -> dict[str, Any]:
    """The resolved metaprogram of this run as {"model.hidden": 128, ...}."""
    import yaml

    path = run_dir / "metaprogram.yaml"
    return flatten(yaml.safe_load(path.read_text())) if path.exists() else {}


class MLflowHook(Hook):
    order = 85  # after the plot hook has drawn, before the checkpoint
    name = "mlflow"

    def on_end(self, state: TrainState, context: Any) -> None:
        self.state = state  # the weights are restored to the best epoch's before the final metrics

    def on_results(self, results: dict[str, Any], context: Any) -> None:
        from engine.observe import current, log_model

        tracker = current("mlflow")
        if self.cfg.log_model and tracker is not None and getattr(self, "state", None) is not None:
            log_model("mlflow", tracker, "execution", context.run_dir, model=self.state.model)


class WandbHook(Hook):
    """Nothing to do per batch or epoch beyond what the run-level tracker logs."""

    order = 86
    name = "wandb"
