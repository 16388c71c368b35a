"""The quantize pipeline: real llm-compressor on the tiny Llama; every bad input fails clearly and is recorded."""

from __future__ import annotations

import json

import pytest
import yaml

from engine.metaprogram import MetaprogramError
from engine.runner import RunFailed, execute
from unit_test.engine.llm.llm_helpers import metaprogram

pytestmark = pytest.mark.integration  # real LLMs, servers and subprocesses

TINY = {"name": "tiny_llama"}
GENERATED = {"name": "lm_tasks", "suite": "hellaswag", "calibration": {"source": "generated"}}


def _quantize(**settings):
    return {"name": "quantize", "device": "cpu", "num_calibration_samples": 8, "max_seq_length": 64, **settings}


def _failed(mp, paths) -> str:
    with pytest.raises(RunFailed) as err:
        execute(mp, paths)
    record = json.loads((paths.run_dir(mp.id) / "results.json").read_text())
    assert record["status"] == "failed" and record["metrics"] == {}
    assert not (paths.run_dir(mp.id) / "model").exists(), "nothing partial is kept as a result"
    assert record["error"] == err.value.error
    return err.value.error


def test_w4a16_compresses_the_tiny_llama_and_the_result_reloads(llm_paths, tiny_folder):
    from transformers import AutoModelForCausalLM

    mp = metaprogram(TINY, GENERATED, _quantize(scheme="w4a16", recipe_args={"dampening_frac": 0.05}))
    results = execute(mp, llm_paths)
    metrics = results["metrics"]
    assert metrics["quantize/size_after_mb"] < metrics["quantize/size_before_mb"]
    assert metrics["quantize/calibration_samples"] == 8
    run_dir = llm_paths.run_dir(mp.id)
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    gptq = recipe["quant_stage"]["quant_modifiers"]["GPTQModifier"]
    assert gptq["dampening_frac"] == 0.05 and gptq["config_groups"]["group_0"]["weights"]["group_size"] == 128
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["quantization_config"]["config_groups"]["group_0"]["weights"]["num_bits"] == 4
    model = AutoModelForCausalLM.from_pretrained(run_dir / "model")
    assert model.config.hidden_size == 128


def test_unknown_modifier_in_a_user_recipe(llm_paths, tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("stage:\n  quant_modifiers:\n    GPTQModifer:\n      targets: [Linear]\n      scheme: W4A16\n")
    mp = metaprogram(TINY, GENERATED, _quantize(recipe_file=str(recipe)))
    error = _failed(mp, llm_paths)
    assert "unknown modifier 'GPTQModifer'" in error and "'GPTQModifier'" in error


def test_group_size_that_does_not_divide_the_hidden_size(llm_paths):
    mp = metaprogram(TINY, GENERATED, _quantize(scheme="w4a16", recipe_args={"group_size": 96}))
    error = _failed(mp, llm_paths)
    assert "group_size 96 does not divide the model's hidden_size (128)" in error


def test_recipe_arg_the_scheme_does_not_take(llm_paths):
    mp = metaprogram(TINY, GENERATED, _quantize(scheme="w4a16", recipe_args={"smoothing_strength": 0.5}))
    error = _failed(mp, llm_paths)
    assert "['smoothing_strength'] do not apply to scheme 'w4a16'" in error


def test_missing_calibration_file_is_a_validation_error(llm_paths):
    data = {"name": "lm_tasks", "suite": "hellaswag", "calibration": {"source": "file", "file": "nope.jsonl"}}
    with pytest.raises(MetaprogramError, match=r"dataset.calibration.file: \S*nope.jsonl does not exist"):
        metaprogram(TINY, data, _quantize(scheme="w4a16"), paths=llm_paths)


def test_missing_recipe_file_is_a_validation_error(llm_paths):
    with pytest.raises(MetaprogramError, match=r"pipeline.recipe_file: \S*no_such_recipe.yaml does not exist"):
        metaprogram(TINY, GENERATED, _quantize(recipe_file="no_such_recipe.yaml"), paths=llm_paths)


def test_calibration_text_comes_from_a_jsonl_field(llm_paths):
    from engine.data_pipe.llm_data import calibration_texts

    data = metaprogram(
        TINY,
        {"name": "lm_tasks", "calibration": {"source": "file", "file": "gsm8k_test.jsonl", "text_field": "question"}},
        {"name": "quantize"},
        paths=llm_paths,
    )
    texts = calibration_texts(data.dataset, llm_paths, 5)
    assert len(texts) == 5 and all(isinstance(t, str) and t for t in texts)
    bad = data.dataset.model_copy(
        update={"calibration": data.dataset.calibration.model_copy(update={"text_field": "q"})}
    )
    with pytest.raises(ValueError, match="'q' is not in gsm8k_test.jsonl"):
        calibration_texts(bad, llm_paths, 5)


def test_calibration_text_from_a_datasets_folder_on_disk(llm_paths, tmp_path):
    from datasets import Dataset, DatasetDict

    from engine.data_pipe.llm_data import calibration_dataset

    folder = tmp_path / "calib"
    DatasetDict({"train": Dataset.from_dict({"body": [f"text number {i}" for i in range(10)]})}).save_to_disk(folder)
    data = {"name": "lm_tasks", "calibration": {"source": "disk", "disk": str(folder), "text_field": "body"}}
    mp = metaprogram(TINY, data, {"name": "quantize"})
    dataset = calibration_dataset(mp.dataset, llm_paths, 4)
    assert dataset.column_names == ["text"] and dataset["text"] == [f"text number {i}" for i in range(4)]


# ----------------------------------------------------------------------------- every scheme on CPU

SCHEMES = {  # standard -> the llm-compressor modifiers it runs
    "w4a16": ["GPTQModifier"],
    "w8a8": ["SmoothQuantModifier", "GPTQModifier"],
    "fp8_dynamic": ["QuantizationModifier"],
    "w4a16_awq": ["AWQModifier", "QuantizationModifier"],
    "w4a16_rtn": ["QuantizationModifier"],
}


@pytest.mark.parametrize("scheme", sorted(SCHEMES))
def test_every_scheme_runs_on_cpu_and_its_model_reloads_and_computes(scheme, llm_paths, tiny_folder):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    settings = {"n_grid": 3} if scheme == "w4a16_awq" else {}
    mp = metaprogram(TINY, GENERATED, _quantize(scheme=scheme, recipe_args=settings))
    metrics = execute(mp, llm_paths)["metrics"]
    assert metrics["quantize/size_after_mb"] < metrics["quantize/size_before_mb"]
    run_dir = llm_paths.run_dir(mp.id)
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text())
    assert list(recipe["quant_stage"]["quant_modifiers"]) == SCHEMES[scheme]
    assert "quantization_config" in json.loads((run_dir / "model" / "config.json").read_text())
    model = AutoModelForCausalLM.from_pretrained(run_dir / "model")  # as the chain's evaluation loads it
    ids = AutoTokenizer.from_pretrained(run_dir / "model")("The man walks to the park", return_tensors="pt").input_ids
    with torch.no_grad():
        assert torch.isfinite(model(ids).logits).all()


