"""Compose a metaprogram with Hydra, validate it, run it and record it.

    python -B run_metaprogram.py --config-name=metaprogram/example
    python -B run_metaprogram.py +metaprogram/component/pipeline=execution \\
        +metaprogram/component/model=classic/mlp +metaprogram/component/dataset=classification/digits +path=default
    python -B run_metaprogram.py --config-name=metaprogram/example -m pipeline.optim.lr=1e-3,1e-2
    python -B run_metaprogram.py --config-name=metaprogram/example -m pipeline.optim.lr=1e-3,1e-2 hydra/launcher=ray

Every job of a command line is composed and validated before any runs: a bad
metaprogram exits with status 2, one line per problem, and writes nothing.
"""

import sys

from engine.boundary import guarded
from engine.cli import main

if __name__ == "__main__":
    sys.exit(guarded(main, sys.argv[1:]))
