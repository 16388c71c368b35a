"""Schemas of the cached data DAG: transform nodes, their parameters, and the `dag` dataset.

A `dag` dataset lists transform nodes; each names a registered transform, its
inputs (earlier nodes) and its parameters, which are validated against the
transform's own schema here, at validation time, so a misspelt parameter is
caught before anything runs. Existing datasets do not change (their ids stay).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NamedTuple

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.registry import Registry
from engine.schema.base import DATASETS, Component, Schema, hub_field, path_field

if TYPE_CHECKING:
    from engine.paths import Paths

TRANSFORMS = Registry("transform")
Task = Literal["classification", "regression"]


class TransformParams(Schema):
    """Parameters of one transform. `version` enters the cache key: bump it when the code changes."""

    version: ClassVar[int] = 1
    arity: ClassVar[tuple[int, int]] = (1, 1)  # (min, max) number of input nodes
    makes_splits: ClassVar[bool] = False  # gives train / val / test parts


class Loader(TransformParams):
    arity: ClassVar[tuple[int, int]] = (0, 0)


# ---- loaders -------------------------------------------------------------------------------------
class Bundled(NamedTuple):
    task: Task
    n_samples: int
    n_features: int
    n_classes: int  # 0 for regression


# scikit-learn's bundled data sets: the one list (the `sklearn` loader, the classic datasets, study facts)
BUNDLED: dict[str, Bundled] = {
    "digits": Bundled("classification", 1797, 64, 10),
    "iris": Bundled("classification", 150, 4, 3),
    "wine": Bundled("classification", 178, 13, 3),
    "breast_cancer": Bundled("classification", 569, 30, 2),
    "diabetes": Bundled("regression", 442, 10, 0),
}
BundledName = Literal[tuple(BUNDLED)]  # type: ignore[valid-type]


class SklearnParams(Loader):
    dataset: BundledName = "digits"
    as_image: bool = Field(False, description="digits only: 1x8x8 images instead of 64 features")


class SyntheticClassificationParams(Loader):
    """scikit-learn's make_classification."""

    n_samples: int = Field(1000, ge=20, le=1_000_000)
    n_features: int = Field(20, ge=1, le=10_000)
    n_informative: int = Field(10, ge=1, le=10_000)
    n_classes: int = Field(2, ge=2, le=100)
    noise: float = Field(0.01, ge=0.0, le=1.0, description="share of labels flipped at random")
    class_sep: float = Field(1.0, gt=0.0, le=100.0)
    generator_seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticClassificationParams:
        _informative_within_features(self)
        if self.n_classes > 2**self.n_informative:
            raise ValueError(f"n_classes ({self.n_classes}) needs n_informative >= log2(n_classes)")
        return self


class SyntheticRegressionParams(Loader):
    """scikit-learn's make_regression."""

    n_samples: int = Field(1000, ge=20, le=1_000_000)
    n_features: int = Field(20, ge=1, le=10_000)
    n_informative: int = Field(10, ge=1, le=10_000)
    noise: float = Field(0.1, ge=0.0, le=1000.0, description="std of gaussian noise on targets")
    generator_seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _consistent(self) -> SyntheticRegressionParams:
        _informative_within_features(self)
        return self


def _informative_within_features(params: Any) -> None:
    if params.n_informative > params.n_features:
        raise ValueError(f"n_informative ({params.n_informative}) must not exceed n_features ({params.n_features})")


class TableParams(Loader):
    """A local table: every column but the target is a numeric feature unless listed."""

    file: str = path_field(description="relative to path.data_root, or absolute")
    target: str = Field(description="column holding the label or value")
    features: list[str] | None = Field(None, description="numeric feature columns; default: all but target/text")
    task_type: Task = "classification"


class TextColumn(Schema):
    text: str | None = Field(None, description="a text column: gives strings to tokenise instead of numbers")


class CSVTable(TableParams):
    delimiter: str = Field(",", min_length=1, max_length=1)


class CSVParams(CSVTable, TextColumn):
    pass


class JSONLParams(TableParams, TextColumn):
    pass


class ImageFolderParams(Loader):
    folder: str = path_field(description="one sub-folder per class, relative to path.data_root")
    size: int = Field(32, ge=4, le=1024, description="images are resized to size x size")
    grayscale: bool = False


CIFAR = {  # variant -> (name, python-version folder, download, hub id)
    "cifar10": (
        "CIFAR-10",
        "cifar-10-batches-py",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "uoft-cs/cifar10",
    ),
    "cifar100": (
        "CIFAR-100",
        "cifar-100-python",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "uoft-cs/cifar100",
    ),
}


