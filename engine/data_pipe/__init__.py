"""Data sets: load (registered loaders), split, standardise, hand over as tensors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.paths import Paths

if TYPE_CHECKING:  # torch stays unimported until data is built: validation reads llm_data's task files
    from engine.data_point import Splits


def build_splits(cfg, paths: Paths, context=None) -> Splits:
    """The dataset component `cfg` as train / val / test tensors."""
    from engine.data_pipe.splits import split_and_scale
    from engine.schema.base import DATASETS

    loader = DATASETS.load(cfg.name)
    if getattr(loader, "wants_context", False):  # the cached DAG: splits itself, logs and inspects into the run
        return loader(cfg, paths, context)
    raw = loader(cfg, paths)
    return split_and_scale(raw, cfg.split, cfg.standardize)
