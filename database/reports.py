"""Sweep reports: best-so-far and parameter plots, and a short Markdown summary, from the study database.

`study_report` writes into <output_root>/sweeps/<study>/report/:
  best_so_far.png  the best objective after each trial, for the study and every study it is compared with
                   (same task, search space and metric: e.g. one per search algorithm), on one plot;
  params.png       each searched parameter against the objective (completed and stopped trials; the best starred);
  report.md        what was searched, how, the counts, the best trial and the top five.
`metaprogram report STUDY...` rebuilds it; `metaprogram report RUN` rebuilds a chain run's quality/speed plot.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from database.runs import RunsError, find, load_runs
from database.store import Database
from engine.chain_report import quality_speed_plot
from engine.errors import nearest
from engine.records import atomic_write

BEST_PNG, PARAMS_PNG, SUMMARY_MD = "best_so_far.png", "params.png", "report.md"
TOP = 5


def report_dir(root: Path, study_id: str) -> Path:
    return Path(root) / "sweeps" / study_id / "report"


def comparison(db: Database, study: dict[str, Any]) -> list[str]:
    """The studies compared with this one: same task, search space and metric (this one first)."""
    same = [study["id"]]
    for other in db.studies():
        if other["id"] == study["id"] or other["metric"] != study["metric"]:
            continue
        full = db.study(other["id"])
        if full["task"] == study["task"] and full["search_space"] == study["search_space"]:
            same.append(other["id"])
    return same


def best_so_far(trials: list[dict[str, Any]], mode: str) -> list[float | None]:
    """After each trial (in order), the best objective of the trials so far; failed trials change nothing."""
    out, best = [], None
    for trial in trials:
        value = trial["objective"]
        if trial["status"] != "failed" and value is not None and math.isfinite(value):
            if best is None or (value < best if mode == "min" else value > best):
                best = value
        out.append(best)
    return out


def best_trial(study: dict[str, Any]) -> dict[str, Any] | None:
    scored = [t for t in study["trials"] if t["status"] != "failed" and t["objective"] is not None]
    if not scored:
        return None
    pick = min if study["mode"] == "min" else max
    return pick(scored, key=lambda t: t["objective"])


def study_report(
    db: Database, study_id: str, root: Path, compare: Iterable[str] | None = None, out: Path | None = None
) -> list[Path]:
    """Write the report of `study_id` (plots compare it with `compare`, default: its comparison); return the files."""
    study = db.study(study_id)
    if study is None:
        raise RunsError(f"no study {study_id!r} in {db.path}; `metaprogram list` shows the studies")
    ids = list(dict.fromkeys([study_id, *(compare if compare is not None else comparison(db, study))]))
    others = [db.study(i) for i in ids[1:]]
    folder = out or report_dir(root, study_id)
    folder.mkdir(parents=True, exist_ok=True)
    plot_best_so_far([study, *[s for s in others if s]], folder / BEST_PNG)
    written = [folder / BEST_PNG]
    if plot_params(study, folder / PARAMS_PNG):
        written.append(folder / PARAMS_PNG)

    atomic_write(folder / SUMMARY_MD, summary_markdown(study, [s for s in others if s], written))
    written.append(folder / SUMMARY_MD)
    return written


def _label(study: dict[str, Any]) -> str:
    return f"{study['algorithm']}/{study['scheduler']} seed {study['seed']} ({study['id']})"


def _pyplot() -> Any:
    import matplotlib  # matplotlib: only when a report is drawn

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_best_so_far(studies: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    first = studies[0]
    fig, ax = plt.subplots(figsize=(8, 5), dpi=120)
    for i, study in enumerate(studies):
        curve = best_so_far(study["trials"], study["mode"])
        xs = [n for n, v in enumerate(curve, start=1) if v is not None]
        ys = [v for v in curve if v is not None]
        if not xs:
            continue
        style = {"linewidth": 2.5, "zorder": 3} if i == 0 else {"linewidth": 1.5, "alpha": 0.85}
        ax.step(xs, ys, where="post", label=_label(study), **style)
        color = ax.lines[-1].get_color()
        ax.plot(xs[-1], ys[-1], "o", color=color)
        ax.annotate(f"{ys[-1]:.4g}", (xs[-1], ys[-1]), textcoords="offset points", xytext=(4, 6), color=color)
    ax.margins(x=0.08)  # room for the final values' labels
    ax.set_xlabel("trials run (in order)")
    ax.set_ylabel(f"best {first['metric']} so far ({'lower' if first['mode'] == 'min' else 'higher'} is better)")
    task = first["task"]
    ax.set_title(f"{first['metric']}: {task.get('model')} on {task.get('dataset')} ({task.get('pipeline')})")
    ax.grid(True, alpha=0.3)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_params(study: dict[str, Any], path: Path) -> bool:
    """One panel per parameter; False (nothing written) when no trial has an objective."""
    trials = [t for t in study["trials"] if t["status"] != "failed" and t["objective"] is not None]
    names = sorted(study["search_space"]) or sorted({k for t in trials for k in t["params"]})
    if not trials or not names:
        return False
    plt = _pyplot()
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(7.0, 4.2 * cols), 3.6 * rows + 0.6), dpi=110, squeeze=False)
    best = best_trial(study)
    for ax, name in zip(axes.flat, names, strict=False):
        spec = study["search_space"].get(name, {})
        values = [t["params"].get(name) for t in trials]
        ys = [t["objective"] for t in trials]
        numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        if numeric and spec.get("type") not in ("choice", "grid"):
            xs = values
            if spec.get("type") == "loguniform":
                ax.set_xscale("log")
        else:  # a choice: one column per value, in the order the space lists them
            order = [str(v) for v in spec.get("values", [])] or sorted({str(v) for v in values})
            order += sorted({str(v) for v in values} - set(order))
            xs = [order.index(str(v)) for v in values]
            ax.set_xticks(range(len(order)), order, rotation=30 if max(len(o) for o in order) > 6 else 0)
        done = [t["status"] == "completed" for t in trials]
        ax.scatter(
            [x for x, d in zip(xs, done, strict=True) if d],
            [y for y, d in zip(ys, done, strict=True) if d],
            label="completed",
            alpha=0.8,
        )
        if not all(done):
            ax.scatter(
                [x for x, d in zip(xs, done, strict=True) if not d],
                [y for y, d in zip(ys, done, strict=True) if not d],
                marker="x",
                label="stopped early",
                alpha=0.8,
            )
        if best is not None:
            i = trials.index(best)
            ax.scatter([xs[i]], [ys[i]], marker="*", s=220, color="gold", edgecolor="black", zorder=5, label="best")
        ax.set_xlabel(name)
        ax.set_ylabel(study["metric"])
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    failed = sum(t["status"] == "failed" for t in study["trials"])
    fig.suptitle(
        f"each parameter against {study['metric']} ({'lower' if study['mode'] == 'min' else 'higher'} is better)\n"
        f"{study['id']}, {len(study['trials'])} trials" + (f"; {failed} failed, not shown" if failed else ""),
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


def summary_markdown(study: dict[str, Any], others: list[dict[str, Any]], files: list[Path]) -> str:
    trials = study["trials"]
    counts = {s: sum(t["status"] == s for t in trials) for s in ("completed", "stopped", "failed")}
    best = best_trial(study)
    task = study["task"]
    lines = [
        f"# Sweep report: {study['id']}",
        "",
        f"- task: {task.get('pipeline')} / {task.get('model')} / {task.get('dataset')}",
        f"- search: {study['algorithm']} / {study['scheduler']}, seed {study['seed']}; "
        f"objective {study['metric']} ({study['mode']})",
        f"- trials: {len(trials)} of {study['requested']} ({counts['completed']} completed, {counts['stopped']} "
        f"stopped early, {counts['failed']} failed); study {study['status']}",
        f"- search space: `{json.dumps(study['search_space'], sort_keys=True)}`",
    ]
    if best is not None:
        lines.append(
            f"- best: {study['metric']} = {best['objective']:.6g} at trial {best['order']} (run `{best['run_id']}`), "
            f"params `{json.dumps(best['params'], sort_keys=True)}`"
        )
    if others:
        lines.append("")
        lines.append("Compared with (same task, search space and metric):")
        lines.append("")
        lines.append("| study | search | trials | best |")
        lines.append("| --- | --- | --- | --- |")
        for s in [study, *others]:
            b = best_trial(s)
            best_text = "" if b is None else f"{b['objective']:.6g}"
            lines.append(
                f"| {s['id']} | {s['algorithm']}/{s['scheduler']} seed {s['seed']} | {len(s['trials'])} | {best_text} |"
            )
    scored = sorted(
        [t for t in trials if t["status"] != "failed" and t["objective"] is not None],
        key=lambda t: t["objective"],
        reverse=study["mode"] == "max",
    )[:TOP]
    if scored:
        keys = sorted(study["search_space"]) or sorted({k for t in scored for k in t["params"]})
        lines += ["", f"Top {len(scored)} trials:", ""]
        lines.append("| trial | " + " | ".join([study["metric"], "status", *keys, "run"]) + " |")
        lines.append("|" + " --- |" * (4 + len(keys)))
        for t in scored:
            cells = [str(t["order"]), f"{t['objective']:.6g}", t["status"], *(_cell(t["params"].get(k)) for k in keys)]
            lines.append("| " + " | ".join([*cells, f"`{t['run_id']}`"]) + " |")
    lines += ["", *(f"![{p.stem}]({p.name})" for p in files if p.suffix == ".png")]
    lines += ["", f"Rebuild: `metaprogram report {study['id']}`; one trial: `metaprogram runs show RUN`.", ""]
    return "\n".join(lines)


def study_params(study: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    """What a sweep's tracked run records as its parameters: how the study searches."""
    params = {k: study[k] for k in ("algorithm", "scheduler", "metric", "mode", "seed", "requested", "suite")}
    params = {f"sweep.{k}": v for k, v in params.items()}
    if name:
        params["sweep.name"] = name
    params.update({f"space.{k}": json.dumps(v, sort_keys=True) for k, v in study["search_space"].items()})
    return params


