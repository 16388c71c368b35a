"""Loaders: the DAG's sources (scikit-learn's bundled sets and generators, CSV, JSONL, image folders,
datasets on disk)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from engine.data_pipe.dag import TransformEnv, resolve_path
from engine.data_pipe.frame import Data, DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def load_sklearn(inputs: list[Data], params, env: TransformEnv) -> Data:
    from sklearn import datasets

    from engine.schema.data_dag import BUNDLED

    bunch = getattr(datasets, f"load_{params.dataset}")()
    x = bunch.data.astype(np.float32)
    regression = BUNDLED[params.dataset].task == "regression"
    kind = "features"
    if params.dataset == "digits" and params.as_image:
        x, kind = x.reshape(-1, 1, 8, 8), "image"  # (N, C, H, W)
    meta: dict[str, Any] = {"task": "regression" if regression else "classification", "input_kind": kind}
    if not regression:
        meta["class_names"] = [str(n) for n in bunch.target_names]
    return Data({"x": x, "y": bunch.target.astype(np.float32 if regression else np.int64)}, meta)


def make_classification(inputs: list[Data], params, env: TransformEnv) -> Data:
    from sklearn import datasets

    x, y = datasets.make_classification(
        n_samples=params.n_samples,
        n_features=params.n_features,
        n_informative=params.n_informative,
        n_redundant=0,
        n_classes=params.n_classes,
        n_clusters_per_class=1,
        flip_y=params.noise,
        class_sep=params.class_sep,
        random_state=params.generator_seed,
    )
    names = [str(i) for i in range(params.n_classes)]
    meta = {"task": "classification", "input_kind": "features", "class_names": names}
    return Data({"x": x.astype(np.float32), "y": y.astype(np.int64)}, meta)


def make_regression(inputs: list[Data], params, env: TransformEnv) -> Data:
    from sklearn import datasets

    x, y = datasets.make_regression(
        n_samples=params.n_samples,
        n_features=params.n_features,
        n_informative=params.n_informative,
        noise=params.noise,
        random_state=params.generator_seed,
    )
    meta = {"task": "regression", "input_kind": "features"}
    return Data({"x": x.astype(np.float32), "y": y.astype(np.float32)}, meta)


def load_csv(inputs: list[Data], params, env: TransformEnv) -> Data:
    path = resolve_path(params, "file", env.paths)
    return records_to_data(read_csv_rows(path, params.delimiter), params, str(path))


def load_jsonl(inputs: list[Data], params, env: TransformEnv) -> Data:
    path = resolve_path(params, "file", env.paths)
    return records_to_data(read_jsonl_rows(path), params, str(path))


def load_hf_disk(inputs: list[Data], params, env: TransformEnv) -> Data:
    """A `datasets` dataset written with save_to_disk (a Dataset, or a DatasetDict and a split)."""
    import datasets

    path = resolve_path(params, "path", env.paths)
    if not path.exists():
        raise DataError(f"no dataset saved at {path} (write one with datasets' save_to_disk)")
    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if params.split not in loaded:
            raise DataError(f"{path}: no split {params.split!r}; splits are {', '.join(loaded)}")
        loaded = loaded[params.split]
    rows = loaded.to_list()
    data = records_to_data(rows, params, str(path))
    feature = loaded.features.get(params.target)
    if getattr(feature, "names", None) and params.task_type == "classification":
        # a ClassLabel column: keep its names and ids instead of sorting the ids as strings
        data.meta["class_names"] = list(feature.names)
        data.arrays["y"] = np.asarray([row[params.target] for row in rows], dtype=np.int64)
    return data


def load_image_folder(inputs: list[Data], params, env: TransformEnv) -> Data:
    """root/<class>/<image>: images resized to size x size, pixels in [0, 1], (N, C, H, W)."""
    import torch
    import torch.nn.functional as F
    from PIL import Image

    root = resolve_path(params, "folder", env.paths)
    classes = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not classes:
        raise DataError(f"{root}: expected one sub-folder of images per class")
    images, labels = [], []
    for label, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            with Image.open(file) as img:
                array = np.asarray(img.convert("L" if params.grayscale else "RGB"), dtype=np.float32) / 255.0
            tensor = torch.from_numpy(array.reshape(*array.shape[:2], -1)).permute(2, 0, 1)[None]  # (1, C, H, W)
            tensor = F.interpolate(tensor, size=(params.size, params.size), mode="bilinear", align_corners=False)
            images.append(tensor[0].numpy())
            labels.append(label)
    if not images:
        raise DataError(f"{root}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    meta = {"task": "classification", "input_kind": "image", "class_names": classes, "pixels": "unit"}
    return Data({"x": np.stack(images).astype(np.float32), "y": np.asarray(labels, dtype=np.int64)}, meta)


def read_csv_rows(path: Path, delimiter: str = ",") -> list[dict]:
    """The rows of a CSV file with a header row."""
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


def records_to_data(rows: list[dict], params, where: str) -> Data:
    """Rows -> numeric features (or a text column) and targets."""
    if not rows:
        raise DataError(f"{where} holds no rows")
    columns = list(rows[0])
    wanted = [params.target] + ([params.text] if params.text else []) + list(params.features or [])
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise DataError(f"{where}: no column(s) {', '.join(missing)}; columns are {', '.join(map(str, columns))}")
    meta: dict[str, Any] = {"task": params.task_type}
    if params.text:
        x = np.asarray([str(row[params.text]) for row in rows])
        meta["input_kind"] = "text"
    else:
        x = _numeric(rows, params.features or [c for c in columns if c != params.target], where)
        meta["input_kind"] = "features"
    raw = [row.get(params.target) for row in rows]
    if params.task_type == "regression":
        try:
            return Data({"x": x, "y": np.asarray(raw, dtype=np.float32)}, meta)
        except (TypeError, ValueError):
            raise DataError(f"{where}: target {params.target!r} must be numeric for regression") from None
    names = sorted({str(t) for t in raw})
    index = {name: i for i, name in enumerate(names)}
    meta["class_names"] = names
    return Data({"x": x, "y": np.asarray([index[str(t)] for t in raw], dtype=np.int64)}, meta)


def _numeric(rows: list[dict], features: list[str], where: str) -> np.ndarray:
    """(N, F) float32; a cell that is not a number is named by its row and column."""
    matrix = np.empty((len(rows), len(features)), dtype=np.float32)
    for i, row in enumerate(rows):
        for j, column in enumerate(features):
            try:
                matrix[i, j] = float(row[column])
            except (TypeError, ValueError, KeyError):
                raise DataError(
                    f"{where}: row {i + 1}, column {column!r}: {row.get(column)!r} is not a number "
                    "(or set `text` for a text column)"
                ) from None
    return matrix


def load_cifar(inputs: list[Data], params, env: TransformEnv) -> Data:
    """CIFAR from the python-version folder, a save_to_disk folder or the hub: pixels in [0, 1], (N, 3, 32, 32)."""
    try:
        folder = params.location(env.paths)
    except FileNotFoundError as exc:
        raise DataError(str(exc)) from None
    if folder is not None and _is_python_version(folder):
        (x_train, y_train), (x_test, y_test), names = _cifar_pickles(folder, params.variant)
    else:
        (x_train, y_train), (x_test, y_test), names = _cifar_datasets(folder, params, env.paths)
    train, val = np.arange(len(y_train)), np.array([], dtype=np.int64)
    if params.val_fraction > 0:
        from sklearn.model_selection import train_test_split

        train, val = train_test_split(train, test_size=params.val_fraction, random_state=params.seed, stratify=y_train)
        train, val = np.sort(train), np.sort(val)
    arrays = {
        "train/x": _unit(x_train[train]),
        "train/y": y_train[train],
        "val/x": _unit(x_train[val]),
        "val/y": y_train[val],
        "test/x": _unit(x_test),
        "test/y": y_test,
    }
    meta = {"task": "classification", "input_kind": "image", "class_names": names, "pixels": "unit"}
    return Data(arrays, meta)


def _is_python_version(folder: Path) -> bool:
    return (folder / "batches.meta").is_file() or (folder / "meta").is_file()


def _cifar_pickles(folder: Path, variant: str):
    """The files of the python version: pickled dicts of uint8 rows (N, 3072) and labels."""
    import pickle

    def read(name: str) -> dict:
        path = folder / name
        if not path.is_file():
            raise DataError(f"{folder}: no file {name}; is this the python version of {variant}?")
        with path.open("rb") as handle:
            return pickle.load(handle, encoding="latin1")

    if variant == "cifar10":
        batches = [read(f"data_batch_{i}") for i in range(1, 6)]
        train, test, meta = batches, [read("test_batch")], read("batches.meta")
        names, key = meta["label_names"], "labels"
    else:
        train, test, meta = [read("train")], [read("test")], read("meta")
        names, key = meta["fine_label_names"], "fine_labels"

    def images(parts: list[dict]):
        x = np.concatenate([np.asarray(p["data"], dtype=np.uint8) for p in parts]).reshape(-1, 3, 32, 32)
        y = np.concatenate([np.asarray(p[key], dtype=np.int64) for p in parts])
        return x, y  # (N, 3, 32, 32) uint8, (N,)

    return images(train), images(test), [str(n) for n in names]


def _cifar_datasets(folder: Path | None, params, paths):
    """A DatasetDict with train and test (save_to_disk folder, or the hub): an image and a label column."""
    import datasets

    from engine.schema.base import hub_location
    from engine.schema.data_dag import CIFAR

    name, _, _, hub = CIFAR[params.variant]
    try:
        if folder is not None:
            loaded = datasets.load_from_disk(str(folder))
        else:  # a local copy of a hub set is read from where its digest was taken
            loaded = datasets.load_dataset(hub_location(params.hub_id, paths))
    except Exception as exc:  # the hub offline, a folder that is something else: say what to do
        where = folder if folder is not None else f"the hub id {params.hub_id}"
        raise DataError(
            f"cannot read {name} from {where} ({type(exc).__name__}: {exc}). Use the python-version folder "
            f"(dataset.folder) or a folder written with datasets' save_to_disk from {hub}."
        ) from None
    if not isinstance(loaded, datasets.DatasetDict) or not {"train", "test"} <= set(loaded):
        raise DataError(f"{folder or params.hub_id}: expected a DatasetDict with train and test splits")
    features = loaded["train"].features
    image = next((c for c, f in features.items() if isinstance(f, datasets.Image)), None)
    label = (
        "fine_label"
        if "fine_label" in features
        else next((c for c, f in features.items() if isinstance(f, datasets.ClassLabel)), None)
    )
    if image is None or label is None:
        raise DataError(f"{folder or params.hub_id}: expected an image column and a class-label column")

    def images(part):
        x = np.stack([np.asarray(img.convert("RGB"), dtype=np.uint8) for img in part[image]]).transpose(0, 3, 1, 2)
        return x, np.asarray(part[label], dtype=np.int64)  # (N, 3, H, W) uint8, (N,)

    return images(loaded["train"]), images(loaded["test"]), list(features[label].names)


def _unit(pixels: np.ndarray) -> np.ndarray:
    return pixels.astype(np.float32) / 255.0  # uint8 -> [0, 1]
