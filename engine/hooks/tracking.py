"""Experiment tracking: MLflow and Weights & Biases, optional extras imported only when their hook is used.

MLflow: a local SQLite store under the output root unless `tracking_uri` is given; the run's
parameters are the flattened metaprogram, its metrics are logged every epoch, its artifacts at the end,
and the final metrics (test included) as `final/<name>`.
W&B: offline by default (files under the run directory; `wandb sync` uploads them later).
"""

from __future__ import annotations

from typing import Any

from engine.hooks.base import Hook, TrainState


class MissingExtra(RuntimeError):
    pass


def flat_metaprogram(run_dir) -> dict[str, Any]:
    """The resolved metaprogram of this run as {"model.hidden": 128, ...}."""
    import yaml

    def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, inner in value.items():
                out.update(flatten(inner, f"{prefix}{key}."))
            return out
        return {prefix[:-1]: value}

    path = run_dir / "metaprogram.yaml"
    return flatten(yaml.safe_load(path.read_text())) if path.exists() else {}


def _require(module: str, extra: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"the {extra} hook needs the optional extra: pip install 'metaprogram-runner[{extra}]'"
        ) from None


class MLflowHook(Hook):
    order = 85  # after the plot hook has drawn, before the checkpoint
    name = "mlflow"

    def on_start(self, state: TrainState, context: Any) -> None:
        mlflow = _require("mlflow", "mlflow")
        self.mlflow = mlflow
        root = context.paths.root("output_root")
        uri = self.cfg.tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
        root.mkdir(parents=True, exist_ok=True)
        mlflow.set_tracking_uri(uri)
        if self.cfg.tracking_uri is None and mlflow.get_experiment_by_name(self.cfg.experiment) is None:
            # artifacts beside the store, not in ./mlruns of whatever directory the run started in
            try:
                mlflow.create_experiment(self.cfg.experiment, artifact_location=(root / "mlartifacts").as_uri())
            except mlflow.exceptions.MlflowException:  # another run created it first
                pass
        mlflow.set_experiment(self.cfg.experiment)
        if mlflow.active_run() is not None:  # left open by a run of this process that failed
            mlflow.end_run(status="FAILED")
        run_id = context.run_dir.name
        self.run = mlflow.start_run(
            run_name=run_id, tags={"metaprogram.id": run_id, "resumed_at_epoch": str(state.epoch)}
        )
        # MLflow caps a parameter value's length; long lists (e.g. DAG nodes) are cut, not refused
        params = {k: str(v)[:6000] for k, v in flat_metaprogram(context.run_dir).items()}
        mlflow.log_params(params)
        context.log.info("mlflow: run %s in %s (experiment %s)", self.run.info.run_id, uri, self.cfg.experiment)

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        values = {k: float(v) for k, v in metrics.items() if k != "epoch" and isinstance(v, int | float)}
        self.mlflow.log_metrics(values, step=state.epoch)

    def on_end(self, state: TrainState, context: Any) -> None:
        if self.cfg.log_artifacts:
            for name in ("metaprogram.yaml", "overrides.yaml", "lr.csv", "data_dag.json", "run.log"):
                if (context.run_dir / name).exists():
                    self.mlflow.log_artifact(str(context.run_dir / name))
            for png in sorted(context.run_dir.glob("*.png")):
                self.mlflow.log_artifact(str(png))
            if (context.run_dir / "inspect").is_dir():
                self.mlflow.log_artifacts(str(context.run_dir / "inspect"), artifact_path="inspect")

    def on_results(self, results: dict[str, Any], context: Any) -> None:
        # final metrics (test/*) under their own names, step-less; then the run is done
        final = {f"final/{k}": float(v) for k, v in results.items() if isinstance(v, int | float)}
        self.mlflow.log_metrics(final)
        self.mlflow.end_run()


class WandbHook(Hook):
    order = 86
    name = "wandb"

    def on_start(self, state: TrainState, context: Any) -> None:
        wandb = _require("wandb", "wandb")
        self.run = wandb.init(
            project=self.cfg.project,
            entity=self.cfg.entity,
            name=context.run_dir.name,
            config=flat_metaprogram(context.run_dir),
            dir=str(context.run_dir),
            mode=self.cfg.mode,
            reinit="finish_previous",
        )
        context.log.info("wandb: %s run in %s", self.cfg.mode, context.run_dir / "wandb")

    def on_epoch_end(self, state: TrainState, metrics: dict[str, float], context: Any) -> None:
        self.run.log({k: v for k, v in metrics.items() if k != "epoch"}, step=state.epoch)

    def on_end(self, state: TrainState, context: Any) -> None:
        for png in sorted(context.run_dir.glob("*.png")):
            self.run.save(str(png), base_path=str(context.run_dir), policy="now")

    def on_results(self, results: dict[str, Any], context: Any) -> None:
        self.run.summary.update({k: v for k, v in results.items() if isinstance(v, int | float)})
        self.run.finish()
