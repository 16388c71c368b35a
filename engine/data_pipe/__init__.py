"""Data sets: load (registered loaders), split, standardise, hand over as tensors."""

from __future__ import annotations

from engine.data_point import Splits
from engine.paths import Paths


def build_splits(cfg, paths: Paths) -> Splits:
    """The dataset component `cfg` as train / val / test tensors."""
    from engine.data_pipe.splits import split_and_scale
    from engine.schema.base import DATASETS

    raw = DATASETS.load(cfg.name)(cfg, paths)
    return split_and_scale(raw, cfg.split, cfg.standardize)
