"""MLflow and Weights & Biases trackers: one tracked run per engine run, whatever its pipeline.

Optional extras, imported only when a pipeline's `hooks` name them. A tracker
starts with the run (parameters: the flattened metaprogram), logs what the
pipeline reports per step (`context.report`, e.g. each epoch), and at the end
logs the run's final metrics as `final/<name>`, its files and, with MLflow's
`log_model: true`, the model as an MLflow model. A run started inside another
(a chain's stage) or for a sweep (a trial) is logged as a child: MLflow's
nested run (tag mlflow.parentRunId), W&B's group.

MLflow: a SQLite store at <output_root>/mlflow.db (artifacts in <output_root>/mlartifacts)
unless `tracking_uri` is set. W&B: offline by default, files under the run directory.
"""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from typing import Any

from engine.finite import finite_number

# Files of a run directory that trackers keep: everything small at its top level, plus these folders.
ARTIFACT_DIRS = ("inspect", "samples")
# results.json is still 'running' while the tracker ends (its metrics are logged instead); id is the run's name
SKIPPED_FILES = ("results.json", "id")
SKIPPED_SUFFIXES = (".pid", ".tmp", ".lock")
MAX_ARTIFACT_MB = 50
MLFLOW_PARAM_CHARS = 6000  # MLflow caps a parameter value's length; long lists (e.g. DAG nodes) are cut
STATUS = {"FINISHED": 0, "FAILED": 1, "KILLED": 1}


class MissingExtra(RuntimeError):
    pass


def require(module: str, extra: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"the {extra} hook needs the optional extra: pip install 'metaprogram-runner[{extra}]'"
        ) from None


def numeric(metrics: dict[str, Any]) -> dict[str, float]:
    """The finite numbers among `metrics` (what a tracker, a Tune report or a searcher can take)."""
    return {k: number for k, v in metrics.items() if (number := finite_number(v)) is not None}


def run_files(run_dir: Path) -> tuple[list[Path], list[Path]]:
    """(top-level files, folders) of a run directory worth keeping with the tracked run."""
    files = [
        p
        for p in sorted(run_dir.iterdir())
        if p.is_file()
        and not p.name.startswith(".")
        and p.name not in SKIPPED_FILES
        and p.suffix not in SKIPPED_SUFFIXES
        and p.stat().st_size <= MAX_ARTIFACT_MB * 2**20
    ]
    return files, [run_dir / d for d in ARTIFACT_DIRS if (run_dir / d).is_dir()]


class Tracker:
    """One tracked run. `parent`: what `link()` of the parent's tracker returned, or None."""

    kind = "tracker"

    def __init__(self, settings: Any):
        self.settings = settings

    def start(
        self, name: str, params: dict[str, Any], tags: dict[str, str], folder: Path, root: Path, parent: dict | None
    ) -> None:
        """`folder`: the run (or study) directory; `root`: the output root."""
        raise NotImplementedError

    def link(self) -> dict[str, Any]:
        """What a child run needs to attach itself to this one (JSON: it may cross to a Ray worker)."""
        raise NotImplementedError

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None: ...

    def log_files(self, run_dir: Path) -> None: ...

    def log_model(self, pipeline: str, run_dir: Path, model: Any = None) -> None: ...

    def finish(self, status: str, final: dict[str, Any]) -> None: ...


