"""The self-improving loop: propose -> run -> record -> retrain, for some iterations.

Each iteration, for every study in the record (one per task), the planner proposes
`--per-study` trials one after another (each validated as untrusted; a rejected one is counted
and never run), `launch` runs them, they are appended to the study, the record is rewritten,
and the planner trains on for `--train-steps` steps on the base corpus plus everything recorded.

Proposals run through job_launch on Ray, and each lands in the study database
(<root>/metaprogram.db) as its study's next trial; the planner's own working copy is a JSONL
file of the same studies in the export format, which it retrains on.

    python -m planner.loop --checkpoint outputs/planner/ckpt --iterations 3
    python -m planner.loop --checkpoint outputs/planner/ckpt --evaluate --eval-models mlp_opt --eval-seeds 3

`--evaluate`: each round's planner (round 0: the one given) is judged in real Tune studies on the
held-out suite (planner/heldout_eval.py: mean regret at 10 and 25 trials vs the same random and
TPE studies); ROOT/regret_per_round.png plots it per round. A round whose planner is worse than
the best so far at 25 trials is not promoted: the next round goes on from the best, and
ROOT/ckpt-best is always the best one judged.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from engine.metaprogram import Metaprogram
from engine.paths import Paths
from engine.records import atomic_write
from planner.proposal_settings import ProposalSettings

BASELINES = ("random", "tpe")  # what each round's planner is judged against (the benchmark runs them all)


def launch(study: dict[str, Any], proposals: list[tuple[dict[str, Any], Metaprogram]], paths: Paths) -> list[dict]:
    """Run proposals through job_launch (Ray); they are recorded in the study database as the study's next trials."""
    from job_launch.launcher import Job
    from job_launch.launcher import launch as launch_jobs

    jobs = [Job(mp, source=f"{study['study_id']} proposal", params=params) for params, mp in proposals]
    summary = launch_jobs(jobs, paths, study_id=study["study_id"], first_order=len(study["trials"]), progress=False)
    trials = []
    for outcome in sorted(summary["outcomes"], key=lambda o: o["order"]):
        value = outcome["objective"]
        ok = outcome["status"] == "completed" and value is not None and math.isfinite(value)
        trials.append(
            {
                "objective": float(value) if ok else None,
                "status": "completed" if ok else "failed",
                "run_id": outcome["id"],
            }
        )
    return trials


def begin_studies(studies: list[dict[str, Any]], planned: int, paths: Paths) -> None:
    """Each loop study in the database, asking for the trials it has plus those this loop will add."""
    from database.store import Database, StudyRecord, default_url

    with Database(default_url(paths)) as db:
        for study in studies:
            objective = study["task"]["objective"]
            db.begin_study(
                StudyRecord(
                    id=study["study_id"],
                    task=study["task"],
                    search_space=study["search_space"],
                    algorithm="planner",
                    scheduler="fifo",
                    metric=objective["metric"],
                    mode=objective["mode"],
                    seed=study.get("seed", 0),
                    base=study["base"],
                    requested=len(study["trials"]) + planned,
                    suite="loop",
                )
            )


