"""How to: add a pipeline.

    python -B util/how_tos/own_pipeline.py [WORK_FOLDER]

A pipeline is a function `(metaprogram, context, **settings) -> {metric: value}`: the metaprogram is
validated, the context has the run directory, the paths and a logger. What it writes into
`context.run_dir` stays with the run; the metrics land in results.json and the runs table.
"""

from __future__ import annotations

import sys
import textwrap

from _common import run, work_folder

PLUGIN = """
from engine.plugins import register


@register.pipeline("class_balance")
def class_balance(metaprogram, context, top: int = 3) -> dict[str, float]:
    import numpy as np

    from engine.data_pipe import build_splits

    splits = build_splits(metaprogram.dataset, context.paths, context)
    counts = np.bincount(splits.train.targets.numpy().astype(int))
    shares = np.sort(counts / counts.sum())[::-1][:top]
    (context.run_dir / "shares.txt").write_text(" ".join(f"{s:.3f}" for s in shares))
    return {"data/largest_class_share": float(shares[0]), "data/classes": float(len(counts))}
"""


def main(argv: list[str]) -> None:
    work = work_folder(argv)
    plugin = work / "my_pipelines.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    run(["++pipeline={name: class_balance, top: 2}", "+metaprogram/component/model=classic/mlp",
         "+metaprogram/component/dataset=classification/wine"], work, [plugin])  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
