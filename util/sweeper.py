"""Turn a sweep config into many metaprograms: grid, random, or a Ray Tune search.

    python -B util/sweeper.py example_grid --dry-run          # how many, and the first few
    python -B util/sweeper.py example_grid                    # write them under <output_root>/sweeps/<study>/
    python -B util/sweeper.py example_grid --launch           # ... and run them with job_launch on Ray
    python -B util/sweeper.py example_tune tune.scheduler=asha count=12
    python -B util/sweeper.py example_tune tune.resume=true   # continue an interrupted tune sweep

A sweep config lives in configs/sweep/<name>.yaml (or give a path); `key=value`
arguments override it. Every point is validated before anything runs; a bad
config exits with status 2 and writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import yaml  # noqa: E402

from engine.records import atomic_write  # noqa: E402
from job_launch.launcher import Rejected, launch_sweep  # noqa: E402
from util.sweep_spec import Sweep, SweepError, check_base, load_sweep  # noqa: E402
from util.tune_sweep import run_tune  # noqa: E402

EXIT_INVALID = 2
SHOWN = 5


def write_points(sweep: Sweep, out: Path | None = None) -> tuple[Path, list[Path]]:
    """Write each distinct metaprogram as YAML; an index.jsonl keeps their order and parameters."""
    _, paths = sweep.base()
    folder = out or paths.root("output_root") / "sweeps" / sweep.study_id
    files, index = [], []
    for order, (params, mp) in enumerate(sweep.metaprograms()):
        path = folder / f"{order:05d}-{mp.id}.yaml"
        atomic_write(path, yaml.safe_dump(mp.canonical, sort_keys=True))
        files.append(path)
        index.append(json.dumps({"order": order, "id": mp.id, "params": params, "file": path.name}, sort_keys=True))
    atomic_write(folder / "index.jsonl", "".join(line + "\n" for line in index))
    return folder, files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="util/sweeper.py", description="a sweep config -> many metaprograms")
    parser.add_argument("sweep", help="a config in configs/sweep/ (name or path)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides of the sweep config")
    parser.add_argument("--dry-run", action="store_true", help="print how many and the first few; run nothing")
    parser.add_argument("--launch", action="store_true", help="grid/random: run the metaprograms with job_launch")
    parser.add_argument("--out", type=Path, help="grid/random: folder for the metaprogram files")
    parser.add_argument("--address", help="Ray cluster to join (default: start a local one)")
    parser.add_argument("--db", help="database file (default <output_root>/metaprogram.db)")
    args = parser.parse_intermixed_args(argv)

    try:
        sweep = load_sweep(args.sweep, args.overrides)
        check_base(sweep)
        if sweep.mode != "tune":
            points = sweep.metaprograms()
    except SweepError as exc:
        print(f"{exc}\nNothing was run or written.", file=sys.stderr)
        return EXIT_INVALID

    if sweep.mode == "tune":
        if args.dry_run:
            mp, _ = sweep.base()
            print(f"tune sweep {sweep.study_id}: {sweep.count} trials, {sweep.tune.algorithm}/{sweep.tune.scheduler}")
            objective = sweep.objective.to_dict() if sweep.objective else mp.objective()  # the sweep's own first
            print(f"base {mp.id}; objective {objective}; space: {json.dumps(sweep.space, sort_keys=True)}")
            return 0
        summary = run_tune(sweep, address=args.address, db_url=args.db)
        print(json.dumps(summary, indent=2, sort_keys=True, default=str))
        return 0 if summary["complete"] else 1

    if args.dry_run:
        print(f"{len(points)} distinct metaprograms ({sweep.mode}, study {sweep.study_id})")
        for params, mp in points[:SHOWN]:
            print(f"  {mp.id}  {json.dumps(params, sort_keys=True)}")
        if len(points) > SHOWN:
            print(f"  ... and {len(points) - SHOWN} more")
        return 0
    folder, files = write_points(sweep, args.out)
    print(f"wrote {len(files)} distinct metaprograms to {folder}")
    if not args.launch:
        return 0
    try:
        report = launch_sweep(sweep, points, address=args.address, db_url=args.db)
    except Rejected as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps({k: v for k, v in report.items() if k != "outcomes"}, indent=2, sort_keys=True))
    return 0 if report["failed"] == 0 else 1


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log
    from util.search_space import SpaceError
    from util.sweep_spec import SweepError

    sys.exit(guarded(main, expected=(SweepError, SpaceError)))
