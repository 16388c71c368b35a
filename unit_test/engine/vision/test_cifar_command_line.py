"""The issue's seed command and CLIP's three pretrained modes, through run_metaprogram.py on a tiny CIFAR."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from unit_test.helpers import run_cli

pytestmark = pytest.mark.integration  # the command line in subprocesses

SEED = [
    "+metaprogram/component/pipeline=execution",
    "+metaprogram/component/model=vlms/clip",
    "+metaprogram/component/dataset=classification/cifar",
    "+path=default",
]
# the shipped ViT-B/32 component, pointed at the tiny CLIP saved under path.model_root
B32 = [*SEED[:1], "+metaprogram/component/model=vlms/clip_vit_b32", *SEED[2:], "model.pretrained=tiny_clip"]


@pytest.fixture
def env(cli_env, vision_root):
    return {
        **cli_env,
        "METAPROGRAM_DATA_ROOT": str(vision_root / "data"),
        "METAPROGRAM_MODEL_ROOT": str(vision_root / "models"),
        "HF_HUB_OFFLINE": "1",
    }


def results_of(result, tmp_path) -> dict:
    """The results.json of the one run a command made."""
    assert result.returncode == 0, result.stderr
    run_id = re.search(r"^id: ([0-9a-f]{16})", result.stdout, re.M).group(1)
    return json.loads((tmp_path / "out" / "runs" / run_id / "results.json").read_text())


@pytest.mark.slow
def test_the_seed_command_runs_as_written_on_cifar(env, tmp_path):
    """Up to 20 epochs of the small CLIP (a few minutes here; the shipped early stopping may end it sooner on the
    random fixture images); the default suite runs one."""
    results = results_of(run_cli(SEED, env, tmp_path), tmp_path)
    assert results["status"] == "completed" and 1 < results["metrics"]["epochs"] <= 20
    assert 0.0 <= results["metrics"]["test/accuracy"] <= 1.0


def test_the_seed_command_runs_on_cifar(env, tmp_path):
    results = results_of(run_cli([*SEED, "pipeline.epochs=1", "dataset.subsample=40"], env, tmp_path), tmp_path)
    assert results["status"] == "completed" and results["metrics"]["epochs"] == 1
    assert 0.0 <= results["metrics"]["test/accuracy"] <= 1.0


def test_the_seed_command_without_cifar_says_how_to_get_it(env, tmp_path):
    result = run_cli(SEED, {**env, "METAPROGRAM_DATA_ROOT": str(tmp_path / "empty")}, tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr  # a validation error: the folder enters the id
    assert "CIFAR-10 not found" in result.stderr and "cifar-10-python.tar.gz | tar xz" in result.stderr


def test_pretrained_clip_modes_run_end_to_end(env, tmp_path):
    """The three modes as one multirun (one process: the suite pays for one start-up)."""
    modes = ["zero_shot", "linear_probe", "finetune"]
    args = ["-m", *B32, f"model.mode={','.join(modes)}", "pipeline.epochs=1", "pipeline.batch_size=64"]
    result = run_cli([*args, "model.finetune_layers=1", "dataset.subsample=100"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    ids = list(dict.fromkeys(re.findall(r"^id: ([0-9a-f]{16})", result.stdout, re.M)))
    assert len(ids) == 3
    for run_id in ids:
        run_dir = tmp_path / "out" / "runs" / run_id
        results = json.loads((run_dir / "results.json").read_text())
        mode, metrics = yaml.safe_load((run_dir / "metaprogram.yaml").read_text())["model"]["mode"], results["metrics"]
        assert results["status"] == "completed" and 0.0 <= metrics["test/accuracy"] <= 1.0
        assert metrics["epochs"] == (0 if mode == "zero_shot" else 1), mode  # zero-shot is evaluated only
        modes.remove(mode)
    assert modes == []


def test_missing_weights_say_how_to_get_them_on_the_command_line(env, tmp_path):
    result = run_cli([*B32, "model.pretrained=openai/clip-vit-base-patch32"], env, tmp_path)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "save_pretrained" in result.stderr and "clip-vit-base-patch32" in result.stderr
