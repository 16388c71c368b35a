"""The planner judged in real Ray Tune studies on held-out tasks: planner+acquisition vs random vs TPE.

The held-out suite (configs/sweep/suite/heldout.yaml: tasks no training suite uses, a local CSV
among them) runs its baselines (random, TPE), a dense random reference, and one planner study
per task, space and seed with the checkpoint under test, all through util/tune_suite.py (finished
studies are reused: baselines run once, each checkpoint's planner studies once).

Regret after n trials = 1 - (best so far - worst) / (best - worst), where best and worst are over
every value observed on that task and space (all studies, the reference included). Minimised
metrics (MSE) are compared on a log scale, so one diverged trial does not flatten every curve.
Pairs are (task, space, seed); tests are paired one-sided Wilcoxon (planner < baseline).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from planner.propose import CANDIDATES, LOCAL_MODEL

METHODS = ("planner", "random", "tpe")
BUDGETS = (5, 10, 25)


def heldout_sweeps(
    checkpoint: Path | None,
    *,
    seeds: int = 3,
    count: int = 25,
    reference_count: int = 100,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    candidates: int = CANDIDATES,
    early_candidates: int | None = None,
    acquisition: str | None = "ei",
    temperature: float = 1.0,
    local_model: str | None = LOCAL_MODEL,
) -> list[Any]:
    """The held-out studies: baselines, the reference and (with a checkpoint) the planner's, composed."""
    import yaml

    from engine.paths import default_paths
    from planner.suite_data import write_suite_data
    from util.tune_suite import SUITE_DIR, compose_bases, expand

    path = SUITE_DIR / "heldout.yaml"
    data = yaml.safe_load(path.read_text())
    models = models or list(data["models"])
    chosen = tasks or "all"
    groups = [
        {"tasks": chosen, "models": models, "algorithms": ["random", "tpe"], "seeds": [*range(seeds)], "count": count},
        {"tasks": chosen, "models": models, "algorithms": ["random"], "seeds": [1000], "count": reference_count},
    ]
    if checkpoint is not None:
        groups.append(
            {"tasks": chosen, "models": models, "algorithms": ["planner"], "seeds": [*range(seeds)], "count": count}
        )
        data["tune"] = {
            **data.get("tune", {}),
            "planner_checkpoint": str(Path(checkpoint).resolve()),
            "planner_candidates": candidates,
            "planner_early_candidates": early_candidates,
            "planner_acquisition": acquisition,
            "planner_temperature": temperature,
            "planner_local_model": local_model,
        }
    data["studies"] = groups
    write_suite_data(default_paths().root("data_root"))  # before composing: the CSV task's base checks its file
    sweeps = expand(data, str(path))
    compose_bases(sweeps)
    return sweeps


def evaluate(sweeps: list[Any], db_url: str | None = None) -> dict[str, Any]:
    """Regret at BUDGETS (those the studies reach) per method over (task, space, seed) pairs, wins/losses, p-values."""
    from database.store import Database, default_url

    db_url = db_url or default_url(sweeps[0].base()[1])
    values: dict[tuple[str, str], list[float]] = {}
    curves: dict[tuple[str, str, str, int], list[float | None]] = {}
    modes: dict[tuple[str, str], str] = {}
    with Database(db_url) as db:
        for sweep in sweeps:
            task, model, algorithm, _, seed = sweep.name.split(".")
            study = db.study(sweep.study_id)
            if not study or study["status"] != "complete":
                continue
            mode = study["mode"]
            objectives = [t["objective"] for t in study["trials"]]
            scaled = [_scale(v, mode) for v in objectives]
            modes[task, model] = mode
            values.setdefault((task, model), []).extend(v for v in scaled if v is not None)
            if algorithm in METHODS and seed != "s1000":
                curves[task, model, algorithm, int(seed[1:])] = scaled
    pairs = sorted({(t, m, s) for (t, m, a, s) in curves if all((t, m, b, s) in curves for b in METHODS)})
    length = min((len(c) for c in curves.values()), default=0)
    budgets = [b for b in BUDGETS if b <= length] or [length]
    regret = {m: {b: [] for b in budgets} for m in METHODS}
    for task, model, seed in pairs:
        seen = values[task, model]
        best, worst = max(seen), min(seen)  # scaled so that higher is better
        for method in METHODS:
            curve = curves[task, model, method, seed]
            for budget in budgets:
                got = [v for v in curve[:budget] if v is not None]
                so_far = max(got) if got else worst
                regret[method][budget].append(1 - (so_far - worst) / (best - worst) if best > worst else 0.0)
    figures: dict[str, Any] = {
        "pairs": len(pairs),
        "tasks": sorted({t for t, _, _ in pairs}),
        "spaces": sorted({m for _, m, _ in pairs}),
        "budgets": budgets,
        "mean_regret": {m: {str(b): _mean(regret[m][b]) for b in budgets} for m in METHODS},
        "tests": {},
    }
    for other in ("random", "tpe"):
        for budget in budgets:
            a, b = regret["planner"][budget], regret[other][budget]
            wins = sum(x < y for x, y in zip(a, b, strict=True))
            losses = sum(x > y for x, y in zip(a, b, strict=True))
            figures["tests"][f"planner_vs_{other}@{budget}"] = {"wins": wins, "losses": losses, "p_less": _p(a, b)}
    figures["per_pair"] = {
        f"{t}/{m}/s{s}": {meth: regret[meth][budgets[-1]][i] for meth in METHODS} for i, (t, m, s) in enumerate(pairs)
    }
    return figures


def _scale(value: float | None, mode: str) -> float | None:
    """Higher is better; minimised positive metrics on a log scale."""
    if value is None or not math.isfinite(value):
        return None
    if mode == "max":
        return value
    return -math.log(max(value, 1e-12))


def _mean(xs: list[float]) -> float | None:
    return statistics.fmean(xs) if xs else None


def _p(a: list[float], b: list[float]) -> float | None:
    from scipy.stats import wilcoxon

    if not a or all(x == y for x, y in zip(a, b, strict=True)):
        return None
    return float(wilcoxon(a, b, alternative="less").pvalue)


def format_figures(figures: dict[str, Any]) -> str:
    lines = [
        f"held-out, real Tune studies: {figures['pairs']} (task, space, seed) pairs over "
        f"{len(figures['tasks'])} tasks ({', '.join(figures['tasks'])}) and spaces {', '.join(figures['spaces'])}",
        f"{'mean regret':<12}" + "".join(f"{'@' + str(b):>9}" for b in figures["budgets"]),
    ]
    for m in METHODS:
        row = figures["mean_regret"][m]
        lines.append(f"{m:<12}" + "".join(f"{_fmt(row[str(b)]):>9}" for b in figures["budgets"]))
    for key, test in figures["tests"].items():
        p = "n/a" if test["p_less"] is None else f"{test['p_less']:.4f}"
        lines.append(f"{key:<22} wins {test['wins']:>3}  losses {test['losses']:>3}  one-sided p {p}")
    proposals = figures.get("suite", {}).get("proposals")
    if proposals:  # counted when the planner studies ran now (reused studies sampled nothing)
        share = proposals["rejected"] / proposals["sampled"]
        lines.append(
            f"planner proposals: {proposals['sampled']} sampled, {proposals['rejected']} rejected ({share:.2%}); "
            "a rejected one is never run"
        )
    return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"
