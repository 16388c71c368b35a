"""Planner benchmark: normalised regret at 5, 10 and 25 trials on held-out tasks.

    python -B benchmarks/planner.py                                   # table lookups (below), the shipped planner
    python -B benchmarks/planner.py --real                            # real Ray Tune studies, the shipped planner
    python -B benchmarks/planner.py --real --checkpoint outputs/planner/ckpt   # another planner
    python -B benchmarks/planner.py --real --baselines-only           # the baselines and the reference only
    python -B benchmarks/planner.py --real --evaluate-only            # judge the studies complete so far

`--real`: planner/heldout_eval.py. Real Tune studies on configs/sweep/suite/heldout.yaml (8 tasks:
a local CSV, digits as features and a generated family the corpus never draws from among them; 3
spaces, one with keys the corpus never holds): planner+EI vs random, TPE, multivariate TPE, GP and
the corpus's portfolio, `--count` trials, `--seeds` seeds, regret normalised per task and space over
everything observed plus a dense random reference; wins, losses and paired one-sided Wilcoxon
p-values, for all pairs and apart for seen and unseen spaces. Studies are kept in the database and
reused. Knobs: --models (search spaces of heldout.yaml), --tasks, --baselines, --reference-count.
Both modes: -k (candidates per proposal), --early-k (at most this many until the study has 5
trials), --prior (the first trials from the corpus's portfolio), --acquisition, --local-model
(gp: the GP on each study's own trials sharpens EI; none: the planner's own predictions alone).

Held-out tasks (planner/dev_data.py HELDOUT_TASKS: data sets and generator settings never in
the training studies) x seeds. Methods: the planner sampling alone (imitation), the planner
with acquisition (K samples, pick by expected improvement over its own predicted objective),
random search (without replacement), Optuna TPE, multivariate TPE and GP, and the portfolio.

How this is feasible on a CPU: the search space is discrete (96 points), and each held-out
task's objective was computed at every point once, with real runs through
`engine.runner.execute` (`python -m planner.dev_data tables`). Searchers are then compared by
looking their proposals up in that table, so a 25-trial search costs milliseconds plus the
searcher's own time. The table is exhaustive, so the "best known" value is the best of the
whole space. Regret = 1 - (best so far - worst) / (best - worst), per task.

Every planner proposal is validated as an untrusted metaprogram before its lookup; the share
rejected is reported. Writes benchmarks/results/planner.json and planner_regret.png; prints the
table, the paired Wilcoxon p-values, and the regret ratios last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.atomic import atomic_write  # noqa: E402
from planner.dev_data import HELDOUT_TASKS, TableObjective, load_tables  # noqa: E402
from planner.heldout_eval import BASELINES  # noqa: E402
from planner.proposal_settings import ProposalSettings  # noqa: E402
from util import search  # noqa: E402

METHODS = ("planner", "planner+acq", "random", "tpe", "tpe_multivariate", "gp", "portfolio")
# --real --versus: the planner with parts of its defaults off, judged beside it as methods of their own
VARIANTS = {
    "planner_no_prior": {"prior": 0, "early_candidates": None, "neighbours": 0},  # as it was before the prior
    "planner_no_neighbours": {"neighbours": 0},  # as it shipped first
}


class PlannerSearcher:
    """The planner behind the suggest / observe interface of util.search (over a table, without a sweep)."""

    def __init__(self, planner, table: dict[str, Any], settings: ProposalSettings):
        self.planner, self.settings = planner, settings
        self.study = {
            "task": table["task"],
            "search_space": table["search_space"],
            "base": table["base"],
            "algorithm": "planner",
            "trials": [],
        }

    def suggest(self) -> dict[str, Any]:
        params, mp, _ = self.planner.suggest(self.study, self.settings)
        assert mp is not None  # validated as untrusted; a rejected proposal never gets here
        return params

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        self.study["trials"].append(
            {
                "order": len(self.study["trials"]),
                "params": params,
                "objective": value,
                "status": "completed" if value is not None else "failed",
            }
        )


def regret_curves(searcher, objective: TableObjective, budget: int) -> tuple[list[float], list[float]]:
    """Regret of the best value so far after each trial: linear, and log-scaled for minimised metrics."""
    best, curve, log_curve = None, [], []
    better = max if objective.mode == "max" else min
    for _ in range(budget):
        params = searcher.suggest()
        value = objective(params)["objective"]
        searcher.observe(params, value)
        if value is not None:
            best = value if best is None else better(best, value)
        curve.append(objective.regret(best))
        log_curve.append(objective.regret(best, log=True))
    return curve, log_curve


def wilcoxon(a: list[float], b: list[float]) -> dict[str, float | None]:
    """Paired test of a vs b: two-sided p and one-sided p (a < b)."""
    from scipy.stats import wilcoxon as test

    if all(x == y for x, y in zip(a, b, strict=True)):
        return {"p_two_sided": None, "p_less": None}
    return {
        "p_two_sided": float(test(a, b).pvalue),
        "p_less": float(test(a, b, alternative="less").pvalue),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=None, help="a planner (default: the shipped one)")
    parser.add_argument("--root", type=Path, default=ROOT / "outputs/planner_dev", help="where the tables are")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", default="5,10,25")
    ProposalSettings.add_arguments(parser)  # -k, --early-k, --acquisition, --prior, --neighbours, ...
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/planner.json")
    parser.add_argument("--real", action="store_true", help="real Ray Tune studies on the held-out suite")
    parser.add_argument("--tag", default="", help="--real: appended to the figures' file name (planner_realTAG.json)")
    parser.add_argument("--baselines-only", action="store_true", help="--real: run random, TPE and the reference")
    parser.add_argument("--evaluate-only", action="store_true", help="--real: judge the complete studies, run none")
    parser.add_argument(
        "--versus",
        default="",
        help=f"--real: also the same planner with some of its parts off, each its own method ({', '.join(VARIANTS)})",
    )
    parser.add_argument("--models", default="mlp_opt,mlp_arch,mlp_sgd", help="--real: spaces of heldout.yaml")
    parser.add_argument("--tasks", help="--real: tasks (or families) of heldout.yaml, comma-separated (default: all)")
    parser.add_argument("--baselines", default=",".join(BASELINES), help="--real: baseline algorithms")
    parser.add_argument("--count", type=int, default=25, help="--real: trials per study")
    parser.add_argument("--reference-count", type=int, default=100, help="--real: trials of the dense reference")
    args = parser.parse_args(argv)
    try:
        args.settings = ProposalSettings.of_args(args)
    except ValueError as exc:
        print(f"cannot run the planner benchmark: {exc}", file=sys.stderr)
        return 2
    if args.real:
        return real(args)
    budgets = [int(b) for b in args.budgets.split(",")]
    horizon = max(budgets)
    try:
        tables = load_tables(args.root, list(HELDOUT_TASKS))
        from planner.portfolio import PortfolioSearcher
        from planner.propose import Planner

        planner = Planner(args.checkpoint, seed=0)
    except (FileNotFoundError, ValueError) as exc:
        print(f"cannot run the planner benchmark: {exc}", file=sys.stderr)
        return 2

    curves: dict[str, list[list[float]]] = {m: [] for m in METHODS}
    log_curves: dict[str, list[list[float]]] = {m: [] for m in METHODS}
    seconds: dict[str, float] = dict.fromkeys(METHODS, 0.0)
    pairs = []
    for name, table in tables.items():
        objective = TableObjective(table)
        for seed in range(args.seeds):
            pairs.append(f"{name}/{seed}")
            for method in METHODS:
                started = time.monotonic()
                if method.startswith("planner"):
                    planner.generator.manual_seed(seed)
                    acquisition = args.settings.acquisition if method == "planner+acq" else None
                    searcher = PlannerSearcher(planner, table, replace(args.settings, acquisition=acquisition))
                elif method == "portfolio":  # the portfolio of the planner under test
                    searcher = PortfolioSearcher(planner.portfolio or {}, table["search_space"], seed)
                else:
                    searcher = search.build(method, table["search_space"], objective.mode, seed)
                curve, log_curve = regret_curves(searcher, objective, horizon)
                curves[method].append(curve)
                log_curves[method].append(log_curve)
                seconds[method] += time.monotonic() - started
            print(
                f"{name} seed {seed}: " + ", ".join(f"{m} {curves[m][-1][budgets[-1] - 1]:.3f}" for m in METHODS),
                flush=True,
            )

    mean = {m: [statistics.fmean(c[t] for c in curves[m]) for t in range(horizon)] for m in METHODS}
    at = {m: {b: mean[m][b - 1] for b in budgets} for m in METHODS}
    log_at = {m: {b: statistics.fmean(c[b - 1] for c in log_curves[m]) for b in budgets} for m in METHODS}
    tests = {
        f"{a}_vs_{b}": {str(n): wilcoxon([c[n - 1] for c in curves[a]], [c[n - 1] for c in curves[b]]) for n in budgets}
        for a, b in [*(("planner+acq", m) for m in METHODS[2:]), ("planner", "random")]
    }
    stats = planner.stats
    figures = {
        "pairs": len(pairs),
        "tasks": list(tables),
        "seeds": args.seeds,
        "settings": asdict(args.settings),
        "checkpoint": str(args.checkpoint),
        "mean_regret": {m: {str(b): v for b, v in at[m].items()} for m in METHODS},
        "mean_regret_curve": mean,
        "mean_regret_log_scaled_min_metrics": {m: {str(b): v for b, v in log_at[m].items()} for m in METHODS},
        "wilcoxon_log_scaled": {
            str(n): wilcoxon([c[n - 1] for c in log_curves["planner+acq"]], [c[n - 1] for c in log_curves["random"]])
            for n in budgets
        },
        "wilcoxon": tests,
        "proposals": {
            "sampled": stats.sampled,
            "rejected": stats.rejected,
            "duplicates_skipped": stats.duplicates,
            "rejection_share": stats.rejection_share,
        },
        "seconds": seconds,
        "curves": {m: dict(zip(pairs, curves[m], strict=True)) for m in METHODS},
    }
    atomic_write(args.out, json.dumps(figures, indent=2))
    png = args.out.with_name(f"{args.out.stem}_regret.png")
    _plot(mean, horizon, png, len(pairs))

    print(f"\nmean normalised regret over {len(pairs)} held-out task-seed pairs (lower is better)")
    print(f"{'method':<14}" + "".join(f"{'@' + str(b):>10}" for b in budgets))
    for m in METHODS:
        print(f"{m:<14}" + "".join(f"{at[m][b]:>10.4f}" for b in budgets))
    print("same, with MSE regret on a log scale (regression tasks no longer ~0 after one non-diverged run)")
    for m in METHODS:
        print(f"{m:<14}" + "".join(f"{log_at[m][b]:>10.4f}" for b in budgets))
    for key, per in tests.items():
        print(f"wilcoxon {key} (one-sided p, less): " + ", ".join(f"@{b} {_p(per[b]['p_less'])}" for b in per))
    log_tests = figures["wilcoxon_log_scaled"]
    print(
        "wilcoxon planner+acq_vs_random, log-scaled (one-sided p): "
        + ", ".join(f"@{b} {_p(log_tests[b]['p_less'])}" for b in log_tests)
    )
    print(
        f"proposals: {stats.sampled} sampled, {stats.rejected} rejected "
        f"({100 * stats.rejection_share:.2f}%), {stats.duplicates} repeats skipped"
    )
    print(f"figures in {args.out}, curves in {png}")
    print("ratios (planner+acq regret / baseline regret; below 1 is better):")
    for base in METHODS[2:]:
        print(
            f"  vs {base:<17}"
            + "".join(
                f"  @{b} {at['planner+acq'][b] / at[base][b] if at[base][b] else float('nan'):.3f}" for b in budgets
            )
        )
    return 0


def real(args: argparse.Namespace) -> int:
    """Real Tune studies on the held-out suite; prints the table and writes planner_real.json."""
    from engine.metaprogram import MetaprogramError
    from planner.heldout_eval import evaluate, format_figures, heldout_sweeps, unseen_spaces
    from planner.model import checkpoint_or_shipped
    from util.study_runner import run_studies
    from util.sweep_spec import SweepError

    checkpoint = None if args.baselines_only else checkpoint_or_shipped(args.checkpoint)

    def sweeps_of(baselines: tuple[str, ...], **changed: Any) -> list:
        return heldout_sweeps(
            checkpoint,
            seeds=args.seeds,
            count=args.count,
            reference_count=args.reference_count,
            models=args.models.split(","),
            tasks=args.tasks.split(",") if args.tasks else None,
            baselines=baselines,
            settings=replace(args.settings, **changed),
        )

    versus = [name for name in args.versus.split(",") if name]
    unknown = [name for name in versus if name not in VARIANTS]
    if unknown:
        known = ", ".join(VARIANTS)
        print(f"cannot run the planner benchmark: no variant {unknown}; there are {known}", file=sys.stderr)
        return 2
    try:
        sweeps = sweeps_of(tuple(args.baselines.split(",")))
    except (SweepError, MetaprogramError) as exc:
        print(f"cannot run the planner benchmark: {exc}\nNothing was run.", file=sys.stderr)
        return 2
    labels = {}
    for name in versus if checkpoint is not None else ():  # the same planner with parts off, as its own method
        variant = [s for s in sweeps_of((), **VARIANTS[name]) if s.name.split(".")[2] == "planner"]
        labels.update({s.study_id: name for s in variant})
        sweeps += variant
    if args.evaluate_only:  # the studies complete so far, nothing run (pairs need every method's study)
        counts = {"studies": len(sweeps), "failed": 0, "evaluated_only": True}
    else:
        counts = run_studies(sweeps, log=lambda line: print(line, flush=True))
    print(json.dumps(counts))
    if args.baselines_only:
        return 0 if counts["failed"] == 0 else 1
    figures = {
        **evaluate(sweeps, unseen=unseen_spaces(sweeps, args.checkpoint), labels=labels),
        "checkpoint": str(args.checkpoint or "shipped"),
        "settings": asdict(args.settings),
        "suite": counts,
    }
    out = args.out.with_name(f"{args.out.stem}_real{args.tag}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(format_figures(figures))
    print(f"figures in {out}")
    return 0 if counts["failed"] == 0 else 1


def _p(p: float | None) -> str:
    return "n/a (identical)" if p is None else f"{p:.4f}"


def _plot(mean: dict[str, list[float]], horizon: int, path: Path, n_pairs: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for method, curve in mean.items():
        ax.plot(range(1, horizon + 1), curve, label=method)
    ax.set_xlabel("trials")
    ax.set_ylabel("mean normalised regret")
    ax.set_yscale("log")
    ax.set_title(f"held-out tasks ({n_pairs} task-seed pairs)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