def sweep_report(db: Database, study_id: str, root: Path, tracking: Any = None) -> str | None:
    """At a sweep's end: its report, and what its tracked run logs (counts, best, the report's files).

    Returns the report's folder, or None when it could not be written (the study itself is recorded anyway)."""
    try:
        files = study_report(db, study_id, root)
    except Exception as exc:  # an observer: never fails the sweep
        logging.getLogger("metaprogram").warning("sweep %s: could not write its report: %s", study_id, exc)
        return None
    if tracking is not None:
        study = db.study(study_id)
        trials = study["trials"]
        tracking.summary = {s: sum(t["status"] == s for t in trials) for s in ("completed", "stopped", "failed")}
        tracking.summary["trials"] = len(trials)
        best = best_trial(study)
        if best is not None:
            tracking.summary["best_objective"] = best["objective"]
        tracking.folder = files[0].parent
    return str(files[0].parent)


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def rebuild(db: Database, root: Path, targets: list[str], out: Path | None = None) -> list[str]:
    """`metaprogram report`: studies get their sweep report (given together: compared on one plot); a chain run
    its quality/speed plot. Returns one line per file written."""
    studies = [t for t in targets if db.study(t) is not None]
    runs = [t for t in targets if t not in studies]
    lines = []
    for study_id in studies:
        compare = studies if len(studies) > 1 else None
        folder = out if out is not None and study_id == studies[0] else None
        for path in study_report(db, study_id, root, compare, folder):
            lines.append(f"wrote {path}")
    if runs:
        everything = load_runs(db, root)
        for ref in runs:
            run = _study_or_run(db, everything, ref)
            if run["pipeline"] != "quantize_eval_bench":
                raise RunsError(
                    f"{ref!r} is neither a study nor a chain run (it is a {run['pipeline']} run); "
                    "`metaprogram list` shows the studies"
                )
            lines.append(f"wrote {quality_speed_plot(Path(run['run_dir']), root)}")
    return lines


def _study_or_run(db: Database, runs: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    """The run `ref` names; an error naming the nearest studies and runs when it names neither."""
    try:
        return find(runs, ref)
    except RunsError as exc:
        close = nearest(ref, [s["id"] for s in db.studies()])
        if not close or not str(exc).startswith("no run"):
            raise
        hint = " or ".join(repr(c) for c in close)
        raise RunsError(f"no study or run {ref!r} in this output root; did you mean the study {hint}?") from None
