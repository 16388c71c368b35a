"""Schemas of the dataset components (configs/metaprogram/component/dataset)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from engine.schema.base import DATASETS, Component, Schema, path_field

Task = Literal["classification", "regression"]


class SplitConfig(Schema):
    val_fraction: float = Field(0.15, ge=0.0, le=0.5)
    test_fraction: float = Field(0.2, ge=0.05, le=0.5)
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the split, not of training")
    stratify: bool = True


class DatasetConfig(Component):
    split: SplitConfig = SplitConfig()
    standardize: bool = Field(True, description="scale features to zero mean, unit variance")

    def task(self) -> Task:
        raise NotImplementedError


BUNDLED_TASKS: dict[str, Task] = {
    "digits": "classification",
    "iris": "classification",
    "wine": "classification",
    "breast_cancer": "classification",
    "diabetes": "regression",
}


class BundledConfig(DatasetConfig):
    """A data set that ships inside scikit-learn."""

    name: Literal["digits", "iris", "wine", "breast_cancer", "diabetes"]
    as_image: bool = Field(False, description="digits only: give 1x8x8 images, not 64 features")

    def task(self) -> Task:
        return BUNDLED_TASKS[self.name]


class SyntheticClassificationConfig(DatasetConfig):
    name: Literal["synthetic_classification"] = "synthetic_classification"
    n_samples: int = Field(1000, ge=20, le=1_000_000)
    n_features: int = Field(20, ge=1, le=10_000)
    n_informative: int = Field(10, ge=1, le=10_000)
    n_classes: int = Field(2, ge=2, le=100)
    noise: float = Field(0.01, ge=0.0, le=1.0, description="share of labels flipped at random")
    class_sep: float = Field(1.0, gt=0.0, le=100.0)
    generator_seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticClassificationConfig:
        if self.n_informative > self.n_features:
            raise ValueError(f"n_informative ({self.n_informative}) must not exceed n_features ({self.n_features})")
        if self.n_classes > 2**self.n_informative:
            raise ValueError(f"n_classes ({self.n_classes}) needs n_informative >= log2(n_classes)")
        return self

    def task(self) -> Task:
        return "classification"


class SyntheticRegressionConfig(DatasetConfig):
    name: Literal["synthetic_regression"] = "synthetic_regression"
    n_samples: int = Field(1000, ge=20, le=1_000_000)
    n_features: int = Field(20, ge=1, le=10_000)
    n_informative: int = Field(10, ge=1, le=10_000)
    noise: float = Field(0.1, ge=0.0, le=1000.0, description="std of gaussian noise on targets")
    generator_seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticRegressionConfig:
        if self.n_informative > self.n_features:
            raise ValueError(f"n_informative ({self.n_informative}) must not exceed n_features ({self.n_features})")
        return self

    def task(self) -> Task:
        return "regression"


class TableFileConfig(DatasetConfig):
    """A local table: every column but the target is a feature unless listed."""

    file: str = path_field(description="path of the file, relative to path.data_root")
    target: str = Field(description="column holding the label or value")
    features: list[str] | None = None
    task_type: Task = "classification"

    def task(self) -> Task:
        return self.task_type


class CSVConfig(TableFileConfig):
    name: Literal["csv"] = "csv"
    delimiter: str = Field(",", min_length=1, max_length=1)


class JSONLConfig(TableFileConfig):
    name: Literal["jsonl"] = "jsonl"


_BUNDLED = "engine.data_pipe.loaders:load_bundled"
for _name in BUNDLED_TASKS:
    DATASETS.register(_name, BundledConfig, _BUNDLED)
DATASETS.register(
    "synthetic_classification",
    SyntheticClassificationConfig,
    "engine.data_pipe.loaders:load_synthetic_classification",
)
DATASETS.register(
    "synthetic_regression",
    SyntheticRegressionConfig,
    "engine.data_pipe.loaders:load_synthetic_regression",
)
DATASETS.register("csv", CSVConfig, "engine.data_pipe.loaders:load_csv")
DATASETS.register("jsonl", JSONLConfig, "engine.data_pipe.loaders:load_jsonl")
