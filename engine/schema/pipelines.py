"""Schemas of the pipeline components (configs/metaprogram/component/pipeline)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, field_validator

from engine.schema.base import HOOKS, METRICS, PIPELINES, Component, Schema, location_field, observer_field
from engine.schema.datasets import DataLoading

if TYPE_CHECKING:
    from engine.paths import Paths


class Resources(Schema):
    """What one run needs; job_launch and the Ray Tune sweeper reserve it."""

    cpus: float = Field(1.0, ge=0.1, le=1024)
    gpus: float = Field(0.0, ge=0.0, le=64)
    memory_gb: float = Field(2.0, ge=0.1, le=4096)
    time_limit_s: float | None = Field(None, gt=0, le=7 * 24 * 3600)


class Objective(Schema):
    """The metric a sweep optimises; 'auto' picks it from the task."""

    metric: str = "auto"
    mode: Literal["auto", "min", "max"] = "auto"


_LOWER_IS_BETTER = ("loss", "mse", "mae", "error", "ttft", "itl", "latency", "time", "perplexity")


def infer_mode(metric: str) -> str:
    return "min" if any(word in metric.lower() for word in _LOWER_IS_BETTER) else "max"


class PipelineConfig(Component):
    device: Literal["auto", "cpu", "cuda"] = "auto"
    resources: Resources = observer_field(Resources(), description="reserved for the run; not part of its id")
    objective: Objective = Objective()
    # trackers only watch a run: outside its id (the execution pipeline's hooks field says per hook)
    hooks: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict,
        json_schema_extra={"observer": True},
        description="trackers (mlflow, wandb); the execution pipeline also takes training hooks",
    )

    def dataset_files(self, dataset: Schema, paths: Paths) -> dict[str, Path]:
        """The dataset's input files this pipeline reads (see Schema.input_files); default: all of them."""
        return dataset.input_files(paths)

    def default_objective(self, task: str) -> tuple[str, str]:
        return "val/loss", "min"

    def problems_with(self, model: Schema, dataset: Schema) -> list[str]:
        """What does not fit between this pipeline and the other components (each valid on its own)."""
        return []

    def resolve_objective(self, task: str) -> tuple[str, str]:
        """(metric, mode) with 'auto' replaced by this pipeline's default for the task."""
        metric, mode = self.objective.metric, self.objective.mode
        if metric == "auto":
            metric, default_mode = self.default_objective(task)
            return metric, default_mode if mode == "auto" else mode
        return metric, infer_mode(metric) if mode == "auto" else mode


class OptimConfig(Schema):
    name: Literal["sgd", "adam", "adamw"] = "adam"
    lr: float = Field(1e-3, gt=0.0, le=10.0)
    weight_decay: float = Field(0.0, ge=0.0, le=1.0)
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="sgd only")


class ScheduleConfig(Schema):
    name: Literal["constant", "cosine", "step", "exponential", "onecycle"] = "constant"
    warmup_epochs: int = Field(0, ge=0, le=1000, description="linear warm-up before the schedule")
    step_size: int = Field(10, ge=1, le=10_000, description="step: epochs between decays")
    gamma: float = Field(0.1, gt=0.0, le=1.0, description="step / exponential: decay factor")


BUILT_IN_METRICS = ("loss", "accuracy", "f1_macro", "mse", "mae", "r2")  # engine/metrics.py: a metric may not shadow


class MetricSettings(Component):
    """A registered metric's settings; `task`: the task it is defined for (None: both)."""

    task: ClassVar[str | None] = None


