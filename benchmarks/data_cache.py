"""Data cache benchmark: a transform-heavy DAG (load, split and tokenise tens of thousands of texts) run
cold (empty cache) and then warm (every node cached), side by side in one process.

Run:  python -B benchmarks/data_cache.py [--rows 40000] [--warm-runs 3]
Prints the timings, then the warm-over-cold speed-up last; writes benchmarks/results/data_cache.json.
Libraries are imported before timing, so the ratio compares work with cache reads, not import times.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

from _common import REPO, save, table


def dag(rows_file: str, max_length: int) -> dict:
    return {
        "name": "dag",
        "nodes": [
            {"name": "raw", "transform": "jsonl", "params": {"file": rows_file, "text": "text", "target": "label"}},
            {"name": "parts", "transform": "split", "inputs": ["raw"], "params": {"val_fraction": 0.1}},
            {"name": "balanced", "transform": "balance", "inputs": ["parts"]},
            {
                "name": "tokens",
                "transform": "tokenize",
                "inputs": ["balanced"],
                "params": {"vocab_size": 4000, "max_length": max_length},
            },
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--warm-runs", type=int, default=3)
    args = parser.parse_args()

    import numpy as np
    import sklearn.model_selection  # noqa: F401  (imported before timing)
    import tokenizers  # noqa: F401

    from engine.data_pipe.dag import run_dag
    from engine.paths import Paths
    from engine.schema.data_dag import DagDatasetConfig
    from util.external_data_import.text_reviews import write_reviews

    logging.getLogger("metaprogram").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_reviews(root / "data" / "reviews.jsonl", rows=args.rows)
        paths = Paths(
            data_root=str(root / "data"),
            model_root=str(root / "models"),
            cache_root=str(root / "cache"),
            output_root=str(root / "out"),
        )
        cfg = DagDatasetConfig.model_validate(dag("reviews.jsonl", args.max_length))

        started = time.perf_counter()
        cold, cold_reports = run_dag(cfg, paths)
        cold_s = time.perf_counter() - started
        warm_times = []
        for _ in range(args.warm_runs):
            started = time.perf_counter()
            warm, warm_reports = run_dag(cfg, paths)
            warm_times.append(time.perf_counter() - started)
        assert all(np.array_equal(cold.arrays[k], warm.arrays[k]) for k in cold.arrays), "warm data differs"
        assert warm_reports[-1].status == "hit"
        warm_s = statistics.median(warm_times)
        cache_mb = sum(p.stat().st_size for p in (root / "cache").rglob("*.mpc")) / 2**20

    result = {
        "rows": args.rows,
        "max_length": args.max_length,
        "cold_s": round(cold_s, 4),
        "warm_s_median": round(warm_s, 4),
        "warm_runs": [round(t, 4) for t in warm_times],
        "cold_nodes": {r.name: [r.status, round(r.seconds, 4)] for r in cold_reports},
        "warm_nodes": {r.name: [r.status, round(r.seconds, 4)] for r in warm_reports},
        "cache_mb": round(cache_mb, 2),
        "speedup_warm_over_cold": round(cold_s / warm_s, 1),
    }
    out = save("data_cache", result)
    rows = [("cold", n, s, f"{t:.4f}") for n, (s, t) in result["cold_nodes"].items()]
    rows += [("warm", n, s, f"{t:.4f}") for n, (s, t) in result["warm_nodes"].items()]
    print(table(rows, ("run", "node", "status", "seconds")))
    print(f"{args.rows} texts; cache {cache_mb:.1f} MiB; results in {out.relative_to(REPO)}")
    print(f"cold run: {cold_s:.3f} s   warm run (median of {args.warm_runs}): {warm_s:.4f} s")
    print(f"warm over cold: {cold_s / warm_s:.1f}x faster")


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
