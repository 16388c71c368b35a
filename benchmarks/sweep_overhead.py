"""Sweep overhead: wall time of N trials of known length t at concurrency c, over the ideal N*t/c.

    python -B benchmarks/sweep_overhead.py [--trials 64] [--seconds 1.0] [--concurrency 2]

Each trial is an ordinary engine run of the `sleep` pipeline (t seconds, one epoch),
so everything around the sleep (Ray, Tune, the engine's records, the database)
is overhead. Measured side by side in one run: through the Ray Tune sweeper, and
through job_launch. Figures are printed last; JSON goes to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.atomic import atomic_write  # noqa: E402  (the repository is on the path from here)

RESULTS = Path(__file__).resolve().parent / "results" / "sweep_overhead.json"


def base_overrides(seconds: float) -> list[str]:
    return [f"pipeline.seconds={seconds}", "pipeline.epochs=1"]


def sleep_sweep(name: str, trials: int, seconds: float, concurrency: int):
    from util.sweep_spec import from_dict

    return from_dict(
        {
            "name": name,
            "suite": "bench",
            "base": {
                "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "sleep"},
                "overrides": base_overrides(seconds),
            },
            # a continuous knob: every trial is a distinct metaprogram, so none is reused
            "space": {"pipeline.x": {"type": "uniform", "low": 0.0, "high": 1.0}},
            "mode": "tune",
            "count": trials,
            "seed": int(time.time()) % 100_000,
            "tune": {"algorithm": "random", "scheduler": "fifo", "concurrency": concurrency},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    n, t, c = args.trials, args.seconds, args.concurrency
    ideal = n * t / c

    out = Path(tempfile.mkdtemp(prefix="sweep_overhead_"))
    os.environ["METAPROGRAM_OUTPUT_ROOT"] = str(out)
    from job_launch.cluster import init_ray

    start = time.monotonic()
    init_ray(num_cpus=c)  # c one-CPU slots: the concurrency both ways
    ray_start = time.monotonic() - start

    from util.tune_sweep import run_tune

    # warm-up: start worker processes once, as a long sweep would have them
    run_tune(sleep_sweep("warmup", c, 0.0, c))

    sweep = sleep_sweep("tune", n, t, c)
    sweep.base()
    start = time.monotonic()
    summary = run_tune(sweep)
    tune_wall = time.monotonic() - start
    assert summary["completed"] == n, summary

    from job_launch.launcher import Job, launch

    points = sleep_sweep("launch", n, t, c).metaprograms()
    _, paths = sweep.base()
    jobs = [Job(mp, f"sleep[{i}]") for i, (_, mp) in enumerate(points)]
    warm = [Job(mp, f"warmup[{i}]") for i, (_, mp) in enumerate(sleep_sweep("warm", c, 0.0, c).metaprograms())]
    launch(warm, paths, progress=False)  # the same warm-up: worker processes started, the engine imported
    start = time.monotonic()
    report = launch(jobs, paths, progress=False)
    launch_wall = time.monotonic() - start
    assert report["completed"] == len(jobs), report

    figures = {
        "trials": n,
        "seconds_per_trial": t,
        "concurrency": c,
        "ideal_s": ideal,
        "ray_init_s": round(ray_start, 2),
        "tune_wall_s": round(tune_wall, 2),
        "tune_ratio": round(tune_wall / ideal, 3),
        "job_launch_jobs": len(jobs),
        "job_launch_wall_s": round(launch_wall, 2),
        "job_launch_ratio": round(launch_wall / (len(jobs) * t / c), 3),
        "load_average": os.getloadavg()[0],
    }
    atomic_write(RESULTS, json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))
    print(f"tune: {tune_wall:.1f} s for {n} x {t} s trials at concurrency {c} (ideal {ideal:.1f} s)")
    print(f"job_launch: {launch_wall:.1f} s for {len(jobs)} jobs")
    print(f"ratio tune / ideal: {figures['tune_ratio']:.3f}")
    print(f"ratio job_launch / ideal: {figures['job_launch_ratio']:.3f}")


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
