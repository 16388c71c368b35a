"""The quantize_eval_bench chain on the tiny Llama (default suite) and on SmolLM2 (slow)."""

from __future__ import annotations

import json

import pytest

from engine.compose import load
from engine.runner import execute

pytestmark = pytest.mark.integration  # real LLMs, servers and subprocesses


def test_tiny_llama_chain_end_to_end_and_stage_reuse(llm_paths):
    pytest.importorskip("mlflow", reason="the mlflow extra is not installed")
    from unit_test.mlflow_store import empty_store

    empty_store(llm_paths.root("output_root"))
    data = f"path.data_root={llm_paths.data_root}"
    composed = load(
        [
            "pipeline.evaluate.limit=8",
            "pipeline.benchmark.max_requests=10",
            "+pipeline.hooks.mlflow.log_model=true",
            data,
        ],
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
    png = llm_paths.run_dir(composed.metaprogram.id) / "quality_speed.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    _check_tracking(llm_paths, composed.metaprogram.id, stages)

    # Same quantize and evaluate stages, another chain (no benchmark): the compressed model is reused.
    again = load(
        ["pipeline.evaluate.limit=8", "pipeline.run_benchmark=false", data], config_name="metaprogram/tiny_llama_chain"
    )
    assert again.metaprogram.id != composed.metaprogram.id
    second = execute(again.metaprogram, llm_paths)["metrics"]
    assert second["stages/quantize_reused"] == 1 and second["stages/evaluate_quantized_reused"] == 1
    assert second["recovery/group"] == metrics["recovery/group"]


def _check_tracking(llm_paths, chain_id: str, stages: dict) -> None:
    """MLflow holds the chain as a parent run with every stage nested; the runs database knows the parent too."""
    import mlflow

    from database.store import Database
    from unit_test.mlflow_store import client

    out = llm_paths.root("output_root")
    c = client(out)
    runs = c.search_runs([c.get_experiment_by_name("metaprogram-runner").experiment_id])
    (chain,) = [r for r in runs if r.info.run_name == chain_id]
    children = {r.info.run_name: r for r in runs if r.data.tags.get("mlflow.parentRunId") == chain.info.run_id}
    assert set(children) == {s["id"] for s in stages.values()} and len(runs) == 6
    assert sorted(r.data.tags["metaprogram.pipeline"] for r in children.values()) == [
        "benchmark", "benchmark", "evaluate", "evaluate", "quantize"
    ]  # fmt: skip
    assert chain.data.metrics["final/recovery/group"] >= 0 and chain.info.status == "FINISHED"
    assert "quality_speed.png" in {a.path for a in c.list_artifacts(chain.info.run_id)}
    bench = children[stages["benchmark_quantized"]["id"]]
    assert bench.data.metrics["final/bench/output_tokens_per_s"] > 0
    files = {a.path for a in c.list_artifacts(bench.info.run_id)}
    assert {"guidellm_report.json", "guidellm_report.csv", "guidellm_report.html"} <= files
    evaluation = children[stages["evaluate_quantized"]["id"]]
    assert "final/hellaswag_local/acc_norm" in evaluation.data.metrics
    # log_model: the quantized model is an MLflow model (transformers flavour)
    mlflow.set_tracking_uri(f"sqlite:///{out / 'mlflow.db'}")
    info = mlflow.models.get_model_info(f"runs:/{children[stages['quantize']['id']].info.run_id}/model")
    assert "transformers" in info.flavors
    with Database(out / "metaprogram.db") as db:
        assert {db.run(s["id"])["parent"] for s in stages.values()} == {chain_id}
        assert db.run(chain_id)["status"] == "completed" and db.run(chain_id)["parent"] is None


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
