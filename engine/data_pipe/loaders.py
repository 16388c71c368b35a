"""Load a data set into arrays: scikit-learn's bundled sets and generators, local CSV and JSONL."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.paths import Paths


class DataError(ValueError):
    """A data file that cannot be used, with the reason."""


@dataclass
class RawData:
    features: np.ndarray  # (N, F) float32, or (N, C, H, W) for images
    targets: np.ndarray  # (N,) int64 class ids or float32 values
    task: str
    class_names: tuple[str, ...] = ()


def load_bundled(cfg, paths: Paths) -> RawData:
    from sklearn import datasets

    loader = getattr(datasets, f"load_{cfg.name}")
    bunch = loader()
    features = bunch.data.astype(np.float32)
    task = cfg.task()
    if cfg.name == "digits" and cfg.as_image:
        features = features.reshape(-1, 1, 8, 8)  # (N, C, H, W)
    names = tuple(str(n) for n in getattr(bunch, "target_names", ())) if task == "classification" else ()
    targets = bunch.target.astype(np.int64 if task == "classification" else np.float32)
    return RawData(features, targets, task, names)


def load_synthetic_classification(cfg, paths: Paths) -> RawData:
    from sklearn.datasets import make_classification

    x, y = make_classification(
        n_samples=cfg.n_samples,
        n_features=cfg.n_features,
        n_informative=cfg.n_informative,
        n_redundant=0,
        n_classes=cfg.n_classes,
        n_clusters_per_class=1,
        flip_y=cfg.noise,
        class_sep=cfg.class_sep,
        random_state=cfg.generator_seed,
    )
    names = tuple(str(i) for i in range(cfg.n_classes))
    return RawData(x.astype(np.float32), y.astype(np.int64), "classification", names)


def load_synthetic_regression(cfg, paths: Paths) -> RawData:
    from sklearn.datasets import make_regression

    x, y = make_regression(
        n_samples=cfg.n_samples,
        n_features=cfg.n_features,
        n_informative=cfg.n_informative,
        noise=cfg.noise,
        random_state=cfg.generator_seed,
    )
    return RawData(x.astype(np.float32), y.astype(np.float32), "regression")


def load_csv(cfg, paths: Paths) -> RawData:
    path = paths.data_file(cfg.file)
    return _table(read_csv_rows(path, cfg.delimiter), cfg, path)


def load_jsonl(cfg, paths: Paths) -> RawData:
    path = paths.data_file(cfg.file)
    return _table(read_jsonl_rows(path), cfg, path)


def read_csv_rows(path: Path, delimiter: str = ",") -> list[dict]:
    """The rows of a CSV file with a header row (shared with the DAG's csv loader)."""
    with _existing(path).open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def read_jsonl_rows(path: Path) -> list[dict]:
    """The records of a JSON Lines file; a bad line is named with its number."""
    rows = []
    with _existing(path).open() as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise DataError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
    return rows


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise DataError(f"data file {path} does not exist (relative paths start at path.data_root)")
    return path


def _table(rows: list[dict], cfg, path: Path) -> RawData:
    """Rows of a CSV or JSONL file -> numeric features and targets."""
    if not rows:
        raise DataError(f"{path} holds no rows")
    columns = list(rows[0])
    if cfg.target not in columns:
        raise DataError(f"{path}: no column {cfg.target!r}; columns are {', '.join(map(str, columns))}")
    features = cfg.features or [c for c in columns if c != cfg.target]
    missing = [c for c in features if c not in columns]
    if missing:
        raise DataError(f"{path}: no column(s) {', '.join(missing)}")
    matrix = np.empty((len(rows), len(features)), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, column in enumerate(features):
            try:
                matrix[i, j] = float(row[column])
            except (TypeError, ValueError, KeyError):
                raise DataError(
                    f"{path}: row {i + 1}, column {column!r}: {row.get(column)!r} is not a number"
                ) from None
    raw_targets = [row.get(cfg.target) for row in rows]
    if cfg.task() == "regression":
        try:
            return RawData(matrix, np.asarray(raw_targets, dtype=np.float32), "regression")
        except (TypeError, ValueError):
            raise DataError(f"{path}: target {cfg.target!r} must be numeric for regression") from None
    names = tuple(sorted({str(t) for t in raw_targets}))
    index = {name: i for i, name in enumerate(names)}
    targets = np.asarray([index[str(t)] for t in raw_targets], dtype=np.int64)
    return RawData(matrix, targets, "classification", names)
