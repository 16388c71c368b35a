"""Composition: seconds to compose and validate one metaprogram; files per second through engine.validate.

    python -B benchmarks/compose.py [--files 1000] [--repeats 5]

Three figures, measured in one run:
- the wall time of `run_metaprogram.py --config-name=metaprogram/example dry_run=true`, the whole command
  a user types (Python start-up, Hydra, validation; target < 1 s);
- compose + validate in a warm process (Hydra's compose API), per metaprogram (target < 0.5 s);
  both also in CPU seconds, which a machine shared with other work leaves intact;
- `python -m engine.validate` over many distinct metaprogram files, files per second including start-up
  (target >= 200/s).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _common import REPO, save, table


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def dry_run_seconds(repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each whole command (CPU time is what a loaded, shared machine leaves intact)."""
    command = [
        sys.executable,
        "-B",
        str(REPO / "run_metaprogram.py"),
        "--config-name=metaprogram/example",
        "dry_run=true",
    ]
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), _children_cpu()
        subprocess.run(command, check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - start_cpu)
    return times, cpu


def warm_compose_seconds(n: int) -> tuple[float, float]:
    """Wall and CPU seconds per compose + validate of one metaprogram in a warm process."""
    from engine.compose import load

    load([], config_name="metaprogram/example")  # Hydra's first initialisation
    start, start_cpu = time.perf_counter(), time.process_time()
    for i in range(n):
        load([f"model.hidden={16 + i}"], config_name="metaprogram/example")
    return (time.perf_counter() - start) / n, (time.process_time() - start_cpu) / n


def write_files(folder: Path, count: int) -> list[Path]:
    rng = random.Random(0)
    paths = []
    for i in range(count):
        raw = {
            "model": {"name": rng.choice(["mlp", "cnn"]), "hidden": rng.randint(8, 512)},
            "dataset": {"name": rng.choice(["digits", "iris", "wine"])},
            "pipeline": {
                "name": "execution",
                "epochs": rng.randint(1, 50),
                "optim": {"name": rng.choice(["sgd", "adam", "adamw"]), "lr": 10 ** rng.uniform(-5, -1)},
            },
            "seed": i,
        }
        path = folder / f"mp_{i:05d}.yaml"
        path.write_text(yaml.safe_dump(raw))
        paths.append(path)
    return paths


def bulk_files_per_second(count: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        files = write_files(Path(tmp), count)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "engine.validate", *map(str, files)], capture_output=True, text=True, cwd=REPO
        )
        seconds = time.perf_counter() - start
    ok = sum(line.startswith("ok ") for line in result.stdout.splitlines())
    return count / seconds, ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    dry, dry_cpu = dry_run_seconds(args.repeats)
    warm, warm_cpu = warm_compose_seconds(20)
    per_second, ok = bulk_files_per_second(args.files)
    figures = {
        "dry_run_wall_s_median": statistics.median(dry),
        "dry_run_wall_s_all": dry,
        "dry_run_cpu_s_median": statistics.median(dry_cpu),
        "warm_compose_validate_s": warm,
        "warm_compose_validate_cpu_s": warm_cpu,
        "validate_files_per_s": per_second,
        "validate_files": args.files,
        "validate_files_ok": ok,
    }
    path = save("compose", figures)
    print(f"\nresults: {path}")
    print(
        table(
            [
                ("dry_run=true, whole command (s)", f"{statistics.median(dry):.3f}", "< 1 s"),
                ("dry_run=true, whole command (CPU s)", f"{statistics.median(dry_cpu):.3f}", "< 1 s"),
                ("compose + validate, warm process (s)", f"{warm:.4f}", "< 0.5 s"),
                ("compose + validate, warm process (CPU s)", f"{warm_cpu:.4f}", "< 0.5 s"),
                (f"engine.validate files/s ({ok}/{args.files} ok)", f"{per_second:.0f}", ">= 200"),
            ],
            ("figure", "measured", "target"),
        )
    )


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
