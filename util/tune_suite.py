"""Run a suite of Ray Tune studies (configs/sweep/suite/<name>.yaml) in one Ray instance.

    python -B util/tune_suite.py train [--limit 4] [--dry-run]
    python -B util/tune_suite.py heldout --planner-checkpoint outputs/planner/ckpt
    python -B util/tune_suite.py corpus --stride 10            # a sample across a large suite

A suite names tasks (a dataset option + overrides) and task families (N tasks drawn from ranges
of dataset settings), model families (a model option, overrides and a search space), and which
combinations to run with which search algorithms, schedulers and seeds. Each combination is one
sweep (mode tune) whose study id starts with the suite name, so held-out tasks stay apart from
training ones. The file is checked against a schema first: every problem at once, with key paths
and the nearest valid names, exit status 2.

FIFO studies (any algorithm, no time budget) run many at a time, as one Tune experiment (util/tune_batch.py:
each Tune trial carries a pack of engine trials; `--batch-size N` splits the suite into experiments of N
studies); the others (ASHA, time budgets) one by one. Finished studies are skipped when the suite runs again;
a study that fails is recorded as failed and the suite goes on.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import random
import sys
from pathlib import Path
from typing import Any, Literal

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402
from pydantic import NonNegativeInt, PositiveInt, ValidationError, field_validator  # noqa: E402

from engine import strict_yaml  # noqa: E402
from engine.compose import load  # noqa: E402
from engine.errors import did_you_mean, error_lines  # noqa: E402
from engine.schema.base import Schema  # noqa: E402
from util.search_space import sample, space_errors  # noqa: E402
from util.study_runner import run_studies  # noqa: E402
from util.sweep_spec import SWEEP_DIR, Sweep, SweepError, from_dict, known_algorithm  # noqa: E402

SUITE_DIR = SWEEP_DIR / "suite"


class SuiteTask(Schema):
    dataset: str  # a dataset option, e.g. classification/iris
    overrides: list[str] = []


class TaskFamily(Schema):
    """`count` tasks named <family>_<i>, each drawing its dataset settings from `draw` (a search space)."""

    dataset: str
    count: PositiveInt
    seed: NonNegativeInt = 0
    overrides: list[str] = []
    draw: dict[str, Any]


class SuiteModel(Schema):
    model: str  # a model option, e.g. classic/mlp
    overrides: list[str] = []
    space: dict[str, Any]


class StudyGroup(Schema):
    tasks: Literal["all"] | list[str] = "all"  # task or family names
    models: list[str]
    algorithms: list[str]  # registered search algorithms (util/search/__init__.py)
    schedulers: list[Literal["fifo", "asha"]] = ["fifo"]
    seeds: list[NonNegativeInt]
    count: PositiveInt | None = None  # trials per study (default: the suite's)

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        return [known_algorithm(name) for name in value]


class SuiteFile(Schema):
    suite: str
    count: PositiveInt = 25
    overrides: list[str] = []  # applied to every base
    tune: dict[str, Any] = {}  # tune settings of every study (checked as the sweep file's `tune`)
    tasks: dict[str, SuiteTask] = {}
    families: dict[str, TaskFamily] = {}
    models: dict[str, SuiteModel]
    studies: list[StudyGroup]


def check_suite(data: Any) -> tuple[SuiteFile | None, list[str]]:
    """The suite and every problem in it (schema, spaces, cross references), all at once."""
    if not isinstance(data, dict):
        return None, ["expected a mapping with suite, tasks, models, studies"]
    suite, errors = None, []
    try:
        suite = SuiteFile.model_validate(data)
    except ValidationError as exc:
        errors += error_lines(exc, SuiteFile)
    models, families = _mapping(data.get("models")), _mapping(data.get("families"))
    for name, model in models.items():
        errors += space_errors(_mapping(model).get("space"), f"models.{name}.space")
    for name, family in families.items():
        errors += space_errors(_mapping(family).get("draw"), f"families.{name}.draw")
    tasks = _mapping(data.get("tasks"))
    errors += [f"families.{name}: a task has the same name" for name in sorted(set(tasks) & set(families))]
    task_names = [*tasks, *families]
    for i, group in enumerate(data.get("studies") or []):
        group = _mapping(group)
        chosen = group.get("tasks", "all")
        for name in chosen if isinstance(chosen, list) else []:
            if name not in task_names:
                errors.append(f"studies.{i}.tasks: unknown task {name!r}; {did_you_mean(str(name), task_names)}")
        for name in group.get("models") or []:
            if name not in models:
                errors.append(f"studies.{i}.models: unknown model {name!r}; {did_you_mean(str(name), list(models))}")
    return suite, errors


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def family_tasks(name: str, family: TaskFamily) -> dict[str, SuiteTask]:
    """The family's tasks: settings drawn with util.search_space.sample, the same draw every time."""
    rng = random.Random(family.seed)
    width = len(str(family.count - 1))
    tasks = {}
    for i in range(family.count):
        drawn = [f"{key}={_value(value)}" for key, value in sample(family.draw, rng).items()]
        tasks[f"{name}_{i:0{width}d}"] = SuiteTask(dataset=family.dataset, overrides=[*family.overrides, *drawn])
    return tasks


