"""Schema of the LLM task data (configs/metaprogram/component/dataset/llm): evaluation tasks and calibration text."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from engine.schema.base import DATASETS, Component, Schema, hub_field, location_field, path_field
from engine.schema.llm import LANGUAGE_MODELING, check_standard, local_task_names

if TYPE_CHECKING:
    from engine.paths import Paths


class CalibrationConfig(Schema):
    """Text that llm-compressor calibrates on. One source: a file, a `datasets` folder, a hub set, generated."""

    source: Literal["file", "disk", "hub", "generated"] = "generated"
    file: str | None = path_field(None, description="source=file: JSONL (one record a line) or plain text")
    disk: str | None = path_field(None, description="source=disk: a folder written by datasets' save_to_disk")
    hub: str | None = hub_field(None, max_length=200, description="source=hub: a dataset id (needs a hub)")
    hub_config: str | None = location_field(None, max_length=100)
    split: str = Field("train", max_length=100, description="source=disk|hub: the split to read")
    text_field: str = Field("text", max_length=100, description="JSONL / datasets column holding the text")

    def input_files(self, paths: Paths) -> dict[str, Path]:
        """Only the active source is read."""
        chosen = {"file": self.file, "disk": self.disk}.get(self.source)
        if self.source == "hub" and self.hub and paths.resolve(self.hub).exists():  # a local copy: its contents
            return {"hub": paths.resolve(self.hub)}
        return {self.source: paths.resolve(chosen)} if chosen else {}

    @model_validator(mode="after")
    def _source_given(self) -> CalibrationConfig:
        needed = {"file": self.file, "disk": self.disk, "hub": self.hub}
        if self.source in needed and needed[self.source] is None:
            raise ValueError(f"calibration.source={self.source} needs calibration.{self.source}")
        return self


class LMTasksConfig(Component):
    """What an LLM is measured and calibrated on.

    Evaluation: an evaluation `suite` (a standard) or an explicit `tasks` list; a task is an lm-eval
    registered name (online) or a local task under configs/lm_eval_tasks. `data_files` overrides where a
    local task reads its data (relative to path.data_root). Calibration: the text for quantization.
    """

    name: Literal["lm_tasks"] = "lm_tasks"
    suite: str | None = Field("offline", description="an evaluation standard (configs/standards/evaluation)")
    tasks: list[str] | None = Field(None, max_length=64, description="instead of a suite: task names")
    data_files: dict[str, str] | None = path_field(None, description="local task -> data file (under data_root)")
    calibration: CalibrationConfig = CalibrationConfig()

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, value: str | None) -> str | None:
        return check_standard("evaluation", value)

    @model_validator(mode="after")
    def _one_task_source(self) -> LMTasksConfig:
        if (self.suite is None) == (self.tasks is None):
            raise ValueError("set exactly one of suite (an evaluation standard) or tasks (a list of task names)")
        unknown = sorted(set(self.data_files or {}) - set(local_task_names()))
        if unknown:
            raise ValueError(f"data_files: {unknown} are not local tasks; local tasks: {', '.join(local_task_names())}")
        return self

    def task(self) -> str:
        return LANGUAGE_MODELING

    def input_files(self, paths: Paths) -> dict[str, Path]:
        return {**self.evaluation_files(paths), **self.calibration_files(paths)}

    def evaluation_files(self, paths: Paths) -> dict[str, Path]:
        """The data files the local lm-eval tasks read (under path.data_root unless data_files says otherwise)."""
        from engine.data_pipe.llm_data import local_task_files

        return {f"data_files.{task}.{split}": path for (task, split), path in local_task_files(self, paths).items()}

    def calibration_files(self, paths: Paths) -> dict[str, Path]:
        return {f"calibration.{k}": p for k, p in self.calibration.input_files(paths).items()}


DATASETS.register("lm_tasks", LMTasksConfig, "engine.data_pipe.llm_data:calibration_dataset")
