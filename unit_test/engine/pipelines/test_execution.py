"""The execution pipeline end to end, in process, on tiny settings."""

from __future__ import annotations

import json

import pytest

from engine.metaprogram import validate
from engine.runner import RunFailed, execute


def make(model=None, dataset=None, seed=0, paths=None, **pipeline):
    pipeline = {
        "name": "execution",
        "epochs": 2,
        "batch_size": 64,
        "device": "cpu",
        "hooks": {"checkpoint": {}},
        **pipeline,
    }
    raw = {
        "model": model or {"name": "mlp", "hidden": 32},
        "dataset": dataset or {"name": "iris"},
        "pipeline": pipeline,
        "seed": seed,
    }
    return validate(raw, trusted=True, paths=paths)


@pytest.mark.parametrize(
    "model, dataset",
    [
        ({"name": "mlp", "hidden": 32}, {"name": "digits", "as_image": True}),
        ({"name": "cnn", "channels": [8, 16], "hidden": 32}, {"name": "digits", "as_image": True}),
        ({"name": "transformer", "d_model": 16, "heads": 2, "layers": 1, "ff_dim": 32}, {"name": "wine"}),
        ({"name": "mlp", "hidden": 16}, {"name": "breast_cancer"}),
        ({"name": "mlp", "hidden": 16}, {"name": "synthetic_classification", "n_samples": 200, "n_classes": 3}),
    ],
)
def test_each_model_trains_on_classification_data(model, dataset, paths):
    results = execute(make(model, dataset), paths)
    metrics = results["metrics"]
    assert results["status"] == "completed" and metrics["epochs"] == 2
    assert 0.0 <= metrics["test/accuracy"] <= 1.0 and 0.0 <= metrics["test/f1_macro"] <= 1.0
    assert metrics["parameters"] > 0


@pytest.mark.parametrize("dataset", [{"name": "diabetes"}, {"name": "synthetic_regression", "n_samples": 300}])
def test_regression_reports_mse_mae_r2_in_target_units(dataset, paths):
    metrics = execute(make(dataset=dataset, epochs=30, optim={"lr": 0.01}), paths)["metrics"]
    assert metrics["test/mse"] > 0 and metrics["test/mae"] > 0
    assert metrics["test/mse"] == pytest.approx(metrics["test/mse"])  # not NaN
    assert metrics["test/r2"] > 0.0  # learnt something beyond the mean
    if dataset["name"] == "diabetes":
        assert metrics["test/mae"] > 10  # targets are ~25..346: units, not standardised values


@pytest.mark.parametrize("optim", ["sgd", "adam", "adamw"])
@pytest.mark.parametrize("schedule", ["constant", "cosine", "step", "exponential", "onecycle"])
def test_every_optimizer_and_schedule_runs(optim, schedule, paths):
    mp = make(optim={"name": optim, "lr": 0.01}, schedule={"name": schedule, "warmup_epochs": 1, "step_size": 1})
    assert execute(mp, paths)["status"] == "completed"


def test_same_metaprogram_and_seed_give_the_same_metrics(tmp_path):
    from engine.paths import Paths

    first = execute(make(seed=3), Paths(data_root="d", model_root="m", cache_root="c", output_root=str(tmp_path / "a")))
    second = execute(
        make(seed=3), Paths(data_root="d", model_root="m", cache_root="c", output_root=str(tmp_path / "b"))
    )
    assert first["metrics"] == second["metrics"]
    other = execute(make(seed=4), Paths(data_root="d", model_root="m", cache_root="c", output_root=str(tmp_path / "a")))
    assert other["metrics"] != first["metrics"]


def test_early_stopping_stops_before_the_planned_epochs(paths):
    mp = make(epochs=200, optim={"lr": 0.05}, hooks={"early_stopping": {"patience": 2}})
    metrics = execute(mp, paths)["metrics"]
    assert metrics["epochs"] < 200 and metrics["best_epoch"] <= metrics["epochs"]


def test_reports_each_epoch(paths):
    seen = []
    execute(make(epochs=3), paths, report=seen.append)
    assert [m["epoch"] for m in seen] == [1, 2, 3]
    assert {"train/loss", "val/loss", "val/accuracy", "lr"} <= set(seen[0])


def test_local_csv_and_jsonl(paths):
    from pathlib import Path

    data = Path(paths.data_root)
    data.mkdir(parents=True)
    rows = [(i % 7 * 0.5, (i * 3) % 5, "big" if i % 7 > 3 else "small") for i in range(120)]
    (data / "t.csv").write_text("a,b,label\n" + "\n".join(f"{a},{b},{c}" for a, b, c in rows))
    (data / "t.jsonl").write_text("\n".join(json.dumps({"a": a, "b": b, "label": c}) for a, b, c in rows))
    for name, file in (("csv", "t.csv"), ("jsonl", "t.jsonl")):
        mp = make(dataset={"name": name, "file": file, "target": "label"}, paths=paths, epochs=40, optim={"lr": 0.05})
        assert execute(mp, paths)["metrics"]["test/accuracy"] >= 0.9  # label is a function of column a


def test_a_bad_data_file_fails_with_its_reason_recorded(paths):
    from pathlib import Path

    Path(paths.data_root).mkdir(parents=True)
    (Path(paths.data_root) / "bad.csv").write_text("a,label\nx,1\n2,0\n")
    mp = make(dataset={"name": "csv", "file": "bad.csv", "target": "label"}, paths=paths)
    with pytest.raises(RunFailed, match="'x' is not a number"):
        execute(mp, paths)
    recorded = json.loads((paths.run_dir(mp.id) / "results.json").read_text())
    assert recorded["status"] == "failed" and recorded["metrics"] == {}


def test_cnn_on_tabular_data_fails_at_build_time_with_sizes(paths):
    with pytest.raises(RunFailed, match=r"cnn needs images.*\(13,\)"):
        execute(make(model={"name": "cnn"}, dataset={"name": "wine"}), paths)


def test_time_limit_stops_the_run_as_failed(paths):
    mp = make(epochs=10_000, resources={"time_limit_s": 0.5}, hooks={})
    with pytest.raises(RunFailed, match="time limit"):
        execute(mp, paths)


def test_resume_from_a_checkpoint_ends_like_an_uninterrupted_run(tmp_path):
    """Stop after 3 of 6 epochs (as a kill would), start again: same metrics as 6 straight."""
    from engine.paths import Paths
    from engine.runner import Interrupted

    def paths_in(name):
        return Paths(data_root="d", model_root="m", cache_root="c", output_root=str(tmp_path / name))

    mp = make(
        epochs=6,
        model={"name": "mlp", "hidden": 32, "dropout": 0.2},
        schedule={"name": "cosine"},
        hooks={"checkpoint": {}, "early_stopping": {"patience": 100}},
    )
    straight = execute(mp, paths_in("straight"))["metrics"]

    def stop_after_three(metrics):
        if metrics["epoch"] == 3:
            raise Interrupted()

    with pytest.raises(Interrupted):
        execute(mp, paths_in("resumed"), report=stop_after_three)
    record = json.loads((paths_in("resumed").run_dir(mp.id) / "results.json").read_text())
    assert record["status"] == "interrupted"
    resumed = execute(mp, paths_in("resumed"))["metrics"]
    assert resumed == straight
