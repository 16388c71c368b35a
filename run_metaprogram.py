"""Compose a metaprogram with Hydra, validate it, run it and record it.

    python -B run_metaprogram.py --config-name=metaprogram/example
    python -B run_metaprogram.py +metaprogram/component/pipeline=execution \\
        +metaprogram/component/model=classic/mlp +metaprogram/component/dataset=classification/digits +path=default
    python -B run_metaprogram.py --config-name=metaprogram/example -m pipeline.optim.lr=1e-3,1e-2

Every job of a command line is composed and validated before any runs: a bad
metaprogram exits with status 2, one line per problem, and writes nothing.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from engine.cli import preflight, run_composed

_failures: list[str] = []


@hydra.main(config_path="configs", config_name="run", version_base=None)
def main(cfg: DictConfig) -> None:
    from hydra.core.hydra_config import HydraConfig

    overrides = list(HydraConfig.get().overrides.task)
    if not run_composed(cfg, overrides):
        _failures.append(" ".join(overrides))


if __name__ == "__main__":
    preflight(sys.argv[1:])  # exits 2 on bad input before Hydra writes anything
    main()
    if _failures:
        sys.exit(1)
