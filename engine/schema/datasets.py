"""Schemas of the classic dataset components (configs/metaprogram/component/dataset).

A classic dataset is one source, split into train / val / test and standardised. It runs as
a fixed, uncached DAG over the data DAG's own transforms (`graph()`), so loading and
splitting have one implementation; its settings are the source transform's parameters
plus `split` and `standardize`.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from engine.schema.base import DATASETS, Component
from engine.schema.data_dag import (
    BUNDLED,
    TRANSFORMS,
    BundledName,
    CSVTable,
    Graph,
    Node,
    SklearnParams,
    SplitParams,
    StandardizeParams,
    SyntheticClassificationParams,
    SyntheticRegressionParams,
    TableParams,
    Task,
    TransformParams,
)


class SplitConfig(SplitParams):
    """The classic datasets' split. It keeps scikit-learn's shuffled order of each part (the DAG's
    `split` sorts them), so that their results stay what they were before they became DAGs."""

    keep_order: ClassVar[bool] = True
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the split, not of training")


class DatasetConfig(Component):
    split: SplitConfig = SplitConfig()
    standardize: bool = Field(True, description="scale features to zero mean, unit variance")

    source: ClassVar[str]  # the loader transform; its parameters are this schema's fields of the same name

    def task(self) -> Task:
        raise NotImplementedError

    def source_params(self) -> TransformParams:
        schema = TRANSFORMS.schema(self.source)
        return schema.model_validate({k: v for k, v in self.model_dump().items() if k in schema.model_fields})

    def graph(self) -> Graph:
        """load -> split -> standardise (features if asked, regression targets always); nothing cached."""
        regression = self.task() == "regression"
        nodes = [
            Node(name="raw", transform=self.source, params=self.source_params(), cache=False),
            Node(name="parts", transform="split", inputs=["raw"], params=self.split, cache=False),
        ]
        if self.standardize or regression:
            scale = StandardizeParams(features=self.standardize, targets=regression)
            nodes.append(Node(name="scaled", transform="standardize", inputs=["parts"], params=scale, cache=False))
        return Graph(nodes, nodes[-1].name, fixed=True)


class BundledConfig(DatasetConfig):
    """A data set that ships inside scikit-learn."""

    source: ClassVar[str] = "sklearn"
    name: BundledName
    as_image: bool = Field(False, description="digits only: give 1x8x8 images, not 64 features")

    def task(self) -> Task:
        return BUNDLED[self.name].task

    def source_params(self) -> TransformParams:
        return SklearnParams(dataset=self.name, as_image=self.as_image)


class SyntheticClassificationConfig(DatasetConfig, SyntheticClassificationParams):
    source: ClassVar[str] = "synthetic_classification"
    name: Literal["synthetic_classification"] = "synthetic_classification"

    def task(self) -> Task:
        return "classification"


class SyntheticRegressionConfig(DatasetConfig, SyntheticRegressionParams):
    source: ClassVar[str] = "synthetic_regression"
    name: Literal["synthetic_regression"] = "synthetic_regression"

    def task(self) -> Task:
        return "regression"


class TableFileConfig(DatasetConfig, TableParams):
    """A local table: every column but the target is a feature unless listed."""

    def task(self) -> Task:
        return self.task_type


class CSVConfig(TableFileConfig, CSVTable):
    source: ClassVar[str] = "csv"
    name: Literal["csv"] = "csv"


class JSONLConfig(TableFileConfig):
    source: ClassVar[str] = "jsonl"
    name: Literal["jsonl"] = "jsonl"


_LOAD = "engine.data_pipe.dag:load_dag"
for _name in BUNDLED:
    DATASETS.register(_name, BundledConfig, _LOAD)
for _schema in (SyntheticClassificationConfig, SyntheticRegressionConfig, CSVConfig, JSONLConfig):
    DATASETS.register(_schema.model_fields["name"].default, _schema, _LOAD)