class CifarParams(Loader):
    """CIFAR-10 or -100: the official test set is the test part; val is carved from the training set."""

    makes_splits: ClassVar[bool] = True
    variant: Literal["cifar10", "cifar100"] = "cifar10"
    folder: str | None = path_field(
        None,
        description="the python-version folder or a `datasets` save_to_disk folder, relative to path.data_root; "
        "null: cifar-10-batches-py (cifar-100-python) under path.data_root",
    )
    hub_id: str | None = hub_field(
        None,
        description="read from the Hugging Face hub instead (online), e.g. uoft-cs/cifar10; a local folder's "
        "contents enter the run id",
    )
    val_fraction: float = Field(0.1, ge=0.0, le=0.5, description="share of the training set held out, stratified")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the validation split")

    def location(self, paths: Paths) -> Path | None:
        """The folder to read, None for the hub; raises FileNotFoundError saying how to get the data."""
        if self.hub_id:
            return None
        name, default, url, hub = CIFAR[self.variant]
        folder = paths.data_file(self.folder or default)
        if folder.is_dir():
            return folder
        root = paths.root("data_root")
        raise FileNotFoundError(
            f"{name} not found: no folder {folder}. Download the python version into path.data_root with "
            f"`mkdir -p {root} && curl -L {url} | tar xz -C {root}` (it unpacks {default}), or on a machine with "
            f'internet save a `datasets` copy with `python -c "import datasets; '
            f"datasets.load_dataset('{hub}').save_to_disk('{root / self.variant}')\"` and set "
            f"dataset.folder={self.variant}, or read it from the hub when online with dataset.hub_id={hub}."
        )


class HFDiskParams(Loader, TextColumn):
    path: str = path_field(description="a folder written by datasets' save_to_disk")
    split: str | None = Field("train", description="for a DatasetDict: which split to read")
    target: str = "label"
    features: list[str] | None = None
    task_type: Task = "classification"


# ---- splits and resampling -----------------------------------------------------------------------
class SplitParams(TransformParams):
    makes_splits: ClassVar[bool] = True
    keep_order: ClassVar[bool] = False  # parts in index order; True keeps train_test_split's shuffled order
    val_fraction: float = Field(0.15, ge=0.0, le=0.5)
    test_fraction: float = Field(0.2, ge=0.05, le=0.5)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    stratify: bool = True


class KFoldParams(TransformParams):
    makes_splits: ClassVar[bool] = True
    k: int = Field(5, ge=2, le=100)
    fold: int = Field(0, ge=0, le=99, description="which fold is the validation part")
    test_fraction: float = Field(0.2, ge=0.05, le=0.5, description="held out before the folds")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    stratify: bool = True

    @model_validator(mode="after")
    def _fold_in_range(self) -> KFoldParams:
        if self.fold >= self.k:
            raise ValueError(f"fold ({self.fold}) must be below k ({self.k})")
        return self


class SubsampleParams(TransformParams):
    fraction: float | None = Field(None, gt=0.0, le=1.0)
    n: int | None = Field(None, ge=1, le=100_000_000)
    stratify: bool = True
    seed: int = Field(0, ge=0, le=2**31 - 1)
    part: Literal["train", "all"] = Field("train", description="after a split: subsample train only, or every part")

    @model_validator(mode="after")
    def _one_size(self) -> SubsampleParams:
        if (self.fraction is None) == (self.n is None):
            raise ValueError("give exactly one of fraction or n")
        return self


class BalanceParams(TransformParams):
    mode: Literal["over", "under"] = Field("over", description="repeat minority or drop majority samples")
    seed: int = Field(0, ge=0, le=2**31 - 1)


# ---- features ------------------------------------------------------------------------------------
class StandardizeParams(TransformParams):
    features: bool = Field(True, description="scale the features (false: the targets only, with targets=true)")
    targets: bool = Field(False, description="regression: also standardise the targets")


class OneHotParams(TransformParams):
    columns: list[int] = Field(description="indices of categorical feature columns", min_length=1)


class TokenizeParams(TransformParams):
    tokenizer: str | None = path_field(
        None, description="a local tokenizer folder (relative to path.model_root); none: train a byte-level BPE"
    )
    vocab_size: int = Field(2000, ge=300, le=200_000, description="for the trained tokenizer")
    max_length: int = Field(64, ge=2, le=8192)
    lowercase: bool = True

    path_root: ClassVar[str] = "model_root"  # tokenizers live with the models


class AugmentParams(TransformParams):
    copies: int = Field(1, ge=1, le=100, description="augmented copies added per training image")
    flip: bool = Field(True, description="random horizontal flip")
    crop_padding: int = Field(0, ge=0, le=64, description="pad then crop back at a random offset")
    noise_std: float = Field(0.0, ge=0.0, le=10.0, description="gaussian noise added to pixels")
    seed: int = Field(0, ge=0, le=2**31 - 1)


