"""The training hooks: gradient clipping, learning-rate logging, learning curves, MLflow, W&B."""

from __future__ import annotations

import csv
import json

import pytest
import torch

from engine.hooks import build_hooks
from engine.hooks.base import TrainState
from engine.metaprogram import validate
from engine.paths import Paths
from engine.runner import execute


@pytest.fixture
def roots(tmp_path):
    return Paths(
        data_root=str(tmp_path / "data"),
        model_root=str(tmp_path / "models"),
        cache_root=str(tmp_path / "cache"),
        output_root=str(tmp_path / "out"),
    )


def small_run(hooks: dict, epochs: int = 3) -> dict:
    return {
        "model": {"name": "mlp", "hidden": 32, "layers": 1},
        "dataset": {"name": "iris"},
        "pipeline": {"name": "execution", "epochs": epochs, "batch_size": 16, "device": "cpu", "hooks": hooks},
    }


def test_grad_clip_bounds_the_gradient_norm():
    model = torch.nn.Linear(4, 3)
    (hook,) = build_hooks({"grad_clip": {"max_norm": 0.01}})
    state = TrainState(model, torch.optim.SGD(model.parameters(), lr=0.1), None, 1, ("val/loss", "min"), [hook])
    (model(torch.randn(8, 4) * 100).pow(2).sum()).backward()
    hook.on_after_backward(state)
    total = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()]))
    assert total <= 0.01 + 1e-6
    metrics: dict = {}
    hook.on_epoch_end(state, metrics, None)
    assert metrics["grad_norm"] > 1.0  # the norm before clipping is reported


@pytest.mark.integration  # a whole run with matplotlib plots
def test_lr_logger_plot_and_grad_clip_in_a_run(roots):
    hooks = {"grad_clip": {"max_norm": 0.5}, "lr_logger": {"every_step": True}, "plot": {}}
    raw = small_run(hooks)
    raw["pipeline"]["schedule"] = {"name": "cosine"}
    mp = validate(raw, trusted=True)
    results = execute(mp, roots)
    run_dir = roots.run_dir(mp.id)
    rows = list(csv.DictReader((run_dir / "lr.csv").open()))
    steps_per_epoch = -(-int(0.65 * 150) // 16)
    assert len(rows) == 3 * steps_per_epoch
    assert float(rows[-1]["lr"]) < float(rows[0]["lr"])  # the cosine schedule decays
    png = run_dir / "learning_curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    assert results["status"] == "completed"


@pytest.mark.integration  # a real MLflow store
def test_mlflow_hook_records_params_metrics_and_artifacts(roots):
    mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    mp = validate(small_run({"mlflow": {}, "plot": {}}), trusted=True)
    execute(mp, roots)
    store = roots.root("output_root") / "mlflow.db"
    assert store.exists()
    mlflow.set_tracking_uri(f"sqlite:///{store}")
    (run,) = mlflow.search_runs(experiment_names=["metaprogram-runner"], output_format="list")
    assert run.data.params["model.hidden"] == "32" and run.data.params["pipeline.epochs"] == "3"
    assert run.data.tags["metaprogram.id"] == mp.id
    history = mlflow.MlflowClient().get_metric_history(run.info.run_id, "val/accuracy")
    assert [m.step for m in history] == [1, 2, 3]
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"metaprogram.yaml", "learning_curves.png"} <= artifacts
    assert (roots.root("output_root") / "mlartifacts").is_dir()  # beside the store, not in ./mlruns
    assert run.info.status == "FINISHED"
    results = json.loads((roots.run_dir(mp.id) / "results.json").read_text())
    assert run.data.metrics["final/test/accuracy"] == pytest.approx(results["metrics"]["test/accuracy"])


@pytest.mark.integration  # a real W&B offline run
def test_wandb_hook_writes_an_offline_run(roots):
    pytest.importorskip("wandb", reason="the wandb extra is not installed")
    mp = validate(small_run({"wandb": {}}, epochs=2), trusted=True)
    execute(mp, roots)
    runs = list((roots.run_dir(mp.id) / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    (log,) = runs[0].glob("*.wandb")  # the offline record log, ready for `wandb sync`
    blob = log.read_bytes()
    assert b"val/accuracy" in blob and b"test/accuracy" in blob  # per-epoch metrics and the final summary


def test_unknown_hook_setting_is_a_validation_error():
    from engine.metaprogram import MetaprogramError

    with pytest.raises(MetaprogramError) as err:
        validate(small_run({"grad_clip": {"max_nrm": 1}}), trusted=True)
    assert "did you mean 'max_norm'" in str(err.value)
    with pytest.raises(MetaprogramError, match="path keys"):
        validate(small_run({"mlflow": {"tracking_uri": "file:///etc"}}), trusted=False)


def test_tracking_params_are_the_flattened_metaprogram(tmp_path):
    from engine.hooks.tracking import flat_metaprogram

    (tmp_path / "metaprogram.yaml").write_text(json.dumps({"model": {"name": "mlp", "hidden": 3}, "seed": 1}))
    assert flat_metaprogram(tmp_path) == {"model.name": "mlp", "model.hidden": 3, "seed": 1}
