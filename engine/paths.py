"""Where data, models, caches and outputs live on this machine (not part of a metaprogram)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field

from engine.schema.base import Schema

ENV_VARS = {
    "data_root": "METAPROGRAM_DATA_ROOT",
    "model_root": "METAPROGRAM_MODEL_ROOT",
    "cache_root": "METAPROGRAM_CACHE_ROOT",
    "output_root": "METAPROGRAM_OUTPUT_ROOT",
}
DEFAULTS = {"data_root": "data", "model_root": "models", "cache_root": ".cache", "output_root": "outputs"}


class Paths(Schema):
    data_root: str = Field(description="local data files; relative dataset paths start here")
    model_root: str = Field(description="converted and downloaded model weights")
    cache_root: str = Field(description="cached data transforms and conversions")
    output_root: str = Field(description="run directories, sweep storage, the database")

    def root(self, key: str) -> Path:
        return Path(getattr(self, key)).expanduser().resolve()

    def run_dir(self, run_id: str) -> Path:
        return self.root("output_root") / "runs" / run_id

    def data_file(self, name: str) -> Path:
        """A dataset file: absolute as given, else under data_root."""
        path = Path(name).expanduser()
        return path if path.is_absolute() else self.root("data_root") / path


def default_paths() -> Paths:
    """The same roots as configs/path/default.yaml, for runs composed without +path."""
    return Paths(**{k: os.environ.get(ENV_VARS[k], DEFAULTS[k]) for k in ENV_VARS})


def paths_from(section: dict[str, Any] | None) -> Paths:
    if not section:
        return default_paths()
    return Paths(**{**default_paths().model_dump(), **section})
