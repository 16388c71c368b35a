"""Schemas of the fixed dataset components (configs/metaprogram/component/dataset).

A classic dataset is one source, split into train / val / test and standardised. It runs as
a fixed, uncached DAG over the data DAG's own transforms (`graph()`), so loading and
splitting have one implementation; its settings are the source transform's parameters
plus `split` and `standardize`. CIFAR brings its own test set, so it is split by its loader.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import Field

from engine.schema.base import DATASETS, Component, Schema
from engine.schema.data_dag import (
    BUNDLED,
    TRANSFORMS,
    BundledName,
    CifarParams,
    CSVTable,
    Graph,
    ImageFolderParams,
    Node,
    SklearnParams,
    SplitParams,
    StandardizeParams,
    SubsampleParams,
    SyntheticClassificationParams,
    SyntheticRegressionParams,
    TableParams,
    Task,
    TransformParams,
)

if TYPE_CHECKING:
    from engine.paths import Paths


class SplitConfig(SplitParams):
    """The classic datasets' split. It keeps scikit-learn's shuffled order of each part (the DAG's
    `split` sorts them), so that their results stay what they were before they became DAGs."""

    keep_order: ClassVar[bool] = True
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the split, not of training")


class DataLoading(Schema):
    """How the execution pipeline feeds data: in memory, or streamed from a DataLoader. Either gives the
    same batches in the same order, so these settings do not change a run's results."""

    in_memory_limit_gb: float = Field(
        4.0,
        ge=0.0,
        le=1_000_000.0,
        description="data larger than this (as float32 tensors) streams; a per-sample transform always streams",
    )
    workers: int = Field(2, ge=0, le=256, description="DataLoader worker processes when streaming")
    prefetch: int = Field(4, ge=1, le=64, description="batches each worker prepares ahead")


class FixedDataset(Component):
    """A dataset whose DAG its schema builds: a loader transform, then fixed steps."""

    loader: ClassVar[str]  # the loader transform; its parameters are this schema's fields of the same name

    def task(self) -> Task:
        raise NotImplementedError

    def source_params(self) -> TransformParams:
        schema = TRANSFORMS.schema(self.loader)
        return schema.model_validate({k: v for k, v in self.model_dump().items() if k in schema.model_fields})

    def graph(self) -> Graph:
        raise NotImplementedError

    def _graph(self, steps: list[tuple[str, TransformParams]]) -> Graph:
        """The loader, then each (transform, params) on the previous one; nothing cached."""
        nodes = [Node(name="raw", transform=self.loader, params=self.source_params(), cache=False)]
        for transform, params in steps:
            nodes.append(Node(name=transform, transform=transform, inputs=[nodes[-1].name], params=params, cache=False))
        return Graph(nodes, nodes[-1].name, fixed=True)


class DatasetConfig(FixedDataset):
    split: SplitConfig = SplitConfig()
    standardize: bool = Field(True, description="scale features to zero mean, unit variance")

    def graph(self) -> Graph:
        """load -> split -> standardise (features if asked, regression targets always)."""
        regression = self.task() == "regression"
        steps: list[tuple[str, TransformParams]] = [("split", self.split)]
        if self.standardize or regression:
            steps.append(("standardize", StandardizeParams(features=self.standardize, targets=regression)))
        return self._graph(steps)


class BundledConfig(DatasetConfig):
    """A data set that ships inside scikit-learn."""

    loader: ClassVar[str] = "sklearn"
    name: BundledName
    as_image: bool = Field(False, description="digits only: give 1x8x8 images, not 64 features")

    def task(self) -> Task:
        return BUNDLED[self.name].task

    def source_params(self) -> TransformParams:
        return SklearnParams(dataset=self.name, as_image=self.as_image)


class SyntheticClassificationConfig(DatasetConfig, SyntheticClassificationParams):
    loader: ClassVar[str] = "synthetic_classification"
    name: Literal["synthetic_classification"] = "synthetic_classification"

    def task(self) -> Task:
        return "classification"


class SyntheticRegressionConfig(DatasetConfig, SyntheticRegressionParams):
    loader: ClassVar[str] = "synthetic_regression"
    name: Literal["synthetic_regression"] = "synthetic_regression"

    def task(self) -> Task:
        return "regression"


class TableFileConfig(DatasetConfig, TableParams):
    """A local table: every column but the target is a feature unless listed."""

    def task(self) -> Task:
        return self.task_type


class CSVConfig(TableFileConfig, CSVTable):
    loader: ClassVar[str] = "csv"
    name: Literal["csv"] = "csv"


class JSONLConfig(TableFileConfig):
    loader: ClassVar[str] = "jsonl"
    name: Literal["jsonl"] = "jsonl"


class ImageFolderConfig(DatasetConfig, ImageFolderParams):
    """Your own images, one sub-folder per class (its name is the class name)."""

    loader: ClassVar[str] = "image_folder"
    name: Literal["image_folder"] = "image_folder"

    def task(self) -> Task:
        return "classification"


class CIFARConfig(FixedDataset, CifarParams):
    """CIFAR-10 / -100 (`variant`): the official test set, val carved from train, pixels in [0, 1]."""

    loader: ClassVar[str] = "cifar"
    name: Literal["cifar"] = "cifar"
    subsample: int | None = Field(
        None, ge=10, le=50_000, description="keep this many samples of each part (stratified), for quick runs"
    )
    standardize: bool = Field(False, description="scale pixels per position (off: pretrained models want [0, 1])")

    def task(self) -> Task:
        return "classification"

    def graph(self) -> Graph:
        steps: list[tuple[str, TransformParams]] = []
        if self.subsample is not None:
            steps.append(("subsample", SubsampleParams(n=self.subsample, part="all", seed=self.seed)))
        if self.standardize:
            steps.append(("standardize", StandardizeParams()))
        return self._graph(steps)

    def input_files(self, paths: Paths) -> dict[str, Path]:
        """The folder read (its contents enter the run id), none from the hub; absent: how to get it."""
        folder = self.location(paths)  # raises FileNotFoundError with the instructions
        if folder is None:  # the hub: a local copy named by the hub id is read, so digested
            local = paths.resolve(self.hub_id)
            return {"hub_id": local} if local.exists() else {}
        return {"folder": folder}


_LOAD = "engine.data_pipe.dag:load_dag"
for _name in BUNDLED:
    DATASETS.register(_name, BundledConfig, _LOAD)
for _schema in (
    SyntheticClassificationConfig,
    SyntheticRegressionConfig,
    CSVConfig,
    JSONLConfig,
    ImageFolderConfig,
    CIFARConfig,
):
    DATASETS.register(_schema.model_fields["name"].default, _schema, _LOAD)
