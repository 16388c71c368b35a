"""The evaluate pipeline: local lm-eval tasks read through path.data_root, metrics flattened, group scores."""

from __future__ import annotations

import json

import pytest

from engine.metaprogram import MetaprogramError
from engine.runner import RunFailed, execute
from unit_test.engine.llm.llm_helpers import metaprogram

pytestmark = pytest.mark.integration  # real LLMs, servers and subprocesses

TINY = {"name": "tiny_llama"}


def test_offline_suite_on_the_tiny_llama(llm_paths, tiny_folder):
    mp = metaprogram(
        TINY,
        {"name": "lm_tasks", "suite": "offline"},
        {"name": "evaluate", "device": "cpu", "limit": 4, "batch_size": 4},
        paths=llm_paths,
    )
    metrics = execute(mp, llm_paths)["metrics"]
    for key in ("hellaswag_local/acc", "hellaswag_local/acc_norm", "gsm8k_local/exact_match.flexible-extract"):
        assert 0.0 <= metrics[key] <= 1.0, key
    expected = (metrics["hellaswag_local/acc_norm"] + metrics["gsm8k_local/exact_match.flexible-extract"]) / 2
    assert metrics["group/score"] == pytest.approx(expected)
    run_dir = llm_paths.run_dir(mp.id)
    samples = (run_dir / "samples" / "hellaswag_local.jsonl").read_text().splitlines()
    assert len(samples) == 4 and "doc" in json.loads(samples[0])
    task_yaml = (run_dir / "tasks" / "hellaswag_local.yaml").read_text()
    assert str(llm_paths.data_file("hellaswag_val.jsonl")) in task_yaml


def test_missing_task_data_file_is_a_validation_error_with_its_name(llm_paths):
    data = {"name": "lm_tasks", "suite": "hellaswag", "data_files": {"hellaswag_local": "missing/hs.jsonl"}}
    with pytest.raises(MetaprogramError) as err:
        metaprogram(TINY, data, {"name": "evaluate", "device": "cpu", "limit": 2}, paths=llm_paths)
    assert err.value.errors == [
        f"dataset.data_files.hellaswag_local.validation: {llm_paths.data_file('missing/hs.jsonl')} does not exist"
        " (relative paths start at path.data_root)"
    ]
    assert not llm_paths.root("output_root").exists()


def test_vllm_model_args_are_built_for_a_gpu_and_refused_on_cpu(tmp_path):
    from engine.pipelines.evaluate import lm_eval_model_args
    from engine.schema.llm_pipelines import EvaluateConfig

    cfg = EvaluateConfig(backend="vllm", gpu_memory_utilization=0.5, tensor_parallel_size=2, max_length=4096)
    name, args = lm_eval_model_args(cfg, tmp_path, "cuda", "bfloat16")
    assert name == "vllm"
    assert args == (
        f"pretrained={tmp_path},dtype=bfloat16,gpu_memory_utilization=0.5,tensor_parallel_size=2,max_model_len=4096"
    )
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        lm_eval_model_args(cfg, tmp_path, "cpu", "float32")
    hf_name, hf_args = lm_eval_model_args(EvaluateConfig(), tmp_path, "cpu", "float32")
    assert (hf_name, hf_args) == ("hf", f"pretrained={tmp_path},device=cpu,dtype=float32")


def test_flatten_and_group_scores():
    from engine.data_pipe.llm_data import TaskSpec
    from engine.pipelines.evaluate import flatten, group_scores

    results = {
        "a": {"alias": "a", "acc,none": 0.5, "acc_stderr,none": 0.1, "acc_norm,none": 0.625, "sample_len": 4},
        "b": {"exact_match,strict-match": 0.0, "exact_match,flexible-extract": 0.2},
    }
    assert flatten(results) == {
        "a/acc": 0.5,
        "a/acc_norm": 0.625,
        "b/exact_match.strict-match": 0.0,
        "b/exact_match.flexible-extract": 0.2,
    }
    specs = [TaskSpec("a", "acc_norm", 0, 0.25), TaskSpec("b", "exact_match,flexible-extract", 0, 0.0)]
    scores = group_scores(specs, results)
    assert scores["group/score"] == pytest.approx((0.625 + 0.2) / 2)
    assert scores["group/normalized"] == pytest.approx(((0.625 - 0.25) / 0.75 + 0.2) / 2)


def test_hf_model_folder_that_does_not_exist_is_a_validation_error(llm_paths):
    model = {"name": "hf", "hub_id": None, "local_dir": "no/such/model"}
    with pytest.raises(MetaprogramError, match=r"model.local_dir: \S*no/such/model does not exist"):
        metaprogram(model, {"name": "lm_tasks", "suite": "hellaswag"}, {"name": "evaluate"}, paths=llm_paths)
    (llm_paths.root("model_root") / "no/such/model").mkdir(parents=True)  # a folder, but not a model's
    mp = metaprogram(model, {"name": "lm_tasks", "suite": "hellaswag"}, {"name": "evaluate"}, paths=llm_paths)
    with pytest.raises(RunFailed) as err:
        execute(mp, llm_paths)
    assert "no/such/model is not a transformers model folder" in err.value.error
