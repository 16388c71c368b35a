"""Data-generation throughput: trials/s of the suite runner over the in-process floor, as a ratio.

    python -B benchmarks/data_generation.py [--studies 32] [--count 25] [--sequential]

A fixed sub-suite: the first `--studies` FIFO studies of configs/sweep/suite/train.yaml (every
`--stride`th), `--count` trials each. 32 studies (800 trials), because a suite pays its workers'
start-up once and a real one has hundreds of studies: with 8 the start-up is most of the run.
Measured side by side in one run, each in a fresh output root (so no run is reused):

- batched: util/tune_suite.py's default path, the studies as one Tune experiment whose trials carry
  packs of engine trials (util/tune_batch.py), with `--cpus-per-trial` CPUs a Tune trial;
- sequential (with --sequential): one Tune experiment per study, a Tune trial per engine trial;
- the floor: the very same trials (same params) run one after another in this process through
  engine.runner.execute; floor trials/s = CPUs / mean in-process seconds of a trial.

Ray start-up is outside every timing (a long suite pays it once). Printed last, two ratios of the
batched path to the floor: over the whole run, and once the workers have started ("workers
started": from the moment the last worker returned its first result, which includes its own
imports of torch and the engine, about 7 s on an idle machine and 20-50 s on a loaded one; a suite
pays that once, in its one experiment). Target: >= 0.5. JSON goes to
benchmarks/results/data_generation.json, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

RESULTS = Path(__file__).resolve().parent / "results" / "data_generation.json"


def sub_suite(out: Path, studies: int, stride: int, count: int) -> list[Any]:
    """The benchmark's studies, composed with their output root in `out`."""
    os.environ["METAPROGRAM_OUTPUT_ROOT"] = str(out)
    from util.tune_suite import compose_bases, load_suite

    sweeps = [s for s in load_suite("train")[::stride] if s.batchable][:studies]
    for sweep in sweeps:
        sweep.count = count
    compose_bases(sweeps)
    return sweeps


def timed_suite(sweeps: list[Any], **kwargs: Any) -> tuple[float, dict[str, Any]]:
    from util.study_runner import run_studies

    started = time.monotonic()
    counts = run_studies(sweeps, log=lambda line: None, **kwargs)
    wall = time.monotonic() - started
    if counts["failed"]:
        raise SystemExit(f"a study failed in the benchmark: {counts}")
    return wall, counts


def recorded_trials(sweeps: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
    """(sweep, params) of every trial the database holds for the sweeps."""
    from database.store import Database, default_url

    out = []
    with Database(default_url(sweeps[0].base()[1])) as db:
        for sweep in sweeps:
            study = db.study(sweep.study_id)
            assert study and study["status"] == "complete", sweep.study_id
            out += [(sweep, t["params"]) for t in db.trials(sweep.study_id)]
    return out


def floor_seconds(trials: list[tuple[Any, dict[str, Any]]], out: Path) -> list[float]:
    """In-process wall seconds of each trial (engine.runner.execute, fresh run directories)."""
    import logging

    from engine.paths import Paths
    from engine.runner import LOGGER_NAME, RunFailed, execute
    from util.sweep_spec import build_point

    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)
    seconds = []
    for sweep, params in trials:
        base, paths = sweep.base()
        paths = Paths(**{**paths.model_dump(), "output_root": str(out)})
        mp = build_point(base.canonical, params)
        started = time.perf_counter()
        try:
            execute(mp, paths)
        except RunFailed:
            pass  # a diverged trial costs what it cost, as in the suite
        seconds.append(time.perf_counter() - started)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=32)
    parser.add_argument("--stride", type=int, default=3, help="every Nth study of the train suite")
    parser.add_argument("--count", type=int, default=25, help="trials per study")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0)
    parser.add_argument("--sequential", action="store_true", help="also time one Tune experiment per study")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cpus = os.cpu_count() or 1
    scratch = Path(tempfile.mkdtemp(prefix="data_generation_"))

    from job_launch.cluster import init_ray

    started = time.monotonic()
    init_ray(None)
    ray_start = time.monotonic() - started
    # warm-up: worker processes started and the engine imported, as in a long suite
    timed_suite(sub_suite(scratch / "warmup", 1, 1, 2))

    sweeps = sub_suite(scratch / "batched", args.studies, args.stride, args.count)
    batched_wall, counts = timed_suite(sweeps, cpus_per_trial=args.cpus_per_trial)
    n = counts["trials"]
    trials = recorded_trials(sweeps)
    # the workers' start-up (a fresh process each, importing torch and the engine) is paid once per suite:
    # the steady rate leaves it out, as Ray's start-up is left out of both
    ready_s, ready_n = counts.get("ready_s", 0.0), counts.get("ready_trials", 0)
    figures: dict[str, Any] = {
        "studies": len(sweeps),
        "trials": n,
        "cpus": cpus,
        "cpus_per_trial": args.cpus_per_trial,
        "ray_init_s": round(ray_start, 2),
        "batched_wall_s": round(batched_wall, 2),
        "batched_trials_per_s": round(n / batched_wall, 2),
        "workers_ready_s": round(ready_s, 2),
        "steady_trials_per_s": round((n - ready_n) / max(batched_wall - ready_s, 1e-9), 2),
    }
    if args.sequential:
        seq_wall, seq_counts = timed_suite(
            sub_suite(scratch / "sequential", args.studies, args.stride, args.count), batch=False
        )
        seq_n = seq_counts["trials"]
        figures.update(sequential_wall_s=round(seq_wall, 2), sequential_trials_per_s=round(seq_n / seq_wall, 2))
    import ray

    ray.shutdown()  # the floor runs alone
    seconds = floor_seconds(trials, scratch / "floor")
    shutil.rmtree(scratch, ignore_errors=True)  # every run of the benchmark's suites and floor (~100 MB)
    mean_s = statistics.fmean(seconds)
    floor = cpus / mean_s
    figures.update(
        floor_trial_mean_s=round(mean_s, 4),
        floor_trials_per_s=round(floor, 2),
        batched_ratio=round(figures["batched_trials_per_s"] / floor, 3),
        steady_ratio=round(figures["steady_trials_per_s"] / floor, 3),
        load_average=[round(x, 2) for x in os.getloadavg()],
    )
    if args.sequential:
        figures["sequential_ratio"] = round(figures["sequential_trials_per_s"] / floor, 3)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"{len(sweeps)} studies, {n} trials; floor {floor:.1f} trials/s ({cpus} CPUs / {mean_s:.3f} s a trial)")
    if args.sequential:
        print(f"ratio sequential / floor: {figures['sequential_ratio']:.3f}")
    print(f"ratio batched / floor, whole run: {figures['batched_ratio']:.3f} (workers ready after {ready_s:.1f} s)")
    print(f"ratio batched / floor, workers started: {figures['steady_ratio']:.3f}  (target >= 0.5)")


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
