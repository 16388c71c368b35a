"""Strict input: a key written twice is refused with both lines; every printed setting can be set."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from engine import compose
from engine.cli import as_written, print_dry_run
from engine.compose import Composer, load
from engine.metaprogram import MetaprogramError
from unit_test.helpers import files_under, run_cli


def leaves(tree, prefix=""):
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize(
    "config_name", ["metaprogram/example", "metaprogram/tiny_llama_chain", "metaprogram/text_classification"]
)
def test_every_setting_dry_run_prints_can_be_set_from_the_command_line(config_name, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("METAPROGRAM_DATA_ROOT", str(tmp_path))  # the chain's task data: any contents will do
    for name in ("hellaswag_val.jsonl", "gsm8k_test.jsonl"):
        (tmp_path / name).write_text("{}\n")
    with Composer() as composer:
        composed = composer.load([], config_name)
        base = composed.metaprogram
        print_dry_run(composed)
        printed_text = capsys.readouterr().out
        assert yaml.safe_load(printed_text.rsplit("\nid: ", 1)[0]) == as_written(base.canonical)
        settings = [
            f"{key}={json.dumps(value)}"
            for key, value in leaves(as_written(base.canonical))
            if not isinstance(value, dict)
        ]
        assert len(settings) > 20
        # every printed setting, set to the value printed: all accepted (a refusal names its key), the same run
        assert composer.load(settings, config_name).metaprogram.id == base.id
        changed = [s.replace("seed=0", "seed=7") for s in settings]
        assert composer.load(changed, config_name).metaprogram.id != base.id


@pytest.mark.integration  # the command line in subprocesses
def test_a_hook_setting_left_to_its_default_can_be_set(cli_env, tmp_path):
    result = run_cli(["--config-name=metaprogram/example", "dry_run=true", "pipeline.hooks.progress.leave=false"],
                     cli_env, tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "progress:\n      leave: false" in result.stdout
    bad = run_cli(["--config-name=metaprogram/example", "dry_run=true", "pipeline.hooks.progress.leve=false"],
                  cli_env, tmp_path)  # fmt: skip
    assert bad.returncode == 2 and "pipeline.hooks.progress.leve: unknown key; did you mean 'leave'?" in bad.stderr


# ----------------------------------------------------------------------------- duplicate keys


def test_a_duplicate_key_in_a_composed_metaprogram_file_names_the_key_and_both_lines(tmp_path, monkeypatch):
    configs = tmp_path / "configs"
    shutil.copytree(compose.CONFIG_DIR, configs)
    example = (configs / "metaprogram" / "example.yaml").read_text()
    lines = example.count("\n")
    (configs / "metaprogram" / "twice.yaml").write_text(example + "seed: 0\nseed: 5\n")
    (configs / "metaprogram" / "component" / "model" / "classic" / "mlp.yaml").write_text(
        "# an MLP\nname: mlp\nhidden: 8\nhidden: 16\n"
    )
    monkeypatch.setattr(compose, "CONFIG_DIR", configs)
    with pytest.raises(MetaprogramError) as err:
        load([], "metaprogram/twice")
    assert f"duplicate key 'seed' at lines {lines + 1} and {lines + 2}" in str(err.value)
    with pytest.raises(MetaprogramError, match=r"mlp.yaml: duplicate key 'hidden' at lines 3 and 4"):
        load([], "metaprogram/example")


@pytest.mark.integration  # python -m engine.validate in a subprocess
def test_a_duplicate_key_in_a_metaprogram_or_sweep_file_is_refused(cli_env, tmp_path):
    from util.sweep_spec import SweepError, load_sweep

    mp = tmp_path / "mp.yaml"
    mp.write_text("model: {name: mlp}\ndataset: {name: iris}\npipeline: {name: execution}\nseed: 0\nseed: 5\n")
    import subprocess
    import sys

    from unit_test.helpers import REPO

    result = subprocess.run(
        [sys.executable, "-m", "engine.validate", "--trusted", str(mp)],
        cwd=REPO,
        env=cli_env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "duplicate key 'seed' at lines 4 and 5" in result.stdout

    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("# a sweep\nname: s\nmode: grid\nmode: random\n")
    with pytest.raises(SweepError, match=r"duplicate key 'mode' at lines 3 and 4"):
        load_sweep(str(sweep))
    assert files_under(tmp_path / "out") == []
