"""The planner judged in real Ray Tune studies on held-out tasks, against random, TPE, multivariate TPE, GP and the
corpus's portfolio.

The held-out suite (configs/sweep/suite/heldout.yaml: tasks no training suite uses, a local CSV and
a task family among them, and a space with keys the corpus never holds) runs its baselines, a dense
random reference, and one planner study per task, space and seed with the checkpoint under test,
all through util/tune_suite.py (finished studies are reused: baselines run once, each checkpoint's
planner studies once).

Regret after n trials = 1 - (best so far - worst) / (best - worst), where best and worst are over
every value observed on that task and space (all studies, the reference included). Minimised
metrics (MSE) are compared on a log scale, so one diverged trial does not flatten every curve.
Pairs are (task, space, seed); tests are paired one-sided Wilcoxon (planner < baseline). Figures
are given for all pairs, and apart for the spaces whose keys the planner's vocabulary holds (seen)
and those with a key it never saw (unseen).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path
from typing import Any

from planner.proposal_settings import DEFAULTS, ProposalSettings

METHODS = ("planner", "random", "tpe", "tpe_multivariate", "gp", "portfolio")
BASELINES = METHODS[1:]
BUDGETS = (5, 10, 25)


def heldout_sweeps(
    checkpoint: Path | None,
    *,
    seeds: int = 3,
    count: int = 25,
    reference_count: int = 100,
    models: list[str] | None = None,
    tasks: list[str] | None = None,
    settings: ProposalSettings = DEFAULTS,
    baselines: tuple[str, ...] = BASELINES,
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
        {"tasks": chosen, "models": models, "algorithms": list(baselines), "seeds": [*range(seeds)], "count": count},
        {"tasks": chosen, "models": models, "algorithms": ["random"], "seeds": [1000], "count": reference_count},
    ]
    if checkpoint is not None:
        groups.append(
            {"tasks": chosen, "models": models, "algorithms": ["planner"], "seeds": [*range(seeds)], "count": count}
        )
        data["tune"] = {
            **data.get("tune", {}),
            "planner_checkpoint": str(Path(checkpoint).resolve()),
            **settings.tune_keys(),
        }
    data["studies"] = groups
    write_suite_data(default_paths().root("data_root"))  # before composing: the CSV task's base checks its file
    sweeps = expand(data, str(path))
    compose_bases(sweeps)
    return sweeps


def evaluate(
    sweeps: list[Any], db_url: str | None = None, unseen: set[str] = frozenset(), labels: dict[str, str] | None = None
) -> dict[str, Any]:
    """Regret at BUDGETS (those the studies reach) per method over (task, space, seed) pairs, wins/losses, p-values;
    for all pairs, and apart for the spaces in `unseen` (keys the planner never saw) and the others. `labels`: a
    method name for some studies (by id) instead of their algorithm's, e.g. the planner with other settings."""
    labels = labels or {}
    from database.store import Database, default_url

    db_url = db_url or default_url(sweeps[0].base()[1])
    values: dict[tuple[str, str], list[float]] = {}
    curves: dict[tuple[str, str, str, int], list[float | None]] = {}
    with Database(db_url) as db:
        for sweep in sweeps:
            task, model, algorithm, _, seed = sweep.name.split(".")
            study = db.study(sweep.study_id)
            if not study or study["status"] != "complete":
                continue
            scaled = [_scale(t["objective"], study["mode"]) for t in study["trials"]]
            values.setdefault((task, model), []).extend(v for v in scaled if v is not None)
            method = labels.get(sweep.study_id, algorithm)
            if (method in METHODS or method in labels.values()) and seed != "s1000":
                curves[task, model, method, int(seed[1:])] = scaled
    order = [*METHODS[:1], *dict.fromkeys(labels.values()), *METHODS[1:]]  # the planner, its variants, baselines
    methods = [m for m in order if any(key[2] == m for key in curves)]
    pairs = sorted({(t, m, s) for (t, m, a, s) in curves if all((t, m, b, s) in curves for b in methods)})
    length = min((len(c) for c in curves.values()), default=0)
    budgets = [b for b in BUDGETS if b <= length] or [length]
    regret = {m: {b: [] for b in budgets} for m in methods}
    for task, model, seed in pairs:
        seen = values[task, model]
        best, worst = max(seen), min(seen)  # scaled so that higher is better
        for method in methods:
            curve = curves[task, model, method, seed]
            for budget in budgets:
                got = [v for v in curve[:budget] if v is not None]
                so_far = max(got) if got else worst
                regret[method][budget].append(1 - (so_far - worst) / (best - worst) if best > worst else 0.0)
    figures: dict[str, Any] = {
        "tasks": sorted({t for t, _, _ in pairs}),
        "spaces": sorted({m for _, m, _ in pairs}),
        "unseen_spaces": sorted(unseen),
        "budgets": budgets,
        "methods": methods,
        **_summary(regret, [True] * len(pairs), methods, budgets),
    }
    groups = {"seen": [m not in unseen for _, m, _ in pairs], "unseen": [m in unseen for _, m, _ in pairs]}
    figures["groups"] = {name: _summary(regret, keep, methods, budgets) for name, keep in groups.items() if any(keep)}
    figures["per_pair"] = {
        f"{t}/{m}/s{s}": {meth: regret[meth][budgets[-1]][i] for meth in methods} for i, (t, m, s) in enumerate(pairs)
    }
    return figures


