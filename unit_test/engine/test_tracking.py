"""Tracking every pipeline: what MLflow (read back with MlflowClient and through `mlflow server`'s REST API)
and W&B (offline files) receive, nesting under a parent, and the MLflow model of a trained run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from engine import observe
from engine.metaprogram import validate
from engine.runner import RunFailed, execute
from unit_test.mlflow_store import client, empty_store

pytestmark = pytest.mark.integration  # real trackers (MLflow, W&B), an mlflow server

mlflow = pytest.importorskip("mlflow", reason="the mlflow extra is not installed")


def sleep_run(hooks: dict, **pipeline) -> object:
    """The sleep pipeline (no torch, known metrics: val/loss = (x - 0.3)^2 + 0.1 / epoch) with these hooks."""
    settings = {"name": "sleep", "epochs": 3, "seconds": 0.0, "hooks": hooks, **pipeline}
    return validate({"model": {"name": "mlp"}, "dataset": {"name": "iris"}, "pipeline": settings}, trusted=True)


def runs_of(out, experiment: str = "metaprogram-runner") -> list:
    c = client(out)
    return c.search_runs([c.get_experiment_by_name(experiment).experiment_id], order_by=["attributes.start_time"])


def test_a_non_training_pipeline_is_tracked_params_steps_final_metrics_files_and_status(paths):
    out = paths.root("output_root")
    empty_store(out)
    mp = sleep_run({"mlflow": {}}, x=0.5)
    results = execute(mp, paths)
    failing = sleep_run({"mlflow": {}}, fail=True)
    with pytest.raises(RunFailed):
        execute(failing, paths)

    ok, bad = runs_of(out)
    c = client(out)
    assert ok.info.run_name == mp.id and ok.data.tags["metaprogram.id"] == mp.id
    assert ok.data.tags["metaprogram.pipeline"] == "sleep" and ok.info.status == "FINISHED"
    assert ok.data.params["pipeline.x"] == "0.5" and ok.data.params["pipeline.epochs"] == "3"
    history = c.get_metric_history(ok.info.run_id, "val/loss")
    assert [m.step for m in history] == [1, 2, 3]
    assert [m.value for m in history] == pytest.approx([0.04 + 0.1 / e for e in (1, 2, 3)])
    assert ok.data.metrics["final/val/loss"] == pytest.approx(results["metrics"]["val/loss"])
    assert {"metaprogram.yaml", "run.log", "overrides.yaml"} <= {a.path for a in c.list_artifacts(ok.info.run_id)}
    assert bad.info.status == "FAILED" and bad.data.tags["metaprogram.status"] == "failed"


def test_a_reused_run_is_logged_again_marked_reused_and_trackers_leave_the_id_alone(paths):
    out = paths.root("output_root")
    empty_store(out)
    plain = sleep_run({})
    tracked = sleep_run({"mlflow": {}})
    execute(plain, paths)
    again = execute(tracked, paths)
    if plain.id == tracked.id:  # trackers are observers: the same experiment, reused
        assert again["reused"]
        (run,) = runs_of(out)
        assert run.data.tags["metaprogram.reused"] == "true" and run.info.status == "FINISHED"
        assert run.data.metrics["final/val/loss"] == pytest.approx(again["metrics"]["val/loss"])
    else:  # the identity still hashes the hooks: tracked, computed
        (run,) = runs_of(out)
        assert "metaprogram.reused" not in run.data.tags


@pytest.mark.integration  # the command line in subprocesses
def test_children_nest_under_a_sweep_run_and_mlflow_server_serves_them_over_rest(paths, tmp_path):
    """Through `mlflow server` on loopback: the experiment, the sweep's run, its nested runs and their metrics."""
    out = paths.root("output_root")
    empty_store(out)
    base = sleep_run({"mlflow": {}})
    params = {"sweep.algorithm": "random", "sweep.metric": "val/loss"}
    with observe.sweep_run("study-rest", base, params, paths) as sweep:
        for x in (0.1, 0.6):
            with observe.parent_context(sweep.link):  # what a Ray worker does for a trial
                execute(sleep_run({"mlflow": {}}, x=x), paths)
        sweep.summary = {"best_objective": 0.14}

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{out / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        base_url = f"http://127.0.0.1:{port}"
        _wait_for(base_url + "/health", server, tmp_path / "server.log")
        q = urllib.parse.urlencode({"experiment_name": "metaprogram-runner"})
        experiment = _get(f"{base_url}/api/2.0/mlflow/experiments/get-by-name?{q}")["experiment"]
        found = _post(f"{base_url}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment["experiment_id"]]})
        runs = {r["info"]["run_name"]: r for r in found["runs"]}
        assert len(runs) == 3
        parent = runs["study-rest"]
        tags = lambda r: {t["key"]: t["value"] for t in r["data"].get("tags", [])}  # noqa: E731
        children = [r for name, r in runs.items() if name != "study-rest"]
        assert all(tags(c)["mlflow.parentRunId"] == parent["info"]["run_id"] for c in children)
        assert {m["key"]: m["value"] for m in parent["data"]["metrics"]}["final/best_objective"] == 0.14
        for child in children:
            q = urllib.parse.urlencode({"run_id": child["info"]["run_id"], "metric_key": "val/loss"})
            history = _get(f"{base_url}/api/2.0/mlflow/metrics/get-history?{q}")["metrics"]
            assert [m["step"] for m in history] == [1, 2, 3]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_wandb_logs_offline_in_the_run_directory_grouped_under_its_parent(paths):
    pytest.importorskip("wandb", reason="the wandb extra is not installed")
    mp = sleep_run({"wandb": {}})
    with observe.parent_context({"wandb": {"settings": {}, "group": "study-wandb"}}):
        execute(mp, paths)
    (offline,) = (paths.run_dir(mp.id) / "wandb").glob("offline-run-*")
    (log,) = offline.glob("*.wandb")  # the offline record log, ready for `wandb sync`
    blob = log.read_bytes()
    assert b"study-wandb" in blob and b"val/loss" in blob and b"final/val/loss" in blob


def test_log_model_logs_the_trained_model_as_an_mlflow_model(paths):
    torch = pytest.importorskip("torch")
    out = paths.root("output_root")
    empty_store(out)
    raw = {
        "model": {"name": "mlp", "hidden": 16, "layers": 1},
        "dataset": {"name": "iris"},
        "pipeline": {"name": "execution", "epochs": 2, "device": "cpu", "hooks": {"mlflow": {"log_model": True}}},
    }
    mp = validate(raw, trusted=True)
    execute(mp, paths)
    (run,) = runs_of(out)
    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    model = mlflow.pytorch.load_model(f"runs:/{run.info.run_id}/model")
    logits = model(torch.zeros(5, 4))
    assert logits.shape == (5, 3)  # iris: 4 features in, 3 classes out
    assert run.info.status == "FINISHED"


def test_a_training_hook_on_a_pipeline_that_does_not_train_is_a_clear_error(paths):
    with pytest.raises(RunFailed) as err:
        execute(sleep_run({"plot": {}}), paths)
    assert "takes only the tracking hooks" in err.value.error and "plot" in err.value.error


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, proc: subprocess.Popen, log, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"mlflow server exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"mlflow server did not answer on {url}: {log.read_text()[-2000:]}")


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())
