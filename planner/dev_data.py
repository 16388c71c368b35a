"""Development data for the planner: real runs on cheap tasks, replayed into studies.

Studies of real Tune sweeps come from the study database (`python -m database export`); this module
makes cheaper ones for development, by look-up:

1. **Tables of real runs.** For each task (a dataset and its generator settings, an MLP, the
   execution pipeline with few epochs) every point of a small discrete search space is run
   once through `engine.runner.execute` (so each is a real, recorded, idempotent run) and its
   objective is stored in a table (`<root>/tables/<task>.json`).
2. **Studies replayed over the tables.** Random search and Optuna TPE (util/search/) search each task for
   `n_trials`; every trial's objective is the table's entry, i.e. a real run's result, and its
   `run_id` is that run's id. Written as JSONL in the agreed study export format.

The same tables make the benchmark feasible on CPU: searchers are compared by lookups.

    python -m planner.dev_data tables --root outputs/planner_dev            # run the grids (minutes)
    python -m planner.dev_data studies --root outputs/planner_dev --out outputs/planner_dev/studies.jsonl
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

from engine.metaprogram import validate
from engine.paths import Paths
from engine.records import write_json
from util import search
from util.search_space import apply_params, grid, point_key
from util.task_signature import task_signature as describe

# The discrete space every dev study searches: 8 x 2 x 3 x 2 = 96 points.
DEV_SPACE: dict[str, dict[str, Any]] = {
    "pipeline.optim.lr": {"type": "choice", "values": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1]},
    "pipeline.optim.name": {"type": "choice", "values": ["sgd", "adam"]},
    "model.hidden": {"type": "choice", "values": [16, 64, 256]},
    "model.layers": {"type": "choice", "values": [1, 3]},
}
EPOCHS = 8
BATCH_SIZE = 32


def _synthetic_cls(key: str, **kw: Any) -> tuple[str, dict[str, Any]]:
    return key, {"name": "synthetic_classification", **kw}


def _synthetic_reg(key: str, **kw: Any) -> tuple[str, dict[str, Any]]:
    return key, {"name": "synthetic_regression", **kw}


def _training_synthetic() -> list[tuple[str, dict[str, Any]]]:
    """Synthetic tasks drawn from one family of generator settings (a fixed draw)."""
    rng = random.Random(2024)
    tasks = []
    for i in range(16):
        n_features = rng.choice([8, 12, 20])
        tasks.append(
            _synthetic_cls(
                f"syn_cls_{i:02d}",
                n_samples=rng.choice([300, 600, 1000]),
                n_features=n_features,
                n_informative=rng.choice([3, 5, min(8, n_features)]),
                n_classes=rng.choice([2, 2, 3]),
                class_sep=rng.choice([0.6, 1.0, 1.6]),
                noise=rng.choice([0.01, 0.05, 0.15]),
                generator_seed=i,
            )
        )
    for i in range(6):
        tasks.append(
            _synthetic_reg(
                f"syn_reg_{i:02d}",
                n_samples=rng.choice([300, 800]),
                n_features=rng.choice([5, 10, 15]),
                n_informative=rng.choice([3, 5]),
                noise=rng.choice([1.0, 5.0, 20.0]),
                generator_seed=100 + i,
            )
        )
    return tasks


# Training tasks: three bundled data sets and one family of generator settings.
TRAIN_TASKS: dict[str, dict[str, Any]] = dict(
    [("digits", {"name": "digits"}), ("iris", {"name": "iris"}), ("diabetes", {"name": "diabetes"})]
    + _training_synthetic()
)
# Held-out tasks: data sets and generator settings never seen in training.
HELDOUT_TASKS: dict[str, dict[str, Any]] = dict(
    [
        ("wine", {"name": "wine"}),
        ("breast_cancer", {"name": "breast_cancer"}),
        _synthetic_cls(
            "held_cls_5class", n_samples=800, n_features=40, n_informative=12, n_classes=5, generator_seed=900
        ),
        _synthetic_cls(
            "held_cls_hard",
            n_samples=500,
            n_features=30,
            n_informative=6,
            n_classes=4,
            class_sep=0.8,
            noise=0.1,
            generator_seed=901,
        ),
        _synthetic_reg("held_reg_wide", n_samples=500, n_features=30, n_informative=20, noise=10.0, generator_seed=902),
        _synthetic_reg("held_reg_small", n_samples=200, n_features=4, n_informative=4, noise=2.0, generator_seed=903),
    ]
)
ALL_TASKS = {**TRAIN_TASKS, **HELDOUT_TASKS}


def base_metaprogram(dataset: dict[str, Any]) -> dict[str, Any]:
    """The canonical metaprogram a task's trials start from."""
    raw = {
        "model": {"name": "mlp"},
        "dataset": dataset,
        "pipeline": {
            "name": "execution",
            "epochs": EPOCHS,
            "batch_size": BATCH_SIZE,
            "device": "cpu",
            "hooks": {},  # no checkpoints or early stopping: each run is a few hundred ms
        },
        "seed": 0,
    }
    return validate(raw, trusted=False).canonical


