"""util/tune_batch.py's packs, driven by hand: Tune's side is played by the test (no Ray is started), the studies are
real suite studies, the searchers are fakes that hand out numbered points and remember what came back."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from database.store import Database
from util.tune_batch import Study, StudyMux


def begin(db: Database, sweep: Any) -> None:
    db.begin_study(sweep.record(sweep.count))


class NumberedSearcher:
    """A fake searcher: the n-th suggestion has lr n/1000; raises at suggestion `fail_at` (as a planner with no valid
    proposal does)."""

    def __init__(self, fail_at: int | None = None):
        self.handed, self.back, self.fail_at = 0, [], fail_at

    def suggest(self) -> dict[str, Any]:
        if self.handed == self.fail_at:
            raise RuntimeError("no valid proposal")
        self.handed += 1
        return {"pipeline.optim.lr": self.handed / 1000}

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        self.back.append((round(params["pipeline.optim.lr"] * 1000), value))


def studies(tmp_path, monkeypatch, n: int, count: int, concurrency: int = 2, fail_at: dict | None = None):
    from util.tune_suite import compose_bases, expand

    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path / "out"))
    suite = {
        "suite": "packs",
        "count": count,
        "overrides": ["pipeline.epochs=1", "pipeline.device=cpu"],
        "tune": {"concurrency": concurrency},
        "tasks": {"iris": {"dataset": "classification/iris"}},
        "models": {
            "mlp": {"model": "classic/mlp", "space": {"pipeline.optim.lr": {"type": "uniform", "low": 0, "high": 1}}}
        },
        "studies": [{"models": ["mlp"], "algorithms": ["random"], "seeds": list(range(n))}],
    }
    sweeps = expand(suite, "packs.yaml")
    compose_bases(sweeps)
    out = []
    for i, sweep in enumerate(sweeps):
        study = Study(i, sweep, sweep.study_id, "val/accuracy", "max")
        study.searcher = NumberedSearcher((fail_at or {}).get(i))
        out.append(study)
    return out


def items_of(config: dict[str, Any]) -> list[tuple[int, int]]:
    return [(item["study"], item["order"]) for item in config["items"]]


def test_a_pack_takes_the_earliest_studies_first_each_within_its_concurrency(tmp_path, monkeypatch):
    batch = studies(tmp_path, monkeypatch, n=3, count=5, concurrency=2)
    mux = StudyMux(batch, slots=1, pack_seconds=100.0)
    assert mux.pack_size() == 6  # the fair share: 3 studies x 2 at once, over 1 slot
    first = mux.suggest("t0")
    assert items_of(first) == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert first["items"][0]["params"] == {"pipeline.optim.lr": 0.001}
    assert mux.suggest("t1") is None  # every study has 2 running: nothing until a result comes back
    back = {"item": 0, "run_status": "completed", "objective": 0.9, "val/accuracy": 0.9, "item_s": 0.5}
    mux.on_trial_result("t0", {"items": [back]})
    assert items_of(mux.suggest("t2")) == [(0, 2)]  # study 0 has room for one more, the others none
    assert batch[0].searcher.back == [(1, 0.9)]  # the first point (lr 1/1000) and its objective
    # the pack holds ~pack_seconds of the items' measured seconds (here 2 s of 0.5 s items)
    mux.pack_seconds = 2.0
    assert mux.pack_size() == 4


def test_every_item_comes_back_in_order_and_a_failed_item_fails_alone(tmp_path, monkeypatch):
    from util.tune_batch import _recorder_class

    batch = studies(tmp_path, monkeypatch, n=2, count=3)
    db_url = str(tmp_path / "packs.db")
    with Database(db_url) as db:
        for study in batch:
            begin(db, study.sweep)
    mux = StudyMux(batch, slots=2)
    recorder = _recorder_class()(batch, db_url)
    written = []
    recorder.on_study = lambda study: written.append(study.study_id)
    packs = 0
    while (config := mux.suggest(f"t{packs}")) != "FINISHED":
        assert config is not None  # played one pack at a time, so a study always has room
        trial = SimpleNamespace(trial_id=f"t{packs}", config=config, error_file=None)
        packs += 1
        back = []
        for number, (index, order) in enumerate(items_of(config)):
            if (index, order) == (1, 1):  # this run failed in the worker: the pack goes on
                result = {"run_status": "failed", "error": "RunFailedOnWorker: run x failed: diverged"}
            else:
                result = {"run_status": "completed", "objective": 0.5 + order / 10, "val/accuracy": 0.5 + order / 10}
            back.append({**result, "item": number, "item_s": 0.1, "run_id": f"run{index}{order}", "wall_s": 0.1})
        # the worker reports items that end close together in one go (two of one study, at times); the first pack's
        # first item comes back alone
        for report in [back[:1], back[1:]] if packs == 1 else [back]:
            mux.on_trial_result(trial.trial_id, {"objective": None, "items": report, "pid": 7})
            recorder.on_trial_result(0, [], trial, {"objective": None, "items": report, "pid": 7})
        mux.on_trial_complete(trial.trial_id)
        recorder.on_trial_complete(0, [], trial)
    assert packs < 6  # items travel together: fewer Tune trials than engine trials
    assert written == [batch[0].study_id, batch[1].study_id]
    assert batch[1].searcher.back == [(1, 0.5), (2, None), (3, 0.7)]
    with Database(db_url) as db:
        for study in batch:
            assert db.study(study.study_id)["status"] == "complete"
        trials = [db.trials(study.study_id) for study in batch]
    assert [(t["order"], t["status"], t["objective"]) for t in trials[0]] == [
        (0, "completed", 0.5),
        (1, "completed", 0.6),
        (2, "completed", 0.7),
    ]
    assert [t["status"] for t in trials[1]] == ["completed", "failed", "completed"]
    assert trials[1][1]["error"] == "RunFailedOnWorker: run x failed: diverged" and trials[1][1]["run_id"] == "run11"
    assert [t["params"] for t in trials[1]] == [{"pipeline.optim.lr": lr} for lr in (0.001, 0.002, 0.003)]


def test_items_a_trial_never_reported_fail_with_it(tmp_path, monkeypatch):
    from util.tune_batch import _recorder_class

    batch = studies(tmp_path, monkeypatch, n=1, count=3, concurrency=3)
    mux = StudyMux(batch, slots=1)
    recorder = _recorder_class()(batch, str(tmp_path / "unused.db"))
    recorder.flush = lambda studies=None: None  # records stay on the driver here
    config = mux.suggest("t0")
    assert items_of(config) == [(0, 0), (0, 1), (0, 2)]
    trial = SimpleNamespace(trial_id="t0", config=config, error_file=str(tmp_path / "error.txt"))
    (tmp_path / "error.txt").write_text("Traceback ...\nRayActorError: the worker died\n")
    result = {"items": [{"item": 0, "run_status": "completed", "objective": 0.8, "val/accuracy": 0.8}]}
    mux.on_trial_result("t0", result)
    recorder.on_trial_result(0, [], trial, result)
    mux.on_trial_complete("t0", error=True)
    recorder.on_trial_error(0, [], trial)
    assert batch[0].searcher.back == [(1, 0.8), (2, None), (3, None)]
    assert [(t["status"], t["error"]) for t in batch[0].trials.values()] == [
        ("completed", None),
        ("failed", "RayActorError: the worker died"),
        ("failed", "RayActorError: the worker died"),
    ]
    assert batch[0].done and not batch[0].pending


def test_a_study_whose_searcher_raises_is_failed_and_the_others_go_on(tmp_path, monkeypatch):
    batch = studies(tmp_path, monkeypatch, n=2, count=3, concurrency=1, fail_at={0: 1})
    mux = StudyMux(batch, slots=1)
    config = mux.suggest("t0")
    assert items_of(config) == [(0, 0), (1, 0)]
    mux.on_trial_result(
        "t0", {"items": [{"item": n, "run_status": "completed", "val/accuracy": 0.5} for n in range(2)]}
    )
    mux.on_trial_complete("t0")
    assert items_of(mux.suggest("t1")) == [(1, 1)]  # study 0's searcher raised: failed, study 1 goes on
    assert batch[0].error == "RuntimeError: no valid proposal" and batch[0].done
    assert not batch[1].done


@pytest.mark.parametrize("concurrency, slots, expected", [(2, 2, 2), (4, 1, 8)])
def test_the_pack_size_is_a_fair_share_of_what_may_run(tmp_path, monkeypatch, concurrency, slots, expected):
    batch = studies(tmp_path, monkeypatch, n=2, count=25, concurrency=concurrency)
    # no item measured yet: ~2 s of 0.25 s items = 8, capped by the share of the open studies' concurrency
    assert StudyMux(batch, slots=slots).pack_size() == expected


def test_a_report_that_ends_a_study_with_several_of_its_items_writes_it_once(tmp_path, monkeypatch):
    from util.tune_batch import _recorder_class

    batch = studies(tmp_path, monkeypatch, n=1, count=2)
    db_url = str(tmp_path / "once.db")
    with Database(db_url) as db:
        begin(db, batch[0].sweep)
    mux, recorder, written = StudyMux(batch, slots=1), _recorder_class()(batch, db_url), []
    recorder.on_study = lambda study: written.append(study.study_id)
    config = mux.suggest("t0")
    assert items_of(config) == [(0, 0), (0, 1)]
    done = {"run_status": "completed", "objective": 0.7, "val/accuracy": 0.7}
    report = {"objective": None, "items": [{**done, "item": 0}, {**done, "item": 1}], "pid": 7}
    mux.on_trial_result("t0", report)
    recorder.on_trial_result(0, [], SimpleNamespace(trial_id="t0", config=config), report)
    assert written == [batch[0].study_id]
    with Database(db_url) as db:
        assert db.study(batch[0].study_id)["status"] == "complete"
