"""How to: sweep your own model's settings with Ray Tune, and let the planner propose for it.

    python -B util/how_tos/sweep_plugin.py [WORK_FOLDER] [PLANNER_CHECKPOINT]

A plugin's settings are dotted keys like any other (`model.width`), so a sweep file searches them and
the planner proposes them. The sweep below runs 3 Tune trials (random search) over the plugin model of
own_model_plugin.py. Given a trained planner checkpoint, the same sweep runs again with the planner as
its search algorithm (`tune.algorithm=planner tune.planner_checkpoint=DIR`, as for any sweep).
"""

from __future__ import annotations

import json
import sys
import textwrap

from _common import run, work_folder
from own_model_plugin import PLUGIN

MODEL_YAML = """\
# @package model
# The plugin model of my_models.py, picked with +metaprogram/component/model=mine/wide_mlp
name: wide_mlp
width: 32
depth: 1
"""

SWEEP = """\
# A Tune sweep over a plugin model's own settings.
name: wide_mlp_sweep
suite: how_to
base:
  components: {model: mine/wide_mlp, dataset: classification/iris, pipeline: execution}
  overrides: [pipeline.epochs=2]
space:
  model.width: {type: choice, values: [8, 16, 32]}
  model.depth: {type: choice, values: [1, 2]}
  pipeline.optim.lr: {type: loguniform, low: 0.001, high: 0.1}
mode: tune
count: 3
seed: 0
tune: {algorithm: random, concurrency: 1}
"""


def main(argv: list[str]) -> None:
    work = work_folder(argv[:1])
    plugin = work / "my_models.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    component = work / "configs" / "metaprogram" / "component" / "model" / "mine"  # beside the module: found
    component.mkdir(parents=True, exist_ok=True)
    (component / "wide_mlp.yaml").write_text(MODEL_YAML)
    (work / "wide_mlp_sweep.yaml").write_text(SWEEP)
    run([str(work / "wide_mlp_sweep.yaml")], work, [plugin], script="util/sweeper.py")
    listing = run(["runs", "--model", "wide_mlp", "--format", "json"], work, [plugin], script="database/__main__.py")
    print(f"{len(json.loads(listing))} runs of the plugin model in the runs table")
    if len(argv) > 1:  # a trained planner proposes the trials of the same space
        planner = ["tune.algorithm=planner", f"tune.planner_checkpoint={argv[1]}", "name=wide_mlp_planner"]
        run([str(work / "wide_mlp_sweep.yaml"), *planner], work, [plugin], script="util/sweeper.py")


if __name__ == "__main__":
    main(sys.argv[1:])