def _scratch_paths() -> Paths:
    return Paths(data_root=".", model_root=".", cache_root=".", output_root=".")


def dataset_facts(dataset: dict[str, Any]) -> dict[str, Any]:
    """Size, features and classes of a task's data (loads it once; cheap for these sets)."""
    return describe(validate(base_metaprogram(dataset), trusted=False), _scratch_paths())["dataset_facts"]


def task_record(name: str, dataset: dict[str, Any], facts: dict[str, Any] | None = None) -> dict[str, Any]:
    task = describe(validate(base_metaprogram(dataset), trusted=False), _scratch_paths())
    return {**task, "dataset_facts": facts or task["dataset_facts"]}


def run_point(base: dict[str, Any], params: dict[str, Any], paths: Paths) -> dict[str, Any]:
    """One real run (or its cached result) of base + params; a failure is recorded, not raised."""
    from engine.runner import RunFailed, execute

    mp = validate(apply_params(base, params), trusted=False)
    try:
        results = execute(mp, paths)
    except RunFailed as exc:
        return {"params": params, "objective": None, "status": "failed", "run_id": exc.run_id}
    value = results["objective"]["value"]
    if value is None or not math.isfinite(value):
        return {"params": params, "objective": None, "status": "failed", "run_id": mp.id}
    return {"params": params, "objective": float(value), "status": "completed", "run_id": mp.id}


def build_table(name: str, root: Path, paths: Paths) -> dict[str, Any]:
    """Run every point of DEV_SPACE on task `name` once; cached in root/tables/name.json."""
    target = root / "tables" / f"{name}.json"
    if target.exists():
        return json.loads(target.read_text())
    dataset = ALL_TASKS[name]
    base = base_metaprogram(dataset)
    started = time.monotonic()
    entries = [run_point(base, params, paths) for params in grid(DEV_SPACE)]
    table = {
        "name": name,
        "task": task_record(name, dataset, dataset_facts(dataset)),
        "search_space": DEV_SPACE,
        "base": base,
        "entries": entries,
        "wall_s": time.monotonic() - started,
    }
    write_json(target, table)
    return table