_T = "engine.data_pipe.transforms"
for _name, _schema, _impl in (
    ("sklearn", SklearnParams, f"{_T}.load:load_sklearn"),
    ("synthetic_classification", SyntheticClassificationParams, f"{_T}.load:make_classification"),
    ("synthetic_regression", SyntheticRegressionParams, f"{_T}.load:make_regression"),
    ("csv", CSVParams, f"{_T}.load:load_csv"),
    ("jsonl", JSONLParams, f"{_T}.load:load_jsonl"),
    ("image_folder", ImageFolderParams, f"{_T}.load:load_image_folder"),
    ("cifar", CifarParams, f"{_T}.load:load_cifar"),
    ("hf_disk", HFDiskParams, f"{_T}.load:load_hf_disk"),
    ("split", SplitParams, f"{_T}.split:split"),
    ("kfold", KFoldParams, f"{_T}.split:kfold"),
    ("subsample", SubsampleParams, f"{_T}.split:subsample"),
    ("balance", BalanceParams, f"{_T}.split:balance"),
    ("standardize", StandardizeParams, f"{_T}.features:standardize"),
    ("one_hot", OneHotParams, f"{_T}.features:one_hot"),
    ("tokenize", TokenizeParams, f"{_T}.text:tokenize"),
    ("augment", AugmentParams, f"{_T}.image:augment"),
):
    TRANSFORMS.register(_name, _schema, _impl)


class Node(Schema):
    """One step of the DAG: `transform` applied to the outputs of `inputs`."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    transform: str
    inputs: list[str] = Field(default_factory=list, max_length=16)
    params: Any = Field(default_factory=dict, description="the transform's parameters")
    cache: bool = Field(True, description="store the output under path.cache_root")
    regenerate: bool = Field(False, description="recompute this node and everything downstream")
    inspect: bool = Field(False, description="write a few samples before and after into the run directory")

    @field_validator("transform")
    @classmethod
    def _registered(cls, value: str) -> str:
        TRANSFORMS.schema(value)  # an unknown name raises with the nearest registered ones
        return value

    @field_validator("params", mode="before")
    @classmethod
    def _params_for_transform(cls, value: Any, info: ValidationInfo) -> Any:
        transform = info.data.get("transform")
        return value if transform is None else TRANSFORMS.build(transform, value)

    @model_validator(mode="after")
    def _arity(self) -> Node:
        low, high = type(self.params).arity
        if not low <= len(self.inputs) <= high:
            want = str(low) if low == high else f"{low} to {high}"
            raise ValueError(
                f"node {self.name!r}: transform {self.transform} takes {want} input(s), got {len(self.inputs)}"
            )
        return self


class DagDatasetConfig(Component):
    """A dataset built by a DAG of cached transforms; `output` (default: the last node) must be split."""

    name: Literal["dag"] = "dag"
    nodes: list[Node] = Field(min_length=1, max_length=64)
    output: str | None = Field(None, description="the node whose train / val / test parts are used")
    task_type: Task = "classification"

    @field_validator("nodes", mode="before")
    @classmethod
    def _mapping_to_list(cls, value: Any) -> Any:
        # YAML may write nodes as a mapping {name: {...}}: keep the written order
        if isinstance(value, dict):
            return [{"name": k, **(v or {})} for k, v in value.items()]
        return value

    @model_validator(mode="after")
    def _wired(self) -> DagDatasetConfig:
        seen: dict[str, Node] = {}
        for node in self.nodes:
            if node.name in seen:
                raise ValueError(f"node {node.name!r} is declared twice")
            missing = [i for i in node.inputs if i not in seen]
            if missing:
                raise ValueError(
                    f"node {node.name!r}: input(s) {', '.join(map(repr, missing))} must be nodes declared before it"
                )
            seen[node.name] = node
        out = self.output or self.nodes[-1].name
        if out not in seen:
            raise ValueError(f"output {out!r} is not a node; nodes are {', '.join(seen)}")
        if not self._splits_upstream(out, seen):
            raise ValueError(f"output node {out!r} has no split or kfold node upstream: it needs train/val/test parts")
        return self

    def _splits_upstream(self, name: str, nodes: dict[str, Node]) -> bool:
        node = nodes[name]
        return type(node.params).makes_splits or any(self._splits_upstream(i, nodes) for i in node.inputs)

    def task(self) -> Task:
        return self.task_type

    def graph(self) -> Graph:
        return Graph(self.nodes, self.output or self.nodes[-1].name, fixed=False)


@dataclass(frozen=True)
class Graph:
    """What engine.data_pipe.dag runs for a dataset: its nodes in order and the output node."""

    nodes: list[Node]
    output: str
    fixed: bool  # built by the dataset's schema (a classic dataset), not written by the user


DATASETS.register("dag", DagDatasetConfig, "engine.data_pipe.dag:load_dag")
