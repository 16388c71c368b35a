"""Held-out evaluation in real studies: the regret arithmetic over recorded studies, and the loop's promotion rule.

The studies here are written straight into a database (no runs): what is under test is our
normalisation, pairing and wins/losses, and which round's checkpoint is kept.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from database.store import Database, StudyRecord
from planner.heldout_eval import evaluate
from planner.loop import promote

BUDGETS_CURVES = {  # objective after each of 25 trials (constant after the listed prefix)
    "planner": [0.5, 0.9] + [0.9] * 23,
    "random": [0.5] * 9 + [0.7] + [0.7] * 15,
    "tpe": [0.6] * 24 + [1.0],
}


def write(db: Database, name: str, objectives: list[float | None], mode: str = "max") -> SimpleNamespace:
    study_id = f"heldout.{name}"
    db.begin_study(
        StudyRecord(
            id=study_id,
            task={},
            search_space={},
            algorithm=name.split(".")[2],
            scheduler="fifo",
            metric="m",
            mode=mode,
            seed=0,
            base={},
            requested=len(objectives),
            suite="heldout",
        )
    )
    for order, value in enumerate(objectives):
        db.record_trial(
            study_id,
            order,
            run_id=f"{study_id}-{order}",
            params={"x": order},
            objective=value,
            status="completed" if value is not None else "failed",
        )
    db.finish_study(study_id)
    return SimpleNamespace(name=name, study_id=study_id)


def test_regret_is_normalised_over_everything_observed_and_paired(tmp_path):
    url = tmp_path / "h.db"
    with Database(url) as db:
        sweeps = [write(db, f"t.sp.{m}.fifo.s0", curve) for m, curve in BUDGETS_CURVES.items()]
        sweeps.append(write(db, "t.sp.random.fifo.s1000", [0.0, 0.4]))  # the reference sets the worst (0.0)
        sweeps.append(write(db, "t.sp.planner.fifo.s1", [0.5] * 25))  # no partner studies: not a pair
    figures = evaluate(sweeps, db_url=str(url))
    assert figures["pairs"] == 1
    regret = figures["mean_regret"]
    assert regret["planner"] == pytest.approx({"5": 0.1, "10": 0.1, "25": 0.1})
    assert regret["random"] == pytest.approx({"5": 0.5, "10": 0.3, "25": 0.3})
    assert regret["tpe"] == pytest.approx({"5": 0.4, "10": 0.4, "25": 0.0})
    tests = figures["tests"]
    assert (tests["planner_vs_random@10"]["wins"], tests["planner_vs_random@10"]["losses"]) == (1, 0)
    assert (tests["planner_vs_tpe@25"]["wins"], tests["planner_vs_tpe@25"]["losses"]) == (0, 1)


def test_seen_and_unseen_spaces_are_summarised_apart(tmp_path):
    url = tmp_path / "h.db"
    with Database(url) as db:
        sweeps = []
        for space, planner in (("seen", [0.9] * 5), ("new", [0.2] * 5)):
            sweeps.append(write(db, f"t.{space}.planner.fifo.s0", planner))
            sweeps.append(write(db, f"t.{space}.gp.fifo.s0", [0.5] * 5))
            sweeps.append(write(db, f"t.{space}.random.fifo.s1000", [0.0, 1.0]))
    figures = evaluate(sweeps, db_url=str(url), unseen={"new"})
    assert figures["methods"] == ["planner", "gp"] and figures["pairs"] == 2
    seen, unseen = figures["groups"]["seen"], figures["groups"]["unseen"]
    assert seen["pairs"] == unseen["pairs"] == 1
    assert seen["mean_regret"]["planner"]["5"] == pytest.approx(0.1)
    assert unseen["mean_regret"]["planner"]["5"] == pytest.approx(0.8)
    assert (seen["tests"]["planner_vs_gp@5"]["wins"], unseen["tests"]["planner_vs_gp@5"]["losses"]) == (1, 1)


def test_minimised_metrics_are_compared_on_a_log_scale(tmp_path):
    url = tmp_path / "h.db"
    with Database(url) as db:
        sweeps = [
            write(db, "r.sp.planner.fifo.s0", [10.0] * 6, mode="min"),
            write(db, "r.sp.random.fifo.s0", [1e6] + [100.0] * 5, mode="min"),  # one diverged trial
            write(db, "r.sp.tpe.fifo.s0", [1.0] * 6, mode="min"),
        ]
    figures = evaluate(sweeps, db_url=str(url))
    assert figures["budgets"] == [5]  # only the budgets that 6-trial studies reach
    regret = figures["mean_regret"]
    # log10: best 0, worst 6; planner at 1 -> 1/6, random at 2 -> 2/6 (linearly both would be ~0)
    assert regret["planner"]["5"] == pytest.approx(1 / 6)
    assert regret["random"]["5"] == pytest.approx(2 / 6)
    assert regret["tpe"]["5"] == pytest.approx(0.0)


def test_a_worse_round_is_not_promoted_and_the_best_is_kept(tmp_path):
    history: list[dict] = []
    rounds = {}
    for i in range(4):
        rounds[i] = tmp_path / f"ckpt-{i}"
        rounds[i].mkdir()
        (rounds[i] / "which").write_text(str(i))
    assert promote(history, 0, rounds[0], {"10": 0.3, "25": 0.2}, tmp_path) == rounds[0]
    assert promote(history, 1, rounds[1], {"10": 0.2, "25": 0.25}, tmp_path) == rounds[0]  # worse @25: kept round 0
    assert (tmp_path / "ckpt-best" / "which").read_text() == "0"
    assert promote(history, 2, rounds[2], {"10": 0.2, "25": 0.1}, tmp_path) == rounds[2]
    assert promote(history, 3, rounds[3], {"10": 0.1, "25": 0.15}, tmp_path) == rounds[2]  # compared with the best
    assert (tmp_path / "ckpt-best" / "which").read_text() == "2"
    recorded = json.loads((tmp_path / "regret_per_round.json").read_text())
    assert [h["promoted"] for h in recorded] == [True, False, True, False]
    assert (tmp_path / "regret_per_round.png").stat().st_size > 1000


def test_the_held_out_suite_composes_on_a_data_root_without_its_csv(tmp_path, monkeypatch):
    """A fresh data root: the local CSV task's file is written before its base is validated."""
    from planner.heldout_eval import heldout_sweeps

    monkeypatch.setenv("METAPROGRAM_DATA_ROOT", str(tmp_path / "data"))
    sweeps = heldout_sweeps(None, seeds=1, count=2, reference_count=3, models=["mlp_opt"], tasks=["table"])
    assert (tmp_path / "data" / "suites" / "heldout_table.csv").is_file()
    assert {s.name.split(".")[2] for s in sweeps} == {"random", "tpe", "tpe_multivariate", "gp", "portfolio"}
    assert all(s.base()[0].dataset.file.endswith("heldout_table.csv") for s in sweeps)
