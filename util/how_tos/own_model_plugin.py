"""How to: add your own PyTorch model (and dataset) as a plugin, outside this repository, and run it.

    python -B util/how_tos/own_model_plugin.py [WORK_FOLDER]

1. Write a module next to your code. A function decorated with `register.model` returns a torch module;
   its parameters after `info` (input shape, number of outputs) are the model's settings, typed, with
   defaults: `model.width` and `model.depth` below. A dataset returns (x, y) arrays.
2. Name the module in METAPROGRAM_PLUGINS (or `path.plugins`, or install it as a package with a
   `metaprogram.plugins` entry point: see examples/plugin_example).
3. Name the component as you name a built-in one: `++model={name: wide_mlp, width: 64}`, or ship YAML
   components in a `configs/` folder beside the module and pick them with `+metaprogram/component/...`.
The same gate checks it (misspellings get did-you-mean), and the module's source is part of the run id.
"""

from __future__ import annotations

import sys
import textwrap

from _common import run, work_folder

PLUGIN = """
from engine.plugins import register


@register.model("wide_mlp")
def wide_mlp(info, width: int = 32, depth: int = 1):
    import math

    import torch.nn as nn

    layers, size = [nn.Flatten()], math.prod(info.input_shape)
    for _ in range(depth):
        layers += [nn.Linear(size, width), nn.GELU()]
        size = width
    return nn.Sequential(*layers, nn.Linear(size, info.n_outputs))  # logits (B, n_outputs)


@register.dataset("rings", task="classification")
def rings(n_samples: int = 300, gap: float = 1.0, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n_samples)
    radius = 1.0 + gap * label + rng.normal(0, 0.1, n_samples)
    angle = rng.uniform(0, 2 * np.pi, n_samples)
    return np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1), label
"""


def main(argv: list[str]) -> None:
    work = work_folder(argv)
    plugin = work / "my_models.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    parts = ["+metaprogram/component/pipeline=execution", "++model={name: wide_mlp, width: 16}",
             "++dataset={name: rings, n_samples: 200}", "pipeline.epochs=2"]  # fmt: skip
    run(parts, work, [plugin])  # one run
    run(["-m", *parts, "model.depth=1,2"], work, [plugin])  # a multirun over the plugin's own setting


if __name__ == "__main__":
    main(sys.argv[1:])
