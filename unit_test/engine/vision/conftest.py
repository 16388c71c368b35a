"""Fixtures for the image and pretrained-model tests: a tiny CIFAR and tiny pretrained models, built once."""

from __future__ import annotations

import pytest

from unit_test.vision_fixtures import save_tiny_clip, save_tiny_vit, write_cifar10, write_cifar100


@pytest.fixture(scope="session")
def vision_root(tmp_path_factory):
    """data/cifar-10-batches-py, data/cifar-100-python, models/tiny_clip, models/tiny_vit (read-only for tests)."""
    root = tmp_path_factory.mktemp("vision")
    write_cifar10(root / "data")
    write_cifar100(root / "data")
    save_tiny_clip(root / "models" / "tiny_clip")
    save_tiny_vit(root / "models" / "tiny_vit")
    return root


@pytest.fixture
def vision_paths(vision_root, tmp_path):
    """Roots for one test: the shared data and models, its own cache and outputs."""
    from engine.paths import Paths

    return Paths(
        data_root=str(vision_root / "data"),
        model_root=str(vision_root / "models"),
        cache_root=str(tmp_path / "cache"),
        output_root=str(tmp_path / "out"),
    )