def test_awq_from_a_user_recipe_file_runs_on_cpu(llm_paths, tmp_path):
    """llm-compressor's AWQ pins memory, which raises without an accelerator; the pipeline skips the pinning."""
    recipe = tmp_path / "awq_asym_g64.yaml"
    recipe.write_text(
        yaml.safe_dump(
            {
                "quant_stage": {
                    "quant_modifiers": {
                        "AWQModifier": {"n_grid": 3},
                        "QuantizationModifier": {
                            "ignore": ["lm_head"],
                            "config_groups": {
                                "group_0": {
                                    "targets": ["Linear"],
                                    "weights": {
                                        "num_bits": 4,
                                        "type": "int",
                                        "symmetric": False,
                                        "strategy": "group",
                                        "group_size": 64,
                                    },  # fmt: skip
                                }
                            },
                        },
                    }
                }
            }
        )
    )
    mp = metaprogram(TINY, GENERATED, _quantize(recipe_file=str(recipe)))
    assert execute(mp, llm_paths)["status"] == "completed"


def test_device_cuda_without_a_gpu_is_refused_before_the_model_is_built(llm_paths):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    mp = metaprogram({**TINY, "hidden_size": 256}, GENERATED, _quantize(scheme="w4a16", device="cuda"))
    assert "no CUDA device is available" in _failed(mp, llm_paths)
    assert not list(llm_paths.root("model_root").rglob(f"*{mp.model.hidden_size}*"))


def _recipe_file(tmp_path, modifiers: dict, stage: str = "quant_stage", group: str = "quant_modifiers") -> str:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump({stage: {group: modifiers}}))
    return str(path)


GPTQ_W4_G96 = {
    "GPTQModifier": {
        "ignore": ["lm_head"],
        "config_groups": {
            "group_0": {
                "targets": ["Linear"],
                "weights": {"num_bits": 4, "type": "int", "symmetric": True, "strategy": "group", "group_size": 96},
            }
        },
    }
}


def test_a_group_size_in_a_recipe_file_is_reported_against_the_recipe(llm_paths, tmp_path):
    path = _recipe_file(tmp_path, GPTQ_W4_G96)
    error = _failed(metaprogram(TINY, GENERATED, _quantize(recipe_file=path)), llm_paths)
    assert f"recipe file {path}: group_size 96 does not divide the model's hidden_size (128)" in error
    assert f"edit quant_stage.quant_modifiers.GPTQModifier.config_groups.group_0.weights.group_size in {path}" in error
    assert "recipe_args" not in error  # they do not apply to a recipe file


def test_a_setting_a_modifier_does_not_take_is_refused_with_the_recipe_named(llm_paths, tmp_path):
    path = _recipe_file(tmp_path, {"GPTQModifier": {"targets": ["Linear"], "scheme": "W4A16", "dampening": 0.1}})
    error = _failed(metaprogram(TINY, GENERATED, _quantize(recipe_file=path)), llm_paths)
    assert f"recipe file {path}: llm-compressor rejects it" in error and "GPTQModifier.dampening" in error


def test_awq_without_a_quantization_modifier_after_it_is_refused(llm_paths, tmp_path):
    path = _recipe_file(tmp_path, {"AWQModifier": {}})
    error = _failed(metaprogram(TINY, GENERATED, _quantize(recipe_file=path)), llm_paths)
    assert f"recipe file {path}" in error and "AWQ must be run with a subsequent quantization modifier" in error


def test_a_stage_llm_compressor_would_skip_is_refused(llm_paths, tmp_path):
    path = _recipe_file(tmp_path, {"GPTQModifier": {"targets": ["Linear"], "scheme": "W4A16"}}, stage="stage")
    error = _failed(metaprogram(TINY, GENERATED, _quantize(recipe_file=path)), llm_paths)
    assert f"recipe file {path}" in error and "would be skipped" in error and "rename ['stage']" in error
