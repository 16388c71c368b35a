"""Data files that suite tasks read, written by this script so they travel with the repository.

The held-out suite (configs/sweep/suite/heldout.yaml) includes a task on a local CSV file, as a
user's own table would be: `<path.data_root>/suites/heldout_table.csv`, a non-linear binary
problem (scikit-learn's Hastie 10.2: the label is whether the squared norm of 10 Gaussian
features passes a threshold) with 4 columns of pure noise, 2% of labels flipped and named
columns. Generated, deterministic and never used for training.

    python -m planner.suite_data                # writes the files under path.data_root (idempotent)
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELDOUT_TABLE = "suites/heldout_table.csv"


def heldout_table() -> str:
    import numpy as np
    from sklearn.datasets import make_hastie_10_2

    features, labels = make_hastie_10_2(n_samples=900, random_state=2027)
    rng = np.random.default_rng(2027)
    noise = rng.normal(size=(len(labels), 4))
    flip = rng.random(len(labels)) < 0.02
    labels = np.where(flip, -labels, labels)
    header = [*(f"g{i}" for i in range(10)), *(f"noise{i}" for i in range(4)), "label"]
    rows = [",".join(header)]
    for x, n, y in zip(features, noise, labels, strict=True):
        rows.append(",".join([*(f"{v:.4f}" for v in x), *(f"{v:.4f}" for v in n), "pos" if y > 0 else "neg"]))
    return "\n".join(rows) + "\n"


def write_suite_data(data_root: Path) -> list[Path]:
    """Write every suite data file that is missing or differs; return their paths."""
    from engine.records import atomic_write

    path = Path(data_root) / HELDOUT_TABLE
    text = heldout_table()
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, text)
    return [path]


def main(argv: list[str] | None = None) -> int:
    from engine.paths import default_paths

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, default=None, help="default: path.data_root")
    args = parser.parse_args(argv)
    root = args.data_root or default_paths().root("data_root")
    for path in write_suite_data(root):
        print(path)
    return 0


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