def _value(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else json.dumps(value) if value is None else str(value)


def expand(data: dict[str, Any], source: str) -> list[Sweep]:
    """Every (task, model, algorithm, scheduler, seed) combination of the suite as a sweep."""
    suite, errors = check_suite(data)
    if errors:
        raise SweepError(errors, source)
    tasks = dict(suite.tasks)
    members: dict[str, list[str]] = {name: [name] for name in suite.tasks}
    for name, family in suite.families.items():
        drawn = family_tasks(name, family)
        tasks.update(drawn)
        members[name] = list(drawn)
    sweeps, errors = [], []
    for group in suite.studies:
        chosen = list(tasks) if group.tasks == "all" else [t for name in group.tasks for t in members[name]]
        combos = itertools.product(chosen, group.models, group.algorithms, group.schedulers, group.seeds)
        for task, model, algorithm, scheduler, seed in combos:
            t, m = tasks[task], suite.models[model]
            data = {
                "name": f"{task}.{model}.{algorithm}.{scheduler}.s{seed}",
                "suite": suite.suite,
                "base": {
                    "components": {"model": m.model, "dataset": t.dataset, "pipeline": "execution"},
                    "overrides": [*suite.overrides, *t.overrides, *m.overrides],
                },
                "space": m.space,
                "mode": "tune",
                "count": group.count or suite.count,
                "seed": seed,
                "tune": {**suite.tune, "algorithm": algorithm, "scheduler": scheduler},
            }
            try:
                sweeps.append(from_dict(data, f"{source}:{data['name']}"))
            except SweepError as exc:
                errors += [f"{data['name']}: {e}" for e in exc.errors]
    if errors:
        raise SweepError(sorted(set(errors)), source)
    return sweeps


def load_suite(name: str, tune: dict[str, Any] | None = None) -> list[Sweep]:
    """The suite's sweeps; `tune` settings (e.g. planner_checkpoint) are merged into the suite's own."""
    path = Path(name) if Path(name).exists() else SUITE_DIR / f"{name}.yaml"
    if not path.exists():
        options = sorted(p.stem for p in SUITE_DIR.glob("*.yaml"))
        raise SweepError([f"no suite {name!r}; {did_you_mean(name, options)}"])
    try:
        data = strict_yaml.load_file(path)
    except OSError as exc:
        raise SweepError([f"cannot read it: {exc.strerror or exc}"], str(path)) from None
    except yaml.YAMLError as exc:
        raise SweepError([str(exc).removeprefix(f"{path}: ")], str(path)) from None
    if tune and isinstance(data, dict):
        data = {**data, "tune": {**(data.get("tune") or {}), **tune}}
    return expand(data, str(path))


def compose_bases(sweeps: list[Sweep]) -> None:
    """Compose and validate every base before anything runs; studies of one task and model compose once."""
    cached = functools.lru_cache(maxsize=None)(lambda overrides, config: load(list(overrides), config))
    for sweep in sweeps:
        overrides, config = sweep.compose_args()
        composed = cached(tuple(overrides), config)
        sweep._base = (composed.metaprogram, composed.paths)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="util/tune_suite.py", description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="a suite in configs/sweep/suite/ (name or path)")
    parser.add_argument("--limit", type=int, help="run only the first N studies")
    parser.add_argument("--offset", type=int, default=0, help="skip the first N studies")
    parser.add_argument("--stride", type=int, default=1, help="every Nth study only (a sample across the suite)")
    parser.add_argument("--count", type=int, help="trials per study (default: the suite's)")
    parser.add_argument("--planner-checkpoint", help="tune.planner_checkpoint of the planner studies")
    parser.add_argument("--batch-size", type=int, help="studies per Tune experiment (FIFO studies; default: all)")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, help="Ray CPUs per Tune trial of a batch")
    parser.add_argument("--sequential", action="store_true", help="one Tune experiment per study (no batches)")
    parser.add_argument("--dry-run", action="store_true", help="list the studies; run nothing")
    parser.add_argument("--db", help="database file (default <output_root>/metaprogram.db)")
    parser.add_argument("--address", help="Ray cluster to join (default: a fresh local instance)")
    args = parser.parse_args(argv)

    tune = {"planner_checkpoint": args.planner_checkpoint} if args.planner_checkpoint else None
    try:
        sweeps = load_suite(args.suite, tune)[args.offset :: args.stride]
        sweeps = sweeps[: args.limit] if args.limit else sweeps
        for sweep in sweeps:
            if args.count:
                sweep.count = args.count
        compose_bases(sweeps)
    except SweepError as exc:
        print(f"{exc}\nNothing was run.", file=sys.stderr)
        return 2
    except Exception as exc:  # a MetaprogramError from a base
        print(f"{exc}\nNothing was run.", file=sys.stderr)
        return 2
    if args.dry_run:
        for sweep in sweeps:
            print(sweep.study_id)
        print(f"{len(sweeps)} studies of {sweeps[0].count if sweeps else 0} trials")
        return 0
    if not sweeps:
        print("no studies selected")
        return 0
    counts = run_studies(
        sweeps,
        address=args.address,
        db_url=args.db,
        batch_size=args.batch_size,
        cpus_per_trial=args.cpus_per_trial,
        batch=not args.sequential,
        log=lambda line: print(line, flush=True),
    )
    print(json.dumps(counts))
    return 0 if counts["failed"] == 0 and counts["complete"] == counts["studies"] else 1


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log
    from util.search_space import SpaceError
    from util.sweep_spec import SweepError

    sys.exit(guarded(main, expected=(SweepError, SpaceError)))