def read_record(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def write_record(path: Path, studies: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "".join(json.dumps(s) + "\n" for s in studies))


def seed_record(tasks: list[str]) -> list[dict[str, Any]]:
    """Empty studies for development tasks (the dev space and base, no trials yet)."""
    from planner.dev_data import ALL_TASKS, DEV_SPACE, base_metaprogram, dataset_facts, task_record

    studies = []
    for name in tasks:
        dataset = ALL_TASKS[name]
        studies.append(
            {
                "study_id": f"loop-{name}",
                "task": task_record(name, dataset, dataset_facts(dataset)),
                "search_space": DEV_SPACE,
                "algorithm": "planner",
                "scheduler": "fifo",
                "seed": 0,
                "base": base_metaprogram(dataset),
                "trials": [],
            }
        )
    return studies


def iterate(planner, studies: list[dict[str, Any]], per_study: int, settings: ProposalSettings, paths: Paths) -> int:
    """Propose, run and record `per_study` trials for every study; returns how many were run."""
    ran = 0
    for study in studies:
        for _ in range(per_study):
            params, mp, _ = planner.suggest(study, settings)
            (trial,) = launch(study, [(params, mp)], paths)
            study["trials"].append({"order": len(study["trials"]), "params": params, **trial})
            ran += 1
    return ran


def heldout_score(
    checkpoint: Path,
    seeds: int,
    count: int,
    models: list[str],
    tasks: list[str] | None,
    settings: ProposalSettings,
) -> dict:
    """Mean planner regret at 10 and 25 on the held-out suite, in real Tune studies (baselines reused)."""
    from planner.heldout_eval import evaluate, heldout_sweeps
    from util.study_runner import run_studies

    sweeps = heldout_sweeps(
        checkpoint, seeds=seeds, count=count, models=models, tasks=tasks, settings=settings, baselines=BASELINES
    )
    run_studies(sweeps, log=lambda line: None)
    figures = evaluate(sweeps)
    regret = figures["mean_regret"]["planner"]  # at 10 and 25 trials (or the last budget the studies reach)
    last = str(figures["budgets"][-1])
    return {"10": regret.get("10", regret[last]), "25": regret.get("25", regret[last])}


def promote(history: list[dict[str, Any]], round_: int, checkpoint: Path, regret: dict, root: Path) -> Path:
    """Record the round; copy its checkpoint to ROOT/ckpt-best when it is no worse at 25; return the best."""
    best = min((h for h in history if h["promoted"]), key=lambda h: h["regret"]["25"], default=None)
    promoted = best is None or regret["25"] <= best["regret"]["25"]
    history.append({"round": round_, "checkpoint": str(checkpoint), "regret": regret, "promoted": promoted})
    if promoted:
        shutil.copytree(checkpoint, root / "ckpt-best", dirs_exist_ok=True)
    atomic_write(root / "regret_per_round.json", json.dumps(history, indent=2))
    plot_rounds(history, root / "regret_per_round.png")
    return checkpoint if promoted else Path(best["checkpoint"])


def plot_rounds(history: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    rounds = [h["round"] for h in history]
    for budget in ("10", "25"):
        ax.plot(rounds, [h["regret"][budget] for h in history], marker="o", label=f"round's planner @{budget}")
    kept, best = [], None  # the planner the loop goes on from: a round that is worse is not promoted
    for h in history:
        best = h["regret"]["25"] if h["promoted"] else best
        kept.append(best)
    ax.plot(rounds, kept, linestyle="--", color="black", label="kept planner @25")
    for h in history:
        if not h["promoted"]:
            ax.annotate("not promoted", (h["round"], h["regret"]["25"]), fontsize=7)
    ax.set_xlabel("round")
    ax.set_ylabel("held-out mean regret (planner)")
    ax.set_xticks(rounds)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=Path("outputs/planner/ckpt"))
    parser.add_argument("--root", type=Path, default=Path("outputs/planner_loop"), help="runs, record, checkpoints")
    parser.add_argument("--record", type=Path, default=None, help="JSONL of studies (default ROOT/studies.jsonl)")
    parser.add_argument("--corpus", type=Path, default=Path("outputs/planner_dev/studies.jsonl"))
    parser.add_argument("--tasks", default="held_cls_hard,wine,diabetes", help="dev tasks to seed an empty record with")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--per-study", type=int, default=3)
    ProposalSettings.add_arguments(parser)
    parser.add_argument("--train-steps", type=int, default=60)
    # a trained planner goes on gently: at the from-scratch rate its held-out loss only rose, so no round changed it
    parser.add_argument("--train-lr", type=float, default=2e-4)
    parser.add_argument("--evaluate", action="store_true", help="judge each round on the held-out suite")
    parser.add_argument("--eval-seeds", type=int, default=3)
    parser.add_argument("--eval-count", type=int, default=25, help="trials per held-out study")
    parser.add_argument("--eval-models", default="mlp_opt", help="spaces of heldout.yaml to judge on")
    parser.add_argument("--eval-tasks", default=None, help="held-out tasks (default: all)")
    args = parser.parse_args(argv)
    logging.getLogger("metaprogram").setLevel(logging.WARNING)

    from engine.metaprogram import MetaprogramError
    from planner.heldout_eval import heldout_sweeps
    from planner.model import Settings
    from planner.propose import Planner
    from planner.train import read_studies, train
    from util.sweep_spec import SweepError

    eval_models = args.eval_models.split(",")
    eval_tasks = args.eval_tasks.split(",") if args.eval_tasks else None
    root = args.root.resolve()
    record = args.record or root / "studies.jsonl"
    paths = Paths(data_root=str(root), model_root=str(root), cache_root=str(root), output_root=str(root))
    try:
        settings = ProposalSettings.of_args(args)
        studies = read_record(record) or seed_record(args.tasks.split(","))
        corpus = read_studies(args.corpus) if args.corpus.exists() else []
        checkpoint = args.checkpoint
        Planner(checkpoint)  # fail early on a missing checkpoint
        if args.evaluate:  # and on held-out spaces or tasks that do not exist
            heldout_sweeps(
                None, seeds=1, count=args.eval_count, models=eval_models, tasks=eval_tasks, baselines=BASELINES
            )
    except (OSError, ValueError, KeyError, SweepError, MetaprogramError) as exc:
        print(f"cannot start the generation loop: {exc}", file=sys.stderr)
        return 2
    begin_studies(studies, args.iterations * args.per_study, paths)
    history: list[dict[str, Any]] = []

    def judge(round_: int, candidate: Path) -> Path:
        if not args.evaluate:
            return candidate
        regret = heldout_score(candidate, args.eval_seeds, args.eval_count, eval_models, eval_tasks, settings)
        chosen = promote(history, round_, candidate, regret, root)
        state = "promoted" if history[-1]["promoted"] else f"not promoted, going on from {chosen}"
        print(f"round {round_}: held-out regret @10 {regret['10']:.4f} @25 {regret['25']:.4f}, {state}", flush=True)
        return chosen

    checkpoint = latest = judge(0, Path(checkpoint).resolve())
    for iteration in range(1, args.iterations + 1):
        started = time.monotonic()
        before = sum(len(s["trials"]) for s in studies)
        planner = Planner(checkpoint, seed=iteration)
        ran = iterate(planner, studies, args.per_study, settings, paths)
        write_record(record, studies)
        after = sum(len(s["trials"]) for s in studies)
        best = {
            s["study_id"]: max(
                (t["objective"] for t in s["trials"] if t["objective"] is not None),
                default=None,
                key=lambda v: v if s["task"]["objective"]["mode"] == "max" else -v,
            )
            for s in studies
        }
        # retrain on everything recorded (plus the base corpus), going on from the current planner
        out = root / f"ckpt-{iteration}"
        report = train(
            corpus + [s for s in studies if s["trials"]],
            out,
            Settings(
                steps=args.train_steps,
                lr=args.train_lr,
                warmup=min(10, args.train_steps),
                eval_every=max(1, args.train_steps // 3),  # the best of a few points is kept
            ),
            log=lambda m: None,
            init=checkpoint,
            keep_last=args.evaluate,  # judged by held-out regret below, not by its loss
        )
        latest, checkpoint = out, judge(iteration, out)
        print(
            f"iteration {iteration}: ran {ran} proposals ({planner.stats.rejected} of {planner.stats.sampled} "
            f"sampled were rejected), record {before} -> {after} trials, best {best}, "
            f"retrained: held-out loss {report['final_val_loss']:.4f}, {time.monotonic() - started:.0f} s",
            flush=True,
        )
    shutil.copytree(latest, root / "ckpt-latest", dirs_exist_ok=True)
    print(f"record: {record}; latest planner: {root / 'ckpt-latest'}")
    if args.evaluate:
        print(f"best planner: {root / 'ckpt-best'}; regret per round: {root / 'regret_per_round.png'}")
    return 0


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
