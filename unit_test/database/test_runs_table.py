"""The runs table: every run recorded by the runner, concurrent writers, filters, sort, columns, diff, show, CLI."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from database import runs as table
from database.cli import main
from database.store import Database
from engine.metaprogram import validate
from engine.runner import RunFailed, execute
from unit_test.helpers import REPO, a_study


def sleep_mp(**pipeline):
    settings = {"name": "sleep", "epochs": 2, "seconds": 0.0, **pipeline}
    return validate({"model": {"name": "mlp"}, "dataset": {"name": "iris"}, "pipeline": settings}, trusted=True)


def record(run_id: str, *, status="completed", started="2025-03-01T10:00:00+00:00", metrics=None, **settings):
    """A fabricated run as the database holds it (for the table's own logic)."""
    mp = {
        "model": {"name": settings.pop("model", "mlp"), "hidden": settings.pop("hidden", 64)},
        "dataset": {"name": settings.pop("dataset", "iris")},
        "pipeline": {"name": settings.pop("pipeline", "execution"), "optim": {"lr": settings.pop("lr", 0.001)}},
        "seed": 0,
    }
    metrics = metrics if metrics is not None else {"val/accuracy": 0.9, "val/loss": 0.3}
    results = {
        "id": run_id,
        "status": status,
        "metrics": metrics,
        "objective": {"metric": "val/accuracy", "mode": "max", "value": metrics.get("val/accuracy")},
        "timings": {"started": started, "finished": started, "wall_s": 1.5},
        "error": "boom" if status == "failed" else None,
    }
    return run_id, mp, results


@pytest.fixture
def db(tmp_path):
    with Database(tmp_path / "metaprogram.db") as db:
        for args in (
            record("aaaa1111", metrics={"val/accuracy": 0.95, "val/loss": 0.2}, lr=0.01),
            record("aaaa2222", metrics={"val/accuracy": 0.80, "val/loss": 0.5}, lr=0.1, hidden=32),
            record("bbbb3333", status="failed", metrics={}, started="2025-03-05T10:00:00+00:00"),
            record("cccc4444", model="cnn", dataset="digits", started="2025-03-09T10:00:00+00:00"),
        ):
            db.index_run(*args)
        db.begin_study(a_study("s1", requested=2))
        db.record_trial("s1", 0, run_id="aaaa1111", params={"lr": 0.01}, objective=0.95, status="completed")
        db.record_trial("s1", 1, run_id="aaaa2222", params={"lr": 0.1}, objective=0.80, status="completed")
        yield db


def test_every_run_is_recorded_by_the_runner_completed_failed_and_reused(paths):
    ok, bad = sleep_mp(x=0.4), sleep_mp(fail=True)
    execute(ok, paths)
    with pytest.raises(RunFailed):
        execute(bad, paths)
    with Database(paths.root("output_root") / "metaprogram.db") as db:
        assert db.run(ok.id)["status"] == "completed" and db.run(bad.id)["status"] == "failed"
        assert (
            db.run(ok.id)["objective"] == pytest.approx(0.01 + 0.05) and db.run(ok.id)["objective_metric"] == "val/loss"
        )
        assert "asked to fail" in db.run(bad.id)["error"]
        assert db.run(ok.id)["run_dir"] == str(paths.run_dir(ok.id))
        before = db.run(ok.id)["updated"]
    execute(ok, paths)  # reused: recorded again, still one row
    with Database(paths.root("output_root") / "metaprogram.db") as db:
        assert len(db.runs()) == 2 and db.run(ok.id)["updated"] >= before


def _writer(url: str, worker: int, n: int) -> None:
    from database.store import Database

    with Database(url) as db:
        for i in range(n):
            db.index_run(*record(f"w{worker}-{i}"))


def test_concurrent_writers_lose_no_record(tmp_path):
    url = str(tmp_path / "metaprogram.db")
    Database(url).close()
    context = multiprocessing.get_context("fork")  # like Ray workers: separate processes, one file
    workers = [context.Process(target=_writer, args=(url, w, 40)) for w in range(4)]
    for proc in workers:
        proc.start()
    for proc in workers:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    with Database(url) as db:
        assert len(db.run_ids()) == 160


def test_filters_sort_and_columns(db, tmp_path):
    runs = table.load_runs(db, tmp_path)
    ids = lambda rows: [r["id"] for r in rows]  # noqa: E731
    assert ids(table.select(runs, status="failed")) == ["bbbb3333"]
    assert set(ids(table.select(runs, model="c*"))) == {"cccc4444"}
    assert set(ids(table.select(runs, study="s*"))) == {"aaaa1111", "aaaa2222"}
    assert set(ids(table.select(runs, since="2025-03-04", until="2025-03-06"))) == {"bbbb3333"}
    assert set(ids(table.select(runs, where={"pipeline.optim.lr": 0.1}))) == {"aaaa2222"}
    assert set(ids(table.select(runs, where={"model.hidden": 64, "dataset.name": "iris"}))) == {"aaaa1111", "bbbb3333"}
    # best first: accuracy descending, loss ascending; runs without the metric last
    assert ids(table.sort_runs(runs, "val/accuracy"))[:3] == ["aaaa1111", "cccc4444", "aaaa2222"]
    assert ids(table.sort_runs(runs, "val/loss"))[:3] == ["aaaa1111", "cccc4444", "aaaa2222"]
    assert ids(table.sort_runs(runs, "val/loss"))[-1] == "bbbb3333"
    assert ids(table.sort_runs(runs, "val/accuracy", descending=False))[0] == "aaaa2222"
    assert ids(table.sort_runs(runs, None))[0] == "cccc4444"  # newest first
    text = table.render(table.sort_runs(runs, "val/accuracy"), ["id", "model.hidden", "val/accuracy", "studies"])
    lines = text.splitlines()
    assert lines[0].split() == ["id", "model.hidden", "val/accuracy", "studies"]
    assert lines[2].split() == ["aaaa1111", "64", "0.95", "s1"]
    rows = list(csv.DictReader(io.StringIO(table.render(runs, ["id", "val/loss"], "csv"))))
    assert {r["id"]: r["val/loss"] for r in rows}["aaaa2222"] == "0.5"
    assert {r["id"]: r for r in json.loads(table.render(runs, ["id", "status"], "json"))}["bbbb3333"][
        "status"
    ] == "failed"


def test_ages_and_bad_times(db):
    now = datetime(2025, 3, 10, tzinfo=UTC)
    assert table.parse_time("2d", now) == now - timedelta(days=2)
    assert table.parse_time("90m", now) == now - timedelta(minutes=90)
    with pytest.raises(table.RunsError, match="cannot read 'yesterday'"):
        table.parse_time("yesterday")


def test_diff_shows_exactly_the_differing_settings_and_metrics_side_by_side(db, tmp_path):
    runs = table.load_runs(db, tmp_path)
    d = table.diff(table.find(runs, "aaaa1"), table.find(runs, "aaaa2"))
    assert [(k, a, b) for k, a, b in d["settings"]] == [("model.hidden", 64, 32), ("pipeline.optim.lr", 0.01, 0.1)]
    assert ("val/accuracy", 0.95, 0.80) in d["metrics"]
    text = table.render_diff(d)
    assert "settings that differ (2)" in text and "-0.15" in text
    with pytest.raises(table.RunsError, match="start of 2 run ids"):
        table.find(runs, "aaaa")
    with pytest.raises(table.RunsError, match="did you mean 'cccc4444'"):
        table.find(runs, "cccc4445")
    with pytest.raises(table.RunsError, match="did you mean 'cccc4444'"):
        table.find(runs, "cccd")  # a mistyped prefix


def test_runs_on_disk_only_are_listed_and_indexed(paths):
    mp = sleep_mp(x=0.2)
    execute(mp, paths)
    out = paths.root("output_root")
    (out / "metaprogram.db").unlink()  # a run older than the database (or a lost write)
    for suffix in ("-wal", "-shm"):
        (out / f"metaprogram.db{suffix}").unlink(missing_ok=True)
    with Database(out / "metaprogram.db") as db:
        (run,) = table.load_runs(db, out)
        assert run["id"] == mp.id and run["source"] == "run directory" and run["settings"]["pipeline.x"] == 0.2
    assert main(["--root", str(out), "runs", "index"]) == 0
    with Database(out / "metaprogram.db") as db:
        assert db.run(mp.id)["status"] == "completed"
    results = paths.run_dir(mp.id) / "results.json"  # changed after it was recorded: recorded again
    results.write_text(json.dumps({**json.loads(results.read_text()), "status": "stopped"}))
    os.utime(results, (time.time() + 5, time.time() + 5))
    assert main(["--root", str(out), "runs", "index"]) == 0
    with Database(out / "metaprogram.db") as db:
        assert db.run(mp.id)["status"] == "stopped"


@pytest.mark.integration  # the command line in subprocesses
def test_cli_table_show_diff_and_clear_errors(paths, capsys):
    a, b = sleep_mp(x=0.1), sleep_mp(x=0.7, epochs=3)
    execute(a, paths)
    execute(b, paths)
    root = str(paths.root("output_root"))
    assert main(["--root", root, "runs", "--sort", "val/loss", "--columns", "id,pipeline.x,val/loss"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2].split()[0] == a.id and out[3].split()[0] == b.id  # lower loss first
    assert main(["--root", root, "runs", "diff", a.id[:6], b.id[:6]]) == 0
    text = capsys.readouterr().out
    assert "settings that differ (2)" in text and "pipeline.epochs" in text and "pipeline.x" in text
    assert main(["--root", root, "runs", "show", a.id]) == 0
    text = capsys.readouterr().out
    assert f"run {a.id}  completed" in text and "objective val/loss" in text and "metaprogram.yaml" in text

    assert main(["--root", root, "runs", "--columns", "id,val/los"]) == 2  # a typo is not an empty column
    assert (
        "column 'val/los': no run has this field, metric or setting; did you mean 'val/loss'" in capsys.readouterr().err
    )
    assert main(["--root", root, "runs", "--where", "pipeline.xx=0.1"]) == 2
    assert "did you mean 'pipeline.x'" in capsys.readouterr().err

    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    bad = subprocess.run(
        [sys.executable, "-m", "database", "--root", root, "runs", "show", "zzzz"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "no run 'zzzz'" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "database", "--root", root, "runs", "--since", "soon"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and "cannot read 'soon'" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.integration  # the command line in subprocesses
def test_the_console_script_is_installed_and_runs(tmp_path):
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "metaprogram"]
    assert script.value == "database.cli:main"
    installed = Path(sys.executable).with_name("metaprogram")  # what `make install` put beside the interpreter
    listing = subprocess.run([str(installed), "--root", str(tmp_path), "runs"], capture_output=True, text=True)
    assert listing.returncode == 0 and "0 of 0 runs" in listing.stderr + listing.stdout


def test_a_trial_stopped_by_the_scheduler_is_listed_stopped_with_its_last_metrics(paths):
    """The runner's own record of the stop already says 'stopped' (a worker torn down before mark_stopped cannot
    leave it 'interrupted'); mark_stopped then adds the last epoch's metrics."""
    from database.index import index_run_dir
    from util.tune_trial import TrialStopped, mark_stopped

    def stop_at_the_first_epoch(metrics):
        raise TrialStopped("stopped early by the scheduler")  # what the trial's report turns Ray's SystemExit into

    mp = sleep_mp(x=0.3)
    with pytest.raises(TrialStopped):
        execute(mp, paths, report=stop_at_the_first_epoch)
    run_dir = paths.run_dir(mp.id)
    assert json.loads((run_dir / "results.json").read_text())["status"] == "stopped"
    with Database(paths.root("output_root") / "metaprogram.db") as db:
        index_run_dir(db, run_dir)
        assert db.run(mp.id)["status"] == "stopped"
    mark_stopped(run_dir, 1, {"val/loss": 0.42}, paths)
    with Database(paths.root("output_root") / "metaprogram.db") as db:
        row = db.run(mp.id)
        assert row["status"] == "stopped" and row["objective"] == pytest.approx(0.42)
        assert "stopped early by the scheduler after 1 epoch" in row["error"]
    assert execute(mp, paths)["status"] == "completed"  # run again: it goes on from where it stopped


@pytest.mark.integration  # the command line in subprocesses
def test_a_multirun_from_the_command_line_lands_in_the_runs_table(cli_env, tmp_path):
    from unit_test.helpers import run_cli

    sleep = [
        "+metaprogram/component/pipeline=sleep",
        "+metaprogram/component/model=classic/mlp",
        "+metaprogram/component/dataset=classification/iris",
        "+path=default",
    ]
    result = run_cli(["-m", *sleep, "pipeline.x=0.1,0.9"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    listing = subprocess.run(
        [sys.executable, "-m", "database", "runs", "--columns", "id,pipeline.x,status", "--format", "json"],
        capture_output=True,
        text=True,
        env=cli_env,
    )
    rows = json.loads(listing.stdout)
    assert sorted((r["pipeline.x"], r["status"]) for r in rows) == [(0.1, "completed"), (0.9, "completed")]
