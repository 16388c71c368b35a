"""Run a suite of Ray Tune studies (configs/sweep/suite/<name>.yaml) in one Ray instance.

    python -B util/tune_suite.py train [--limit 4] [--dry-run]
    python -B util/tune_suite.py heldout

A suite names tasks (a dataset option + overrides), model families (a model option,
overrides and a search space), and which combinations to run with which search
algorithms, schedulers and seeds. Each combination is one sweep (mode tune) whose
study id starts with the suite name, so held-out tasks stay apart from training ones.
Finished studies are skipped when the suite runs again.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from util.sweep_spec import SWEEP_DIR, Sweep, SweepError, from_dict  # noqa: E402

SUITE_DIR = SWEEP_DIR / "suite"


def expand(suite: dict[str, Any], source: str) -> list[Sweep]:
    """Every (task, model, algorithm, scheduler, seed) combination of the suite as a sweep."""
    name = suite["suite"]
    tasks, models = suite["tasks"], suite["models"]
    common = suite.get("overrides", [])
    sweeps = []
    for group in suite["studies"]:
        chosen_tasks = list(tasks) if group.get("tasks", "all") == "all" else group["tasks"]
        combos = itertools.product(
            chosen_tasks, group["models"], group["algorithms"], group.get("schedulers", ["fifo"]), group["seeds"]
        )
        for task, model, algorithm, scheduler, seed in combos:
            t, m = tasks[task], models[model]
            data = {
                "name": f"{task}.{model}.{algorithm}.{scheduler}.s{seed}",
                "suite": name,
                "base": {
                    "components": {"model": m["model"], "dataset": t["dataset"], "pipeline": "execution"},
                    "overrides": [*common, *t.get("overrides", []), *m.get("overrides", [])],
                },
                "space": m["space"],
                "mode": "tune",
                "count": suite.get("count", 25),
                "seed": seed,
                "tune": {**suite.get("tune", {}), "algorithm": algorithm, "scheduler": scheduler},
            }
            sweeps.append(from_dict(data, f"{source}:{data['name']}"))
    return sweeps


def load_suite(name: str) -> list[Sweep]:
    import yaml

    path = Path(name) if Path(name).exists() else SUITE_DIR / f"{name}.yaml"
    if not path.exists():
        options = sorted(p.stem for p in SUITE_DIR.glob("*.yaml"))
        raise SweepError([f"no suite {name!r}; suites: {', '.join(options)}"])
    try:
        return expand(yaml.safe_load(path.read_text()), str(path))
    except (KeyError, TypeError) as exc:
        raise SweepError([f"malformed suite: {exc!r}"], str(path)) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="util/tune_suite.py", description=__doc__.splitlines()[0])
    parser.add_argument("suite", help="a suite in configs/sweep/suite/ (name or path)")
    parser.add_argument("--limit", type=int, help="run only the first N studies")
    parser.add_argument("--offset", type=int, default=0, help="skip the first N studies")
    parser.add_argument("--stride", type=int, default=1, help="every Nth study only (a sample across the suite)")
    parser.add_argument("--count", type=int, help="trials per study (default: the suite's)")
    parser.add_argument("--dry-run", action="store_true", help="list the studies; run nothing")
    parser.add_argument("--db", help="database file (default <output_root>/metaprogram.db)")
    parser.add_argument("--address", help="Ray cluster to join (default: a fresh local instance)")
    args = parser.parse_args(argv)

    try:
        sweeps = load_suite(args.suite)[args.offset :: args.stride]
        sweeps = sweeps[: args.limit] if args.limit else sweeps
        for sweep in sweeps:
            if args.count:
                sweep.count = args.count
            sweep.base()  # compose and validate every base before anything runs
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

    from util.tune_sweep import run_tune

    started, done = time.monotonic(), 0
    for i, sweep in enumerate(sweeps, 1):
        summary = run_tune(sweep, address=args.address, db_url=args.db)
        done += summary["complete"]
        elapsed = time.monotonic() - started
        best = summary["best"]["objective"] if summary["best"] else None
        print(
            f"[{i}/{len(sweeps)}] {summary['study_id']}: {summary['trials']} trials "
            f"({summary['failed']} failed, {summary['stopped']} stopped) best {summary['metric']}={best} "
            f"in {summary['wall_s']} s; {elapsed:.0f} s so far",
            flush=True,
        )
    print(json.dumps({"studies": len(sweeps), "complete": done, "wall_s": round(time.monotonic() - started, 1)}))
    return 0 if done == len(sweeps) else 1


if __name__ == "__main__":
    sys.exit(main())
