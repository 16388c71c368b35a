"""The quantize_eval_bench chain on the tiny Llama (default suite) and on SmolLM2 (slow)."""

from __future__ import annotations

import json

import pytest

from engine.compose import load
from engine.runner import execute

pytestmark = pytest.mark.integration  # real LLMs, servers and subprocesses


def test_tiny_llama_chain_end_to_end_and_stage_reuse(llm_paths):
    data = f"path.data_root={llm_paths.data_root}"
    composed = load(
        ["pipeline.evaluate.limit=8", "pipeline.benchmark.max_seconds=2", data],
        config_name="metaprogram/tiny_llama_chain",
    )
    reports = []  # what a Ray Tune trial hears: the metrics so far after each stage
    results = execute(composed.metaprogram, llm_paths, report=reports.append)
    metrics = results["metrics"]
    assert results["status"] == "completed"
    assert (
        [r["epoch"] for r in reports]
        == [1, 2, 3, 4, 5]
        == list(range(1, 1 + len(composed.metaprogram.pipeline.stage_names())))
    )
    assert "quantize/size_after_mb" in reports[1] and "recovery/group" not in reports[1]
    assert reports[2]["recovery/group"] == metrics["recovery/group"]
    for key in (
        "baseline/hellaswag_local/acc_norm",
        "quantized/hellaswag_local/acc_norm",
        "recovery/hellaswag_local",
        "recovery/group",
        "quantize/wall_s",
        "baseline/bench/requests_per_s",
        "quantized/bench/ttft_ms_median",
        "quantized/bench/itl_ms_p99",
    ):
        assert key in metrics, key
    base, quant = metrics["baseline/hellaswag_local/acc_norm"], metrics["quantized/hellaswag_local/acc_norm"]
    if base:
        assert metrics["recovery/hellaswag_local"] == pytest.approx(quant / base)
    assert results["objective"] == {"metric": "recovery/group", "mode": "max", "value": metrics["recovery/group"]}
    stages = json.loads((llm_paths.run_dir(composed.metaprogram.id) / "stages.json").read_text())
    assert len({s["id"] for s in stages.values()}) == 5
    quantized_model = llm_paths.run_dir(stages["quantize"]["id"]) / "model" / "config.json"
    assert "quantization_config" in json.loads(quantized_model.read_text())

    # Same quantize and evaluate stages, another chain (no benchmark): the compressed model is reused.
    again = load(
        ["pipeline.evaluate.limit=8", "pipeline.run_benchmark=false", data], config_name="metaprogram/tiny_llama_chain"
    )
    assert again.metaprogram.id != composed.metaprogram.id
    second = execute(again.metaprogram, llm_paths)["metrics"]
    assert second["stages/quantize_reused"] == 1 and second["stages/evaluate_quantized_reused"] == 1
    assert second["recovery/group"] == metrics["recovery/group"]


def test_a_failing_stage_fails_the_chain_with_its_cause(llm_paths):
    from engine.runner import RunFailed

    composed = load(
        [
            "pipeline.evaluate.limit=2",
            "pipeline.run_benchmark=false",
            "pipeline.quantize.recipe_args.group_size=96",
            f"path.data_root={llm_paths.data_root}",
        ],
        config_name="metaprogram/tiny_llama_chain",
    )
    with pytest.raises(RunFailed) as err:
        execute(composed.metaprogram, llm_paths)
    assert "stage quantize" in err.value.error and "group_size 96 does not divide" in err.value.error
    stages = json.loads((llm_paths.run_dir(composed.metaprogram.id) / "stages.json").read_text())
    assert stages["quantize"]["status"] == "failed" and "evaluate_quantized" not in stages


@pytest.mark.slow
@pytest.mark.parametrize("scheme", ["w4a16", "w8a8", "fp8_dynamic"])
def test_smollm2_chain(scheme, llm_paths):
    composed = load(
        [
            "pipeline.evaluate.limit=40",
            "pipeline.benchmark.max_requests=2",
            "pipeline.quantize.num_calibration_samples=16",
            "pipeline.device=cpu",
            f"path.data_root={llm_paths.data_root}",
        ],
        config_name=f"metaprogram/smollm2_{scheme}",
    )
    metrics = execute(composed.metaprogram, llm_paths)["metrics"]
    assert metrics["baseline/hellaswag_local/acc_norm"] > 0.3, "SmolLM2 is well above chance (0.25) on HellaSwag"
    assert metrics["recovery/hellaswag_local"] > 0.8
    assert metrics["quantize/size_after_mb"] < metrics["quantize/size_before_mb"]
    assert metrics["quantized/bench/output_tokens_per_s"] > 0
