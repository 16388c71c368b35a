"""Data sets: every dataset is a DAG of transforms (engine.data_pipe.dag), handed over as tensors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.paths import Paths

if TYPE_CHECKING:  # torch stays unimported until data is built: validation reads llm_data's task files
    from engine.data_point import Splits


def build_splits(cfg, paths: Paths, context=None) -> Splits:
    """The dataset component `cfg` as train / val / test tensors."""
    from engine.schema.base import DATASETS

    return DATASETS.load(cfg.name)(cfg, paths, context)
