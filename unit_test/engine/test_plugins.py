"""Your own code under the same gate: the example plugin package (examples/plugin_example), installed in the
environment as a user installs theirs, runs in a run, a -m multirun, a Tune sweep and a planner proposal;
editing a plugin changes the id; untrusted text names registered components only; a clash names both."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap

import pytest

from engine.metaprogram import MetaprogramError, validate
from unit_test.helpers import REPO, run_cli

PLUGIN_PARTS = [
    "+metaprogram/component/pipeline=execution",
    "+metaprogram/component/model=my_plugin/tiny_mlp",
    "+metaprogram/component/dataset=my_plugin/spirals",
    "pipeline.epochs=2",
]


def test_the_installed_example_plugin_is_registered_beside_the_built_in_components():
    from engine.compose import group_options
    from engine.schema import REGISTRIES
    from engine.schema.data_dag import TRANSFORMS

    assert "tiny_mlp" in REGISTRIES["model"] and "mlp" in REGISTRIES["model"]
    assert "spirals" in REGISTRIES["dataset"] and "describe_data" in REGISTRIES["pipeline"]
    assert "clip_features" in TRANSFORMS
    assert "my_plugin/tiny_mlp" in group_options("metaprogram/component/model")


def test_plugin_settings_come_from_the_signature_and_are_checked_like_any_other():
    raw = {"model": {"name": "tiny_mlp", "hiden": 8, "activation": "relux"}, "dataset": {"name": "spirals"},
           "pipeline": {"name": "execution"}}  # fmt: skip
    with pytest.raises(MetaprogramError) as refused:
        validate(raw, trusted=False)
    errors = "\n".join(refused.value.errors)
    assert "model.hiden: unknown key; did you mean 'hidden'?" in errors
    assert "model.activation: 'relux' is not allowed; did you mean 'relu'?" in errors
    mp = validate({**raw, "model": {"name": "tiny_mlp", "hidden": 8}}, trusted=False)
    assert mp.model.hidden == 8 and mp.dataset.n_samples == 300  # the signature's defaults
    assert "model.plugin" in mp.inputs and "dataset.plugin" in mp.inputs  # the plugin's code is an input


def test_a_plugins_metric_is_chosen_by_name_checked_against_the_task_and_hashed_with_its_code():
    base = {"model": {"name": "mlp"}, "dataset": {"name": "iris"}}
    mp = validate({**base, "pipeline": {"name": "execution", "metrics": ["balanced_accuracy"]}}, trusted=False)
    assert mp.pipeline.metrics["balanced_accuracy"].adjusted is False  # the signature's default
    assert "pipeline.metrics.balanced_accuracy.plugin" in mp.inputs  # the metric's code is an input
    plain = validate({**base, "pipeline": {"name": "execution"}}, trusted=False)
    assert plain.id != mp.id and "metrics" not in plain.pipeline.model_dump()  # none chosen: ids as before
    none = validate({**base, "pipeline": {"name": "execution", "metrics": None}}, trusted=False)
    assert none.pipeline.metrics == {} and none.id == plain.id  # null: no metric beyond the built-in ones
    for metrics, says in (
        (["balanced_acuracy"], "did you mean 'balanced_accuracy'?"),
        ({"balanced_accuracy": {"adjustd": True}}, "unknown key; did you mean 'adjusted'?"),
        ({"balanced_accuracy": {"adjusted": [1]}}, "pipeline.metrics.balanced_accuracy.adjusted"),
        ([["balanced_accuracy"]], "expected a list of metric names"),
        ("balanced_accuracy", "expected a list of metric names"),
    ):
        with pytest.raises(MetaprogramError) as refused:
            validate({**base, "pipeline": {"name": "execution", "metrics": metrics}}, trusted=False)
        assert says in "\n".join(refused.value.errors), (metrics, refused.value.errors)
    with pytest.raises(MetaprogramError, match="a classification metric, and dataset 'diabetes' is a regression"):
        validate({"model": {"name": "mlp"}, "dataset": {"name": "diabetes"},
                  "pipeline": {"name": "execution", "metrics": ["balanced_accuracy"]}}, trusted=False)  # fmt: skip


def test_a_plugin_metric_that_fails_is_named_in_the_error(monkeypatch):
    import torch

    from engine.data_pipe import build_splits
    from engine.data_pipe.feed import InMemory
    from engine.paths import default_paths
    from engine.pipelines.execution import evaluate
    from engine.plugins import register
    from engine.schema.base import METRICS

    monkeypatch.setattr(METRICS, "_entries", dict(METRICS._entries))  # the test's metric leaves with the test
    register.metric("always_fails")(lambda targets, predictions: 1 / 0)
    mp = validate({"model": {"name": "mlp"}, "dataset": {"name": "iris"},
                   "pipeline": {"name": "execution", "metrics": ["always_fails"]}}, trusted=False)  # fmt: skip
    data = build_splits(mp.dataset, default_paths())
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    with pytest.raises(ValueError, match="metric 'always_fails' \\(val split\\) failed: ZeroDivisionError"):
        evaluate(model, InMemory(data.val, "cpu", 16, 0), data.info, "val", mp.pipeline.metrics)


def test_a_metric_may_not_shadow_a_built_in_one():
    from engine.plugins import PluginError, register

    with pytest.raises(PluginError, match="clashes with the built-in metric 'accuracy'"):
        register.metric("accuracy")(lambda targets, predictions: 0.0)


def test_a_plugins_search_algorithm_has_its_code_in_the_study_id_and_may_not_take_a_taken_name():
    from my_plugin import LocalSearch

    from engine.plugins import source_digest
    from util import search

    found = search.get("local_search")
    assert found.build is LocalSearch and found.identity(None) == {"code": source_digest(LocalSearch)}
    for name, other in (("tpe", "util.search.optuna_samplers"), ("local_search", "my_plugin.LocalSearch")):
        with pytest.raises(
            search.AlgorithmClash, match=f"{name!r} from .*clashes with the one registered from {other}"
        ):
            search.algorithm(name)(lambda study: None)
    assert search.get("local_search").build is LocalSearch  # the refused one replaced nothing


def test_untrusted_text_names_registered_components_never_modules():
    for name in ("my_plugin", "my_plugin.tiny_mlp", "os.system", "my_plugin:tiny_mlp"):
        with pytest.raises(MetaprogramError, match="model.name"):
            validate({"model": {"name": name}, "dataset": {"name": "iris"}, "pipeline": {"name": "execution"}},
                     trusted=False)  # fmt: skip
    with pytest.raises(MetaprogramError, match="path"):
        validate({"model": {"name": "mlp"}, "dataset": {"name": "iris"}, "pipeline": {"name": "execution"},
                  "path": {"plugins": ["/tmp/evil.py"]}}, trusted=False)  # fmt: skip


@pytest.mark.integration  # a fresh interpreter: what importing the gate pulls in
def test_composing_and_validating_with_a_plugin_installed_stay_free_of_torch():
    code = (
        "import sys; from engine.compose import load; "
        f"mp = load({PLUGIN_PARTS!r}).metaprogram; "
        "assert 'torch' not in sys.modules, 'torch imported'; print(mp.id)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.strip()) == 16


def write_plugin(folder, body: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "my_local_plugin.py"
    path.write_text("from engine.plugins import register\n\n" + textwrap.dedent(body))
    return path


LOCAL_MODEL = """
@register.model("local_mlp")
def local_mlp(info, hidden: int = 16):
    import math

    import torch.nn as nn

    return nn.Sequential(nn.Flatten(), nn.Linear(math.prod(info.input_shape), hidden), nn.ReLU(),
                         nn.Linear(hidden, info.n_outputs))
