"""Schemas of the training hooks, set in a pipeline's `hooks:` mapping by name.

A hook that only watches a run (`is_observer = True`) stays out of the run's id: adding a plot or
removing the progress bar reuses the run. Hooks that change the outcome (early stopping, gradient
clipping) are part of it.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from engine.schema.base import HOOKS, Schema, path_field


class CheckpointConfig(Schema):
    is_observer: ClassVar[bool] = True
    every: int = Field(1, ge=1, le=10_000, description="save every N epochs")


class EarlyStoppingConfig(Schema):
    patience: int = Field(10, ge=1, le=10_000, description="epochs without improvement")
    metric: str = Field("auto", description="'auto' follows the pipeline's objective")
    mode: Literal["auto", "min", "max"] = "auto"
    min_delta: float = Field(0.0, ge=0.0)


class ProgressConfig(Schema):
    is_observer: ClassVar[bool] = True
    leave: bool = Field(True, description="keep the bar on screen when done")


class GradClipConfig(Schema):
    max_norm: float = Field(1.0, gt=0.0, le=1e6, description="clip the global gradient norm to this")
    norm_type: float = Field(2.0, gt=0.0, le=1e6)


class LRLoggerConfig(Schema):
    is_observer: ClassVar[bool] = True
    every_step: bool = Field(False, description="also write every optimizer step's rate to lr.csv")


class PlotConfig(Schema):
    is_observer: ClassVar[bool] = True
    every: int = Field(1, ge=1, le=10_000, description="redraw every N epochs (and at the end)")
    file: str = Field("learning_curves.png", pattern=r"^[A-Za-z0-9_.-]+\.png$", description="in the run directory")


class MLflowConfig(Schema):
    is_observer: ClassVar[bool] = True
    tracking_uri: str | None = path_field(None, description="default: sqlite:///<output_root>/mlflow.db")
    experiment: str = Field("metaprogram-runner", min_length=1, max_length=200)
    log_artifacts: bool = Field(True, description="the run directory's files: metaprogram.yaml, plots, reports, logs")
    log_model: bool = Field(False, description="log the trained (execution) or quantized model as an MLflow model")


class WandbConfig(Schema):
    is_observer: ClassVar[bool] = True
    project: str = Field("metaprogram-runner", min_length=1, max_length=128)
    mode: Literal["offline", "online", "disabled"] = "offline"
    entity: str | None = None


HOOKS.register("checkpoint", CheckpointConfig, "engine.hooks.checkpoint:CheckpointHook")
HOOKS.register("early_stopping", EarlyStoppingConfig, "engine.hooks.early_stopping:EarlyStoppingHook")
HOOKS.register("progress", ProgressConfig, "engine.hooks.progress:ProgressHook")
HOOKS.register("grad_clip", GradClipConfig, "engine.hooks.grad_clip:GradClipHook")
HOOKS.register("lr_logger", LRLoggerConfig, "engine.hooks.lr_logger:LRLoggerHook")
HOOKS.register("plot", PlotConfig, "engine.hooks.plot:PlotHook")
HOOKS.register("mlflow", MLflowConfig, "engine.hooks.tracking:MLflowHook")
HOOKS.register("wandb", WandbConfig, "engine.hooks.tracking:WandbHook")
