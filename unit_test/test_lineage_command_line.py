"""Building on recorded runs, end to end through run_metaprogram.py: `model.init_from` (fine-tuning from a
completed run's weights), `pipeline.mode=test` (evaluating a trained run on another dataset), `+from_run`
(composing from a recorded run), the runs table's parent and children, and the how-to that does all of it
from Python."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import subprocess
import sys

import pytest
import yaml

from unit_test.helpers import REPO, files_under, run_cli

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("lineage")]

TINY = ["+metaprogram/component/pipeline=execution", "+metaprogram/component/model=classic/mlp", "+path=default",
        "pipeline.epochs=1", "model.hidden=16", "~pipeline.hooks.progress"]  # fmt: skip
IRIS = [*TINY, "+metaprogram/component/dataset=classification/iris"]
# another dataset with iris's shape (4 features, 3 classes)
OTHER = [*TINY, "+metaprogram/component/dataset=synthetic/classification", "dataset.n_samples=150",
         "dataset.n_features=4", "dataset.n_informative=3", "dataset.n_classes=3"]  # fmt: skip


@pytest.fixture(scope="module")
def lineage(tmp_path_factory):
    """One output root with a trained parent on iris (shared by this module's tests: a training run costs seconds)."""
    base = tmp_path_factory.mktemp("lineage")
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    for key, sub in (("DATA", "data"), ("MODEL", "models"), ("CACHE", "cache"), ("OUTPUT", "out")):
        env[f"METAPROGRAM_{key}_ROOT"] = str(base / sub)
    done = run_cli(IRIS, env, base)
    assert done.returncode == 0, done.stderr
    parent = _id(done.stdout)
    return {"env": env, "cwd": base, "out": base / "out", "parent": parent}


def _id(stdout: str) -> str:
    return next(line.split()[1] for line in stdout.splitlines() if line.startswith("id: "))


def _runs(out) -> set[str]:
    return {p.name for p in (out / "runs").iterdir()} if (out / "runs").is_dir() else set()


def test_a_run_starts_from_a_parent_weights_and_is_evaluated_on_another_dataset(lineage):
    env, cwd, out, parent = lineage["env"], lineage["cwd"], lineage["out"], lineage["parent"]
    weights = out / "runs" / parent / "model.pt"
    assert weights.is_file()

    tuned = run_cli([*IRIS, f"model.init_from={parent[:6]}", "pipeline.optim.lr=0.01"], env, cwd)
    assert tuned.returncode == 0, tuned.stderr
    child = _id(tuned.stdout)
    assert child != parent
    recorded = yaml.safe_load((out / "runs" / child / "metaprogram.yaml").read_text())
    assert recorded["model"]["init_from"] == parent  # the prefix written out in full
    results = json.loads((out / "runs" / child / "results.json").read_text())
    assert results["inputs"]["model.init_from"]["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert f"starting from the weights of run {parent}" in (out / "runs" / child / "run.log").read_text()

    tested = run_cli([*OTHER, f"model.init_from={child}", "pipeline.mode=test"], env, cwd)
    assert tested.returncode == 0, tested.stderr
    test_dir = out / "runs" / _id(tested.stdout)
    metrics = json.loads((test_dir / "results.json").read_text())["metrics"]
    assert 0.0 <= metrics["test/accuracy"] <= 1.0 and not any(k.startswith(("val/", "train/")) for k in metrics)
    with open(test_dir / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 30 and set(rows[0]) == {"row", "target", "prediction", "probability"}  # 20% of 150
    accuracy = sum(r["target"] == r["prediction"] for r in rows) / len(rows)
    assert accuracy == pytest.approx(metrics["test/accuracy"])
    assert not (test_dir / "model.pt").exists()  # it trained nothing

    # the runs table: the parent lists its child, the child its parent and its own child (the test run)
    shown = subprocess.run([sys.executable, "-m", "database", "runs", "show", parent[:8]], env=env, cwd=cwd,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert "children (runs built on this one):" in shown.stdout and child in shown.stdout
    shown = subprocess.run([sys.executable, "-m", "database", "runs", "show", child, "--format", "json"], env=env,
                           cwd=cwd, capture_output=True, text=True, timeout=60)  # fmt: skip
    record = json.loads(shown.stdout)
    assert record["parent"] == parent and record["children"] == [test_dir.name]


def test_a_missing_unfinished_or_incompatible_parent_is_refused(lineage):
    env, cwd, out, parent = lineage["env"], lineage["cwd"], lineage["out"], lineage["parent"]
    failed = out / "runs" / "f00dfeedf00dfeed"  # a run that failed: its weights are not built on
    failed.mkdir()
    (failed / "results.json").write_text(json.dumps({"status": "failed", "metrics": {}, "objective": {},
                                                     "timings": {}}))  # fmt: skip
    (failed / "model.pt").write_bytes(b"not trained")
    before = files_under(out / "runs")
    for value, says in (
        (parent[:4] + "0000", f"did you mean '{parent}'"),
        ("../../etc/passwd", "should match pattern"),  # untrusted or not, never a path
        ("f00dfeed", "did not complete (its status is failed)"),
    ):
        refused = run_cli([*IRIS, f"model.init_from={value}"], env, cwd)
        assert refused.returncode == 2 and says in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
        assert "Nothing was run or written." in refused.stderr
    assert files_under(out / "runs") == before

    # weights that do not fit the model this run builds are refused before the run starts: other inputs (wine has
    # 13 features), another width, more layers; the error names the tensor and nothing is recorded
    for changes, says in (
        (["+metaprogram/component/dataset=classification/wine"], "(16, 4) there, (16, 13) here"),
        (["+metaprogram/component/dataset=classification/iris", "model.hidden=32"], "(16, 4) there, (32, 4) here"),
        (["+metaprogram/component/dataset=classification/iris", "model.layers=3"], "is missing there"),
    ):
        wrong = run_cli([*TINY, *changes, f"model.init_from={parent}"], env, cwd)
        assert wrong.returncode == 2 and "model.init_from: the weights of run" in wrong.stderr, wrong.stderr
        assert says in wrong.stderr and "Traceback" not in wrong.stderr, wrong.stderr
    assert files_under(out / "runs") == before


def test_from_run_composes_from_a_recorded_run_then_applies_the_overrides(lineage):
    env, cwd, out, parent = lineage["env"], lineage["cwd"], lineage["out"], lineage["parent"]
    same = run_cli([f"+from_run={parent[:5]}", "dry_run=true"], env, cwd)
    assert same.returncode == 0, same.stderr
    assert _id(same.stdout) == parent  # nothing changed: the same experiment, the same id

    changed = run_cli([f"+from_run={parent[:5]}", "pipeline.optim.lr=0.02", "seed=3"], env, cwd)
    assert changed.returncode == 0, changed.stderr
    run_dir = out / "runs" / _id(changed.stdout)
    mine = yaml.safe_load(run_dir.joinpath("metaprogram.yaml").read_text())
    theirs = yaml.safe_load((out / "runs" / parent / "metaprogram.yaml").read_text())
    assert mine["pipeline"]["optim"]["lr"] == 0.02 and mine["seed"] == 3
    mine["pipeline"]["optim"]["lr"], mine["seed"] = theirs["pipeline"]["optim"]["lr"], theirs["seed"]
    assert mine == theirs
    assert yaml.safe_load(run_dir.joinpath("overrides.yaml").read_text())[0] == f"+from_run={parent}"
    assert json.loads(run_dir.joinpath("results.json").read_text())["from_run"] == parent

    swapped = run_cli([f"+from_run={parent}", "+metaprogram/component/dataset=classification/wine",
                       "dry_run=true"], env, cwd)  # fmt: skip
    assert swapped.returncode == 0 and "name: wine" in swapped.stdout and "hidden: 16" in swapped.stdout

    before = files_under(out)
    for args, says in (
        ([f"+from_run={parent[:4]}1234"], f"did you mean '{parent}'"),
        ([f"+from_run={parent}", "model.hiden=3"], "model.hiden: unknown key; did you mean 'hidden'?"),
    ):
        refused = run_cli(args, env, cwd)
        assert refused.returncode == 2 and says in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    damaged = out / "runs" / "0123456789abcdef"
    damaged.mkdir()
    (damaged / "metaprogram.yaml").write_text("model: [unclosed\n")
    before = files_under(out)
    refused = run_cli(["+from_run=0123456789ab"], env, cwd)
    assert refused.returncode == 2 and "metaprogram.yaml is missing or damaged" in refused.stderr
    assert "Traceback" not in refused.stderr and files_under(out) == before


def test_the_how_to_fine_tunes_evaluates_and_reads_the_lineage_from_python(tmp_path, cli_env):
    script = REPO / "util" / "how_tos" / "fine_tune_and_evaluate.py"
    done = subprocess.run([sys.executable, "-B", str(script), "--epochs", "1"], env=cli_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    ids = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines() if line[:1].isalpha() and "  " in line}
    parent, tuned, tested, variant = (ids[k] for k in ("parent", "fine-tuned", "evaluated", "variant"))
    assert len({parent, tuned, tested, variant}) == 4
    out = tmp_path / "out" / "runs"
    assert (out / tested / "predictions.csv").is_file()
    lineage = {line.split()[0]: line.split()[3] for line in done.stdout.splitlines() if " parent " in line}
    assert lineage == {parent: "-", tuned: parent, tested: tuned, variant: parent}
    assert yaml.safe_load((out / variant / "metaprogram.yaml").read_text())["pipeline"]["optim"]["lr"] == 1e-3
