"""How to: add a transform to a data DAG.

    python -B util/how_tos/dag_transform.py [WORK_FOLDER]

A transform takes the output of the node before it (`data`: named numpy arrays and metadata) and returns
new Data; its parameters after `data` are its settings. Register it with `register.transform`, then use it
as a node of a `dag` dataset: it is cached, keyed by its settings and its source code, like the built-in
nodes (edit the function and the node is recomputed).
"""

from __future__ import annotations

import sys
import textwrap

from _common import run, work_folder

PLUGIN = """
import numpy as np

from engine.plugins import register


@register.transform("add_noise")
def add_noise(data, std: float = 0.1, seed: int = 0):
    rng = np.random.default_rng(seed)
    arrays = {k: v + rng.normal(0, std, v.shape).astype(v.dtype) if k.endswith("x") else v
              for k, v in data.arrays.items()}
    return data.with_arrays(arrays)
"""

DAG = """\
# @package dataset
# digits -> add_noise (a plugin's transform) -> split -> standardize
name: dag
output: scaled
nodes:
  raw: {transform: sklearn, params: {dataset: digits}}
  noisy: {transform: add_noise, inputs: [raw], params: {std: 0.5}}
  parts: {transform: split, inputs: [noisy]}
  scaled: {transform: standardize, inputs: [parts]}
"""


def main(argv: list[str]) -> None:
    work = work_folder(argv)
    plugin = work / "my_transforms.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    configs = work / "configs" / "metaprogram" / "component" / "dataset" / "mine"
    configs.mkdir(parents=True, exist_ok=True)
    (configs / "noisy_digits.yaml").write_text(DAG)  # configs/ beside the module joins Hydra's search path
    run(["+metaprogram/component/pipeline=execution", "+metaprogram/component/model=classic/mlp",
         "+metaprogram/component/dataset=mine/noisy_digits", "pipeline.epochs=2"], work, [plugin])  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
