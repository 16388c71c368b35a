"""Data-parallel training on Ray Train: 2 CPU workers' training throughput over one process, same global batch.

    python -B benchmarks/distributed.py [--repeats 3] [--epochs 6] [--workers 2]

The same metaprogram (an MLP on 40,000 synthetic samples, global batch 256) runs as one process
(`pipeline.distributed.workers=1`) and on Ray Train with N workers of 1 CPU each (one Ray instance, started
once, as job_launch starts it), alternating. Throughput counts training samples per second over epochs
2..N (epoch 1 holds start-up), from the epoch ends the run reports (worker 0's clock for the workers). Every
worker evaluates the whole validation split each epoch, as the single process does. On a 2-core machine this
is bounded by the cores (and by anything else running): it checks that nothing serialises the workers, it
is not a speed claim; the figure is the median of the pairs' ratios with the lowest and highest.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from _common import execution_pipeline, save, table

from engine.data_pipe import build_splits
from engine.metaprogram import validate
from engine.paths import Paths
from engine.runner import execute

N_SAMPLES = 40000


def metaprogram(workers: int, epochs: int, batch_size: int):
    pipeline = execution_pipeline(epochs, batch_size, distributed={"workers": workers, "cpus_per_worker": 1})
    dataset = {"name": "synthetic_classification", "n_samples": N_SAMPLES, "n_features": 64, "n_informative": 16}
    return validate({"model": {"name": "mlp", "hidden": 256, "layers": 2}, "dataset": dataset, "pipeline": pipeline},
                    trusted=True)  # fmt: skip


def throughput(mp, out: str, clock_key: str | None) -> float:
    stamps: list[float] = []
    paths = Paths(data_root="data", model_root="models", cache_root=".cache", output_root=out)
    report = lambda m: stamps.append(m[clock_key] if clock_key else time.time())  # noqa: E731
    results = execute(mp, paths, force=True, report=report)
    train = len(build_splits(mp.dataset, paths).train)  # cached by the run
    assert results["metrics"]["epochs"] == len(stamps)
    return (len(stamps) - 1) * train / (stamps[-1] - stamps[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()
    from job_launch.cluster import init_ray

    init_ray(num_cpus=args.workers)  # once, for every distributed run (each would otherwise start its own)
    single, parallel = (
        metaprogram(1, args.epochs, args.batch_size),
        metaprogram(args.workers, args.epochs, args.batch_size),
    )
    ones, many = [], []
    with tempfile.TemporaryDirectory() as out:
        for repeat in range(args.repeats):
            pair = [lambda: ones.append(throughput(single, out, None)),
                    lambda: many.append(throughput(parallel, out, "worker/time_s"))]  # fmt: skip
            for run in pair if repeat % 2 == 0 else pair[::-1]:  # take turns going first
                run()
    ratios = [m / o for m, o in zip(many, ones, strict=True)]
    figures = {
        "workers": args.workers,
        "single_samples_per_s": statistics.median(ones),
        "distributed_samples_per_s": statistics.median(many),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "ratios_per_repeat": ratios,
        "global_batch": args.batch_size,
        "epochs": args.epochs,
    }
    path = save("distributed", figures)
    print(f"\nresults: {path}")
    header = ("workers", "1 process samples/s", f"{args.workers} workers samples/s", "ratio min / median / max")
    spread = f"{min(ratios):.2f} / {statistics.median(ratios):.2f} / {max(ratios):.2f}"
    print(table([(args.workers, f"{figures['single_samples_per_s']:,.0f}",
                  f"{figures['distributed_samples_per_s']:,.0f}", spread)], header))  # fmt: skip


if __name__ == "__main__":
    main()