def load_tables(root: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in names:
        path = root / "tables" / f"{name}.json"
        if not path.exists():
            raise FileNotFoundError(
                f"no table for task {name} in {root}/tables: run `python -m planner.dev_data tables`"
            )
        out[name] = json.loads(path.read_text())
    return out


class TableObjective:
    """Lookup of a task's precomputed real-run results by point."""

    def __init__(self, table: dict[str, Any]):
        self.table = table
        self.by_key = {point_key(e["params"]): e for e in table["entries"]}
        self.mode = table["task"]["objective"]["mode"]
        values = [e["objective"] for e in table["entries"] if e["objective"] is not None]
        self.best = max(values) if self.mode == "max" else min(values)
        self.worst = min(values) if self.mode == "max" else max(values)

    def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.by_key[point_key(params)]

    def regret(self, value: float | None, log: bool = False) -> float:
        """1 - value normalised between the worst (0) and best (1) known objective; a failure is 1.

        `log=True` normalises positive minimised metrics (MSE, losses) on a log scale, where one
        diverged run no longer squashes every other value to a regret of about 0.
        """
        if value is None or self.best == self.worst:
            return 1.0 if value is None else 0.0
        best, worst = self.best, self.worst
        if log and self.mode == "min" and min(best, worst, value) > 0:
            best, worst, value = math.log(best), math.log(worst), math.log(value)
        score = (value - worst) / (best - worst)
        return float(min(1.0, max(0.0, 1.0 - score)))


def replay_study(
    table: dict[str, Any], algorithm: str, seed: int, n_trials: int, study_id: str | None = None
) -> dict[str, Any]:
    """A study of `algorithm` (a util.search algorithm: random, tpe, gp...) over a table: trials in order, values
    from real runs."""
    objective = TableObjective(table)
    searcher = search.build(algorithm, table["search_space"], objective.mode, seed)
    trials = []
    for order in range(n_trials):
        params = searcher.suggest()
        entry = objective(params)
        searcher.observe(params, entry["objective"])
        trials.append({"order": order, **entry, "params": params})
    return {
        "study_id": study_id or f"{table['name']}-{algorithm}-{seed}",
        "task": table["task"],
        "search_space": table["search_space"],
        "algorithm": algorithm,
        "scheduler": "fifo",
        "seed": seed,
        "base": table["base"],
        "trials": trials,
    }


def write_studies(
    root: Path, out: Path, names: list[str], per_algorithm: int, n_trials: int, algorithms: tuple[str, ...]
) -> int:
    tables = load_tables(root, names)
    count = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as fh:
        for table in tables.values():
            for algorithm in algorithms:
                for seed in range(per_algorithm):
                    fh.write(json.dumps(replay_study(table, algorithm, seed, n_trials)) + "\n")
                    count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["tables", "studies"])
    parser.add_argument("--root", type=Path, default=Path("outputs/planner_dev"))
    parser.add_argument("--tasks", default="all", help="all, train, heldout, or comma-separated task names")
    parser.add_argument("--out", type=Path, default=None, help="studies: JSONL to write")
    parser.add_argument("--per-algorithm", type=int, default=30, help="studies per task and algorithm")
    parser.add_argument("--trials", type=int, default=25)
    parser.add_argument("--algorithms", default="random,tpe")
    args = parser.parse_args(argv)
    groups = {"all": list(ALL_TASKS), "train": list(TRAIN_TASKS), "heldout": list(HELDOUT_TASKS)}
    names = groups.get(args.tasks) or args.tasks.split(",")
    unknown = [n for n in names if n not in ALL_TASKS]
    if unknown:
        print(f"unknown task(s) {', '.join(unknown)}; known: {', '.join(ALL_TASKS)}", file=sys.stderr)
        return 2
    logging.getLogger("metaprogram").setLevel(logging.WARNING)
    if args.what == "tables":
        root = args.root.resolve()
        paths = Paths(data_root=str(root), model_root=str(root), cache_root=str(root), output_root=str(root))
        for name in names:
            table = build_table(name, root, paths)
            values = [e["objective"] for e in table["entries"] if e["objective"] is not None]
            print(f"{name}: {len(table['entries'])} runs, objective {min(values):.4g}..{max(values):.4g}", flush=True)
        return 0
    out = args.out or args.root / "studies.jsonl"
    if args.tasks == "all":
        names = list(TRAIN_TASKS)  # studies for training never include the held-out tasks
    n = write_studies(args.root, out, names, args.per_algorithm, args.trials, tuple(args.algorithms.split(",")))
    print(f"wrote {n} studies to {out}")
    return 0


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
