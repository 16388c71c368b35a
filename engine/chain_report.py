"""The quantize_eval_bench chain's picture: quality recovered against serving speed and model size.

`quality_speed.png` in the chain's run directory has two panels, recovery
(quantized over baseline on the evaluation group; the baseline is 1 by
definition) against output tokens/s under guidellm, and against the model's
size on disk. Every chain of the output root that shares this chain's
baseline evaluation (same model, tasks and evaluation settings) is drawn too,
so that all schemes tried on a model end up on one plot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

PLOT = "quality_speed.png"
SPEED = "bench/output_tokens_per_s"


def chain_point(run_dir: Path, metrics: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """What the plot needs from one chain run; None when it has no results or no baseline stage."""
    from engine.records import read_record, read_results

    stages = read_record(run_dir / "stages.json")  # damaged records warn and are skipped
    if metrics is None:
        results = read_results(run_dir / "results.json")
        if results is None or results["status"] != "completed":
            return None
        metrics = results["metrics"]
    mp = read_record(run_dir / "metaprogram.yaml")
    if not stages or mp is None:
        return None
    baseline = (
        (stages.get("evaluate_baseline") or {}).get("id") if isinstance(stages.get("evaluate_baseline"), dict) else None
    )
    quantize = (mp.get("pipeline") or {}).get("quantize") if isinstance(mp.get("pipeline"), dict) else None
    if baseline is None or "recovery/group" not in metrics or not isinstance(quantize, dict):
        return None
    args = {k: v for k, v in (quantize.get("recipe_args") or {}).items() if v is not None}
    label = quantize.get("scheme") if not quantize.get("recipe_file") else Path(quantize["recipe_file"]).stem
    if args:
        label += " (" + ", ".join(f"{k}={v}" for k, v in sorted(args.items())) + ")"
    return {
        "run_id": run_dir.name,
        "baseline": baseline,
        "label": label,
        "model": mp["model"].get("name"),
        "recovery": metrics["recovery/group"],
        "speed": metrics.get(f"quantized/{SPEED}"),
        "baseline_speed": metrics.get(f"baseline/{SPEED}"),
        "size": metrics.get("quantize/size_after_mb"),
        "baseline_size": metrics.get("quantize/size_before_mb"),
        "score": metrics.get("quantized/group/score"),
        "baseline_score": metrics.get("baseline/group/score"),
        "server": (mp["pipeline"].get("benchmark") or {}).get("server"),
    }


def sibling_points(root: Path, baseline: str, skip: str) -> list[dict[str, Any]]:
    """The other completed chains of this output root with the same baseline evaluation."""
    points = []
    runs = Path(root) / "runs"
    for run_dir in sorted(runs.iterdir()) if runs.is_dir() else []:
        if run_dir.name != skip and (run_dir / "stages.json").is_file():
            point = chain_point(run_dir)
            if point is not None and point["baseline"] == baseline:
                points.append(point)
    return points


def quality_speed_plot(run_dir: Path, root: Path, metrics: dict[str, Any] | None = None) -> Path:
    """Draw the plot for the chain in `run_dir` (its `metrics` when it is still finishing); return its path."""
    me = chain_point(run_dir, metrics)
    if me is None:
        raise ValueError(f"{run_dir} holds no completed chain with a baseline evaluation and a recovery")
    points = [me, *sibling_points(root, me["baseline"], run_dir.name)]
    _draw(points, run_dir / PLOT)
    return run_dir / PLOT


def _draw(points: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    speed = "output tokens/s (guidellm, higher is faster)"
    if any(p["server"] == "mock" for p in points):
        speed += "\nguidellm's mock server: synthetic timings, not the model's speed"
    panels = [("speed", "baseline_speed", speed)]
    panels.append(("size", "baseline_size", "model size on disk (MB)"))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5), dpi=120)
    base = points[0]
    for ax, (key, base_key, xlabel) in zip(axes, panels, strict=True):
        baseline_x = next((p[base_key] for p in points if p[base_key]), None)
        if baseline_x is not None:
            ax.scatter([baseline_x], [1.0], marker="s", s=90, color="black", zorder=4, label="baseline")
            ax.annotate("baseline", (baseline_x, 1.0), textcoords="offset points", xytext=(6, 6), fontsize=9)
        drawn = [p for p in points if p[key] is not None]
        for i, p in enumerate(drawn):
            ax.scatter(
                [p[key]],
                [p["recovery"]],
                s=80,
                zorder=5,
                edgecolor="black" if i == 0 else None,
                label=p["label"] + (" (this chain)" if p is base else ""),
            )
            ax.annotate(p["label"], (p[key], p["recovery"]), textcoords="offset points", xytext=(6, -12), fontsize=9)
        if not drawn and baseline_x is None:
            ax.text(0.5, 0.5, "not measured (run_benchmark: false)", ha="center", va="center", transform=ax.transAxes)
        ax.axhline(1.0, color="grey", linewidth=0.8, linestyle="--")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("recovery (quantized / baseline score)")
        ax.grid(True, alpha=0.3)
        ax.margins(0.15)
    axes[0].legend(fontsize=8, loc="lower left")
    score = base["baseline_score"]
    fig.suptitle(
        f"{base['model']}: quality against speed and size"
        + (f" (baseline score {score:.3f})" if isinstance(score, int | float) else "")
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