class Distributed(Schema):
    """Data-parallel training on Ray Train: the execution pipeline under TorchTrainer (DDP; gloo on CPU, nccl on
    GPUs). `pipeline.batch_size` stays the global batch and every worker gets its share of each batch, so the run
    trains on the batches of a single-process run and keeps its id: the worker count is a resource."""

    workers: int = Field(1, ge=1, le=256, description="training processes; 1 trains in the run's own process")
    cpus_per_worker: float = Field(1.0, ge=0.1, le=1024)
    gpus_per_worker: float = Field(0.0, ge=0.0, le=8)
    backend: Literal["auto", "gloo", "nccl"] = Field("auto", description="auto: nccl with GPUs, gloo without")
    address: str | None = location_field(  # names a machine: untrusted input may not set it
        None, description="a Ray cluster (HOST:PORT); default: the Ray this process runs in, else a fresh local one"
    )


def _default_hooks() -> dict[str, Any]:
    return {"progress": {}, "checkpoint": {}, "early_stopping": {}}


class ExecutionConfig(PipelineConfig):
    """Train, validate and test a model on a dataset."""

    name: Literal["execution"] = "execution"
    mode: Literal["train", "test"] = Field(
        "train",
        exclude_if=lambda value: value == "train",  # the default is left out: runs recorded before it keep their ids
        description="train: train, validate, test; test: only evaluate the model (model.init_from: a trained run's "
        "weights) on this dataset's test split, writing test metrics and predictions.csv",
    )
    epochs: int = Field(20, ge=1, le=100_000)
    batch_size: int = Field(64, ge=1, le=1_000_000)
    optim: OptimConfig = OptimConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    restore_best: bool = Field(True, description="test with the best validation weights")
    hooks: dict[str, Any] = Field(
        default_factory=_default_hooks, description="hook name -> settings (engine/schema/hooks.py)"
    )
    precision: Literal["auto", "fp32", "bf16", "fp16"] = Field(
        "auto", description="CUDA autocast: auto is bf16 where supported (else fp16); CPU always runs fp32"
    )
    # in memory or streamed: the same batches either way, so not part of the id (excluded from the dump)
    loader: DataLoading = Field(DataLoading(), exclude=True, description="in memory or streamed (DataLoader)")
    metrics: dict[str, Any] = Field(
        default_factory=dict,
        exclude_if=lambda value: not value,  # none: left out, so runs recorded before it keep their ids
        description="extra metrics of every split, registered by plugins (register.metric): a list of names, or "
        "name -> settings; each is reported as <split>/<name> and can be the objective",
    )
    distributed: Distributed = observer_field(
        Distributed(), description="data-parallel workers on Ray Train (a resource: not part of the id)"
    )

    @field_validator("hooks", mode="before")
    @classmethod
    def _hooks(cls, value: Any) -> dict[str, Any]:
        # defaults included (validate_default): written out or not, the same hooks have the same settings
        if not isinstance(value, dict):
            raise ValueError("expected a mapping of hook name to settings")
        return HOOKS.build_all(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics(cls, value: Any) -> dict[str, Any]:
        if value is None:  # pipeline.metrics=null: none beyond the built-in ones
            return {}
        if isinstance(value, list | tuple):  # pipeline.metrics=[balanced_accuracy]: names with their defaults
            if not all(isinstance(name, str) for name in value):
                raise ValueError("expected a list of metric names, or a mapping of metric name to settings")
            value = {name: {} for name in value}
        if not isinstance(value, dict):
            raise ValueError("expected a list of metric names, or a mapping of metric name to settings")
        return METRICS.build_all({name: {} if settings is None else settings for name, settings in value.items()})

    def problems_with(self, model: Schema, dataset: Schema) -> list[str]:
        task = dataset.task()
        return [
            f"pipeline.metrics.{name}: a {metric.task} metric, and dataset {dataset.name!r} is a {task} task"
            for name, metric in self.metrics.items()
            if metric.task not in (None, task)
        ]

    def default_objective(self, task: str) -> tuple[str, str]:
        split = "test" if self.mode == "test" else "val"  # test mode evaluates the test split only
        return (f"{split}/accuracy", "max") if task == "classification" else (f"{split}/mse", "min")


PIPELINES.register("execution", ExecutionConfig, "engine.pipelines.execution:run")