"""


@pytest.mark.integration  # the command line in subprocesses
def test_a_local_plugin_module_runs_and_editing_it_changes_the_id(cli_env, tmp_path):
    plugin = write_plugin(tmp_path / "mine", LOCAL_MODEL)
    env = {**cli_env, "METAPROGRAM_PLUGINS": str(plugin)}
    args = ["+metaprogram/component/pipeline=execution", "+metaprogram/component/dataset=classification/iris",
            "++model={name: local_mlp, hidden: 8}", "pipeline.epochs=1"]  # fmt: skip
    first = run_cli([*args, "dry_run=true"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    plugin.write_text(plugin.read_text() + "\n# an edit: the code is another input\n")
    second = run_cli([*args, "dry_run=true"], env, tmp_path)
    assert second.returncode == 0, second.stderr
    id_of = lambda result: result.stdout.rsplit("id: ", 1)[1].strip()  # noqa: E731
    assert id_of(first) != id_of(second)
    ran = run_cli(args, env, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "test/accuracy" in ran.stdout


@pytest.mark.integration
def test_a_plugin_model_fine_tunes_from_a_recorded_run_and_refuses_weights_that_do_not_fit(cli_env, tmp_path):
    env = {**cli_env, "METAPROGRAM_PLUGINS": str(write_plugin(tmp_path / "mine", LOCAL_MODEL))}
    args = ["+metaprogram/component/pipeline=execution", "+metaprogram/component/dataset=classification/iris",
            "pipeline.epochs=1", "~pipeline.hooks.progress"]  # fmt: skip
    parent = run_cli([*args, "++model={name: local_mlp, hidden: 8}"], env, tmp_path)
    assert parent.returncode == 0, parent.stderr
    parent_id = parent.stdout.rsplit("id: ", 1)[1].split()[0]
    child = run_cli([*args, "++model={name: local_mlp, hidden: 8, init_from: " + parent_id[:8] + "}"], env, tmp_path)
    assert child.returncode == 0, child.stderr
    wider = run_cli([*args, "++model={name: local_mlp, hidden: 12, init_from: " + parent_id + "}"], env, tmp_path)
    assert wider.returncode == 2 and "1.weight is (8, 4) there, (12, 4) here" in wider.stderr, wider.stderr
    assert "Traceback" not in wider.stderr


@pytest.mark.integration
def test_a_plugin_that_clashes_with_a_built_in_name_is_an_error_naming_both(cli_env, tmp_path):
    plugin = write_plugin(tmp_path / "clash", LOCAL_MODEL.replace('"local_mlp"', '"mlp"'))
    result = run_cli(["--config-name=metaprogram/example", "dry_run=true"],
                     {**cli_env, "METAPROGRAM_PLUGINS": str(plugin)}, tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert "model 'mlp'" in result.stderr and "my_local_plugin" in result.stderr
    assert "engine.models.composed" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.integration
def test_the_example_plugin_in_a_run_a_multirun_and_the_runs_table(cli_env, tmp_path):
    ran = run_cli(PLUGIN_PARTS, cli_env, tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert "test/accuracy" in ran.stdout
    multi = run_cli(["-m", *PLUGIN_PARTS, "model.hidden=4,8"], cli_env, tmp_path)
    assert multi.returncode == 0, multi.stderr
    own_parts = [part.replace("pipeline=execution", "pipeline=my_plugin/describe_data") for part in PLUGIN_PARTS[:3]]
    own = run_cli(own_parts, cli_env, tmp_path)
    assert own.returncode == 0, own.stderr
    assert "data/train_samples" in own.stdout
    table = subprocess.run([sys.executable, "-m", "database", "runs", "--model", "tiny_mlp", "--format", "json"],
                           cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert table.returncode == 0, table.stderr
    runs = json.loads(table.stdout)
    assert len(runs) == 4 and {r["model"] for r in runs} == {"tiny_mlp"}


@pytest.mark.integration
def test_a_plugins_metric_is_reported_for_every_split_and_can_be_the_objective(cli_env, tmp_path):
    from sklearn.metrics import balanced_accuracy_score

    ran = run_cli([*PLUGIN_PARTS, "pipeline.metrics=[balanced_accuracy]", "pipeline.mode=train",
                   "pipeline.objective.metric=val/balanced_accuracy"], cli_env, tmp_path)  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    run_dir = next((tmp_path / "out" / "runs").iterdir())
    results = json.loads((run_dir / "results.json").read_text())
    metrics = results["metrics"]
    assert {"val/balanced_accuracy", "test/balanced_accuracy"} <= set(metrics)
    assert results["objective"]["metric"] == "val/balanced_accuracy"
    tested = run_cli([*PLUGIN_PARTS, "pipeline.metrics=[balanced_accuracy]", "pipeline.mode=test",
                      f"model.init_from={run_dir.name}"], cli_env, tmp_path)  # fmt: skip
    assert tested.returncode == 0, tested.stderr
    test_dir = next(p for p in (tmp_path / "out" / "runs").iterdir() if p != run_dir)
    with open(test_dir / "predictions.csv") as handle:
        rows = list(csv.DictReader(handle))
    expected = balanced_accuracy_score([r["target"] for r in rows], [r["prediction"] for r in rows])
    tested_metrics = json.loads((test_dir / "results.json").read_text())["metrics"]
    assert tested_metrics["test/balanced_accuracy"] == pytest.approx(expected)


@pytest.mark.integration
def test_a_tune_sweep_searches_a_plugins_settings_with_the_plugins_own_search_algorithm(cli_env, tmp_path):
    sweep = tmp_path / "plugin_sweep.yaml"
    sweep.write_text(
        "name: plugin_sweep\nsuite: plugins\nbase:\n  config: metaprogram/example\n"
        "  overrides: [metaprogram/component/model=my_plugin/tiny_mlp,"
        " metaprogram/component/dataset=my_plugin/spirals, pipeline.epochs=1]\n"
        "space:\n  model.hidden: {type: choice, values: [4, 8, 16]}\n"
        "  dataset.noise: {type: uniform, low: 0.0, high: 0.3}\n"
        "mode: tune\ncount: 3\nseed: 0\ntune: {algorithm: local_search, concurrency: 1}\n"
    )
    result = subprocess.run([sys.executable, "-B", str(REPO / "util" / "sweeper.py"), str(sweep)], cwd=tmp_path,
                            env=cli_env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    table = subprocess.run([sys.executable, "-m", "database", "runs", "--model", "tiny_mlp", "--format", "json"],
                           cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert table.returncode == 0, table.stderr
    runs = json.loads(table.stdout)
    assert 1 <= len(runs) <= 3 and {r["model"] for r in runs} == {"tiny_mlp"}  # a point proposed twice is reused
    listed = subprocess.run([sys.executable, "-m", "database", "export", "studies.jsonl"], cwd=tmp_path,
                            env=cli_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    (study,) = [json.loads(line) for line in (tmp_path / "studies.jsonl").read_text().splitlines() if line.strip()]
    assert study["algorithm"] == "local_search", study.keys()
    # local_search redraws one setting of the best point so far: from the 2nd trial on, one setting is kept
    points = [trial["params"] for trial in study["trials"]]
    assert len(points) == 3 and all(any(p[k] == q[k] for q in points[:i] for k in p) for i, p in enumerate(points) if i)


@pytest.mark.integration  # fresh interpreters: a worker process knows only what it is handed
def test_a_plugin_named_only_in_the_path_config_is_found_by_the_processes_a_run_hands_its_paths_to(tmp_path):
    """A Ray Train worker, a Tune trial or a job rebuilds the metaprogram from its canonical form and the paths'
    absolute form, in another directory, without the command line: the path config's plugins come with them."""
    write_plugin(tmp_path / "mine", LOCAL_MODEL)
    args = ["+metaprogram/component/pipeline=execution", "+metaprogram/component/dataset=classification/iris",
            "++model={name: local_mlp, hidden: 8}", "+path=default",
            "+path.plugins=[mine/my_local_plugin.py]"]  # fmt: skip
    driver = (
        "import json; from engine.compose import load; c = load(" + repr(args) + "); "
        "print(json.dumps({'id': c.metaprogram.id, 'canonical': c.metaprogram.canonical, "
        "'paths': c.paths.absolute().model_dump()}))"
    )
    worker = (
        "import json, sys; from engine.metaprogram import validate; from engine.paths import Paths; "
        "handed = json.load(sys.stdin); "
        "print(validate(handed['canonical'], trusted=True, paths=Paths(**handed['paths'])).id)"
    )
    clean = {k: v for k, v in os.environ.items() if k != "METAPROGRAM_PLUGINS"}
    clean["PYTHONPATH"] = str(REPO)
    composed = subprocess.run([sys.executable, "-B", "-c", driver], cwd=tmp_path, env=clean, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
    assert composed.returncode == 0, composed.stderr
    handed = json.loads(composed.stdout.strip().splitlines()[-1])
    assert handed["paths"]["plugins"] == [str(tmp_path / "mine" / "my_local_plugin.py")]  # made absolute
    rebuilt = subprocess.run([sys.executable, "-B", "-c", worker], cwd=REPO, env=clean, input=json.dumps(handed),
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip() == handed["id"]  # the same metaprogram, the plugin's code among its inputs