class MLflowTracker(Tracker):
    kind = "mlflow"

    def start(self, name, params, tags, folder, root, parent) -> None:
        mlflow = require("mlflow", "mlflow")
        from mlflow.entities import Param, RunTag

        root.mkdir(parents=True, exist_ok=True)
        self.uri = self.settings.tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
        self.client = mlflow.MlflowClient(self.uri)
        experiment = self.client.get_experiment_by_name(self.settings.experiment)
        if experiment is None:
            # artifacts beside the store, not in ./mlruns of whatever directory the run started in
            location = (root / "mlartifacts").as_uri() if self.settings.tracking_uri is None else None
            try:
                self.client.create_experiment(self.settings.experiment, artifact_location=location)
            except mlflow.exceptions.MlflowException:  # another run created it first
                pass
            experiment = self.client.get_experiment_by_name(self.settings.experiment)
        tags = {**tags, "mlflow.runName": name}
        if parent and parent.get("run_id"):
            tags["mlflow.parentRunId"] = parent["run_id"]
        run = self.client.create_run(experiment.experiment_id, run_name=name, tags=tags)
        self.run_id = run.info.run_id
        values = [Param(k[:250], str(v)[:MLFLOW_PARAM_CHARS]) for k, v in params.items()]
        for i in range(0, len(values), 100):  # MLflow takes at most 100 parameters per call
            self.client.log_batch(self.run_id, params=values[i : i + 100])
        self.client.log_batch(self.run_id, tags=[RunTag("metaprogram.status", "running")])

    def link(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "tracking_uri": self.uri}

    def log_metrics(self, metrics, step=None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = [Metric(k, v, now, step or 0) for k, v in numeric(metrics).items() if k != "epoch"]
        for i in range(0, len(values), 1000):
            self.client.log_batch(self.run_id, metrics=values[i : i + 1000])

    def log_files(self, run_dir) -> None:
        if not self.settings.log_artifacts:
            return
        files, folders = run_files(run_dir)
        for path in files:
            self.client.log_artifact(self.run_id, str(path))
        for folder in folders:
            self.client.log_artifacts(self.run_id, str(folder), artifact_path=folder.name)

    def log_model(self, pipeline, run_dir, model=None) -> None:
        """With `log_model: true`: a trained torch model, or a quantize run's saved model folder."""
        if not self.settings.log_model:
            return
        import mlflow

        folder = run_dir / "model"
        if model is None and not (folder / "config.json").is_file():
            return
        mlflow.set_tracking_uri(self.uri)
        # the flavours' log_model write into the active run: make ours active for the call, then leave it open
        with mlflow.start_run(run_id=self.run_id, nested=mlflow.active_run() is not None):
            if model is not None:
                import mlflow.pytorch

                # pickle: the model class is importable wherever this project is; pt2 would need an input example
                mlflow.pytorch.log_model(model, name="model", serialization_format="pickle")
            else:
                import mlflow.transformers

                mlflow.transformers.log_model(
                    str(folder), name="model", task="text-generation", pip_requirements=_llm_requirements()
                )
        self.client.update_run(self.run_id, status="RUNNING")  # leaving the block ended it; finish() ends it

    def finish(self, status, final) -> None:
        from mlflow.entities import RunTag

        self.log_metrics({f"final/{k}": v for k, v in final.items()}, step=None)
        self.client.log_batch(self.run_id, tags=[RunTag("metaprogram.status", status.lower())])
        self.client.set_terminated(self.run_id, status=status)


def _llm_requirements() -> list[str]:
    """What loading a saved (maybe compressed) LLM folder needs, pinned to what made it.

    Given explicitly: MLflow's own defaults for transformers name packages (torchvision) this project lacks."""
    from importlib import metadata

    out = []
    for name in ("torch", "transformers", "tokenizers", "safetensors", "compressed-tensors", "accelerate"):
        try:
            out.append(f"{name}=={metadata.version(name).split('+')[0]}")
        except metadata.PackageNotFoundError:
            continue
    return out


class WandbTracker(Tracker):
    kind = "wandb"

    def start(self, name, params, tags, folder, root, parent) -> None:
        wandb = require("wandb", "wandb")
        folder.mkdir(parents=True, exist_ok=True)
        self.group = (parent or {}).get("group")
        self.run = wandb.init(
            project=self.settings.project,
            entity=self.settings.entity,
            name=name,
            config=params,
            dir=str(folder),
            mode=self.settings.mode,
            group=self.group,
            job_type=tags.get("metaprogram.pipeline"),
            reinit="create_new",  # a chain's stages run while the chain's own run is open
            settings=wandb.Settings(silent=True),
        )

    def link(self) -> dict[str, Any]:
        return {"group": self.group or self.run.name}

    def log_metrics(self, metrics, step=None) -> None:
        values = numeric(metrics)
        values.pop("epoch", None)
        self.run.log(values, step=step)

    def log_files(self, run_dir) -> None:
        files, folders = run_files(run_dir)
        for path in files + [f for d in folders for f in d.rglob("*") if f.is_file()]:
            self.run.save(str(path), base_path=str(run_dir), policy="now")

    def finish(self, status, final) -> None:
        self.run.summary.update({f"final/{k}": v for k, v in numeric(final).items()})
        self.run.finish(exit_code=STATUS.get(status, 1))


TRACKERS = {"mlflow": MLflowTracker, "wandb": WandbTracker}


def build(kind: str, settings: dict[str, Any] | None) -> Tracker:
    from engine.schema.base import HOOKS

    return TRACKERS[kind](HOOKS.schema(kind).model_validate(settings or {}))