def _summary(regret: dict, keep: list[bool], methods: list[str], budgets: list[int]) -> dict[str, Any]:
    """Mean regret and the planner's paired tests against every other method, over the pairs `keep` marks."""
    chosen = {m: {b: [x for x, k in zip(regret[m][b], keep, strict=True) if k] for b in budgets} for m in methods}
    out: dict[str, Any] = {
        "pairs": sum(keep),
        "mean_regret": {m: {str(b): _mean(chosen[m][b]) for b in budgets} for m in methods},
        "tests": {},
    }
    if "planner" not in methods:
        return out
    for other in methods:
        if other == "planner":
            continue
        for budget in budgets:
            a, b = chosen["planner"][budget], chosen[other][budget]
            wins = sum(x < y for x, y in zip(a, b, strict=True))
            losses = sum(x > y for x, y in zip(a, b, strict=True))
            out["tests"][f"planner_vs_{other}@{budget}"] = {"wins": wins, "losses": losses, "p_less": _p(a, b)}
    return out


def unseen_spaces(sweeps: list[Any], checkpoint: Any) -> set[str]:
    """The suite's spaces (model names) with a key that the planner's vocabulary does not hold."""
    import json

    from planner.model import checkpoint_or_shipped

    vocab = checkpoint_or_shipped(checkpoint) / "vocab.json"
    if not vocab.exists():
        return set()
    known = set(json.loads(vocab.read_text())["tokens"])
    return {s.name.split(".")[1] for s in sweeps if any(key not in known for key in s.space)}


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
        f"{len(figures['tasks'])} tasks ({', '.join(figures['tasks'])}) and spaces {', '.join(figures['spaces'])}"
        + (f"; unseen keys in {', '.join(figures['unseen_spaces'])}" if figures.get("unseen_spaces") else ""),
    ]
    groups = figures.get("groups", {})
    sections = [("all", figures), *groups.items()] if len(groups) > 1 else [("all", figures)]
    for name, group in sections:
        lines.append(f"{name} ({group['pairs']} pairs)")
        lines.append(f"{'mean regret':<18}" + "".join(f"{'@' + str(b):>9}" for b in figures["budgets"]))
        for m in figures.get("methods", METHODS):
            row = group["mean_regret"][m]
            lines.append(f"{m:<18}" + "".join(f"{_fmt(row[str(b)]):>9}" for b in figures["budgets"]))
        if ratios := _ratios(group, figures["budgets"]):
            lines.append(f"{'planner / random':<18}" + "".join(f"{_fmt(r, 3):>9}" for r in ratios))
        for key, test in group["tests"].items():
            p = "n/a" if test["p_less"] is None else f"{test['p_less']:.4f}"
            lines.append(f"  {key:<30} wins {test['wins']:>3}  losses {test['losses']:>3}  one-sided p {p}")
    proposals = figures.get("suite", {}).get("proposals")
    if proposals:  # counted when the planner studies ran now (reused studies sampled nothing)
        share = proposals["rejected"] / proposals["sampled"]
        lines.append(
            f"planner proposals: {proposals['sampled']} sampled, {proposals['rejected']} rejected ({share:.2%}); "
            "a rejected one is never run"
        )
    return "\n".join(lines)


def markdown(figures: dict[str, Any]) -> str:
    """The figures as Markdown tables: mean regret per method and budget, then the planner's wins, losses and
    one-sided p against each method, for all pairs and for seen and unseen spaces apart (model card, docs)."""
    budgets, methods = figures["budgets"], figures.get("methods", METHODS)
    groups = figures.get("groups", {})
    sections = [("all", figures), *groups.items()] if len(groups) > 1 else [("all", figures)]
    lines = []
    for name, group in sections:
        lines += [
            f"{name} spaces ({group['pairs']} pairs), mean normalised regret:",
            "",
            "| method | " + " | ".join(f"@{b}" for b in budgets) + " |",
            "| --- |" + " --- |" * len(budgets),
        ]
        for m in methods:
            row = group["mean_regret"][m]
            lines.append(f"| {m} | " + " | ".join(_fmt(row[str(b)], 3) for b in budgets) + " |")
        if ratios := _ratios(group, budgets):
            lines.append("| planner / random | " + " | ".join(f"{_fmt(r, 2)}x" for r in ratios) + " |")
        if group["tests"]:
            lines += ["", "| planner vs | " + " | ".join(f"@{b} wins / losses, p" for b in budgets) + " |"]
            lines.append("| --- |" + " --- |" * len(budgets))
            for other in methods[1:]:
                cells = []
                for b in budgets:
                    t = group["tests"][f"planner_vs_{other}@{b}"]
                    p = "<0.001" if t["p_less"] is not None and t["p_less"] < 0.001 else _fmt(t["p_less"], 3)
                    cells.append(f"{t['wins']} / {t['losses']}, {p}")
                lines.append(f"| {other} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _ratios(group: dict[str, Any], budgets: list[int]) -> list[float | None]:
    """The planner's mean regret over random search's at each budget (the issue's bar: at most 0.5x at 25)."""
    mean = group["mean_regret"]
    if "planner" not in mean or "random" not in mean:
        return []
    a, b = (mean[m] for m in ("planner", "random"))
    return [a[str(x)] / b[str(x)] if a[str(x)] is not None and b[str(x)] else None for x in budgets]


def _fmt(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"
