"""How-to: fine-tune from a recorded run, then evaluate it on another dataset, from Python.

    python -B util/how_tos/fine_tune_and_evaluate.py            # 5 epochs per training run
    python -B util/how_tos/fine_tune_and_evaluate.py --epochs 1 # quicker

1. Train a small MLP on a synthetic problem: the parent run.
2. Fine-tune it on a harder version of the problem (classes closer together): `model.init_from=<parent id>`.
   The parent's id and the digest of its weights (model.pt) are part of the child's id.
3. Evaluate the fine-tuned weights on a third, still harder version: `pipeline.mode=test` trains nothing and
   writes test metrics and predictions.csv into its own run directory.
4. Try another learning rate for the fine-tuning, composed from its record: `+from_run=<id>`.
5. Read the lineage back from the runs table (`metaprogram runs show <parent id>` shows the same).

Runs land in $METAPROGRAM_OUTPUT_ROOT (default ./outputs); running it again reuses every completed run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere in the clone

from database.api import runs  # noqa: E402
from engine.api import run  # noqa: E402

PROBLEM = [  # one synthetic problem; the steps below change only how hard or noisy it is
    "+metaprogram/component/pipeline=execution",
    "+metaprogram/component/model=classic/mlp",
    "+metaprogram/component/dataset=synthetic/classification",
    "+path=default",
    "dataset.n_samples=600",
    "dataset.n_features=10",
    "dataset.n_informative=5",
    "dataset.n_classes=3",
    "dataset.generator_seed=7",
    "~pipeline.hooks.progress",  # quiet in a notebook; an observer, so the ids do not change
]


def main(epochs: int) -> dict[str, dict]:
    parent = run(overrides=[*PROBLEM, "dataset.class_sep=1.5", f"pipeline.epochs={epochs}"])
    print(f"parent     {parent['id']}  test/accuracy {parent['metrics']['test/accuracy']:.3f}")

    tuned = run(overrides=[*PROBLEM, "dataset.class_sep=1.0", f"pipeline.epochs={epochs}",
                           f"model.init_from={parent['id']}", "pipeline.optim.lr=3e-4"])  # fmt: skip
    print(f"fine-tuned {tuned['id']}  test/accuracy {tuned['metrics']['test/accuracy']:.3f}")

    tested = run(overrides=[*PROBLEM, "dataset.class_sep=0.8",
                            f"model.init_from={tuned['id']}", "pipeline.mode=test"])  # fmt: skip
    predictions = Path(tested["run_dir"]) / "predictions.csv"
    print(f"evaluated  {tested['id']}  test/accuracy {tested['metrics']['test/accuracy']:.3f}  {predictions}")

    variant = run(overrides=[f"+from_run={tuned['id']}", "pipeline.optim.lr=1e-3"])
    print(f"variant    {variant['id']}  test/accuracy {variant['metrics']['test/accuracy']:.3f}")

    print("\nthe lineage, from the runs table:")
    for record in sorted(runs(), key=lambda r: r["started"] or ""):
        print(f"  {record['id']}  {record['status']:9}  parent {record['parent'] or '-':16}  {record['dataset']}")
    return {"parent": parent, "tuned": tuned, "tested": tested, "variant": variant}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs of each training run")
    main(parser.parse_args().epochs)
