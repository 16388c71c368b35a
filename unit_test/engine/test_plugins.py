"""Your own code under the same gate: the example plugin package (examples/plugin_example), installed in the
environment as a user installs theirs, runs in a run, a -m multirun, a Tune sweep and a planner proposal;
editing a plugin changes the id; untrusted text names registered components only; a clash names both."""

from __future__ import annotations

import json
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
def test_a_tune_sweep_searches_a_plugins_settings(cli_env, tmp_path):
    sweep = tmp_path / "plugin_sweep.yaml"
    sweep.write_text(
        "name: plugin_sweep\nsuite: plugins\nbase:\n  config: metaprogram/example\n"
        "  overrides: [metaprogram/component/model=my_plugin/tiny_mlp,"
        " metaprogram/component/dataset=my_plugin/spirals, pipeline.epochs=1]\n"
        "space:\n  model.hidden: {type: choice, values: [4, 8, 16]}\n"
        "  dataset.noise: {type: uniform, low: 0.0, high: 0.3}\n"
        "mode: tune\ncount: 2\nseed: 0\ntune: {algorithm: random, concurrency: 1}\n"
    )
    result = subprocess.run([sys.executable, "-B", str(REPO / "util" / "sweeper.py"), str(sweep)], cwd=tmp_path,
                            env=cli_env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    table = subprocess.run([sys.executable, "-m", "database", "runs", "--model", "tiny_mlp", "--format", "json"],
                           cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert table.returncode == 0, table.stderr
    assert len(json.loads(table.stdout)) == 2
