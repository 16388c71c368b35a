"""CIFAR (python-version folder, save_to_disk folder) and image folders as datasets."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from engine.data_pipe import build_splits
from engine.metaprogram import MetaprogramError, validate
from engine.runner import execute
from engine.schema.datasets import CIFARConfig
from unit_test.vision_fixtures import CIFAR10_NAMES


def test_cifar_reads_the_python_version_folder(vision_paths, vision_root):
    data = build_splits(CIFARConfig(val_fraction=0.1), vision_paths)
    assert data.info.class_names == tuple(CIFAR10_NAMES) and data.info.input_shape == (3, 32, 32)
    assert (len(data.train), len(data.val), len(data.test)) == (180, 20, 100)  # test = the official test batch
    assert data.info.extra["pixels"] == "unit"
    with (vision_root / "data" / "cifar-10-batches-py" / "test_batch").open("rb") as handle:
        raw = pickle.load(handle, encoding="latin1")
    expected = np.asarray(raw["data"], dtype=np.float32).reshape(-1, 3, 32, 32) / 255.0
    assert np.array_equal(data.test.inputs.numpy(), expected)
    assert data.test.targets.tolist() == raw["labels"]


def test_cifar100_and_a_subsample(vision_paths):
    data = build_splits(CIFARConfig(variant="cifar100", val_fraction=0.0, subsample=50), vision_paths)
    assert len(data.info.class_names) == 100 and data.info.class_names[3] == "class_3"
    assert (len(data.train), len(data.val), len(data.test)) == (50, 0, 50)


def test_cifar_from_a_save_to_disk_folder_matches_the_pickles(vision_paths, vision_root, tmp_path):
    import datasets
    from PIL import Image

    pickled = build_splits(CIFARConfig(val_fraction=0.0), vision_paths)
    parts = {}
    for name, split in (("train", pickled.train), ("test", pickled.test)):
        pixels = (split.inputs.numpy() * 255).round().astype(np.uint8).transpose(0, 2, 3, 1)  # (N, H, W, C)
        parts[name] = datasets.Dataset.from_dict(
            {"img": [Image.fromarray(p) for p in pixels], "label": split.targets.tolist()},
            features=datasets.Features({"img": datasets.Image(), "label": datasets.ClassLabel(names=CIFAR10_NAMES)}),
        )
    datasets.DatasetDict(parts).save_to_disk(str(tmp_path / "cifar10_disk"))
    from_disk = build_splits(CIFARConfig(folder=str(tmp_path / "cifar10_disk"), val_fraction=0.0), vision_paths)
    assert from_disk.info.class_names == pickled.info.class_names
    assert np.array_equal(from_disk.test.inputs.numpy(), pickled.test.inputs.numpy())
    assert from_disk.train.targets.tolist() == pickled.train.targets.tolist()


def test_missing_cifar_says_how_to_get_it(paths):
    cfg = CIFARConfig()
    with pytest.raises(FileNotFoundError, match=r"curl -L https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"):
        cfg.input_files(paths)  # what the run id reads: a missing folder stops validation
    with pytest.raises(MetaprogramError, match=r"CIFAR-10 not found: no folder .*cifar-10-batches-py.*save_to_disk"):
        validate(
            {"model": {"name": "mlp"}, "dataset": {"name": "cifar"}, "pipeline": {"name": "execution"}},
            trusted=True,
            paths=paths,
        )


def test_cifar_input_file_is_the_folder_read(vision_paths, vision_root):
    assert CIFARConfig().input_files(vision_paths) == {"folder": vision_root / "data" / "cifar-10-batches-py"}
    assert CIFARConfig(hub_id="uoft-cs/cifar10").input_files(vision_paths) == {}


def test_an_image_folder_trains_a_cnn(paths):
    from pathlib import Path

    from PIL import Image

    rng = np.random.default_rng(0)
    root = Path(paths.data_root) / "shapes"
    for label, (name, level) in enumerate((("dark", 40), ("light", 210))):
        (root / name).mkdir(parents=True)
        for i in range(30):
            pixels = (rng.integers(-30, 30, size=(12, 12, 3)) + level).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{label}_{i}.png")
    mp = validate(
        {
            "model": {"name": "cnn", "channels": [4], "hidden": 8},
            "dataset": {"name": "image_folder", "folder": "shapes", "size": 8, "standardize": False},
            "pipeline": {"name": "execution", "epochs": 15, "device": "cpu", "optim": {"lr": 0.01}, "hooks": {}},
        },
        trusted=True,
        paths=paths,
    )
    results = execute(mp, paths)
    assert results["metrics"]["test/accuracy"] == 1.0  # dark and light images are easy to tell apart
