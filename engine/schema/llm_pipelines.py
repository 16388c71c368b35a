"""Schemas of the LLM pipelines: quantize, evaluate, benchmark and the chain of them (quantize_eval_bench)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.schema.base import PIPELINES, Schema, location_field, path_field
from engine.schema.llm import check_standard
from engine.schema.llm_data import LMTasksConfig
from engine.schema.pipelines import PipelineConfig

if TYPE_CHECKING:
    from engine.paths import Paths


# the pipelines that read an lm_tasks dataset's files (engine/schema/json_schema.py states it too)
READS_LM_TASKS = ("quantize", "evaluate")


def _lm_tasks(pipeline: PipelineConfig, dataset: Schema) -> LMTasksConfig:
    """The dataset, when it is the lm_tasks that `pipeline` reads; else a ValueError the gate reports."""
    if not isinstance(dataset, LMTasksConfig):
        raise ValueError(f"the {pipeline.name} pipeline reads an lm_tasks dataset, not {dataset.name}")
    return dataset


class RecipeArgs(Schema):
    """Values substituted into a templated compression standard; null keeps the standard's default."""

    group_size: int | None = Field(None, ge=8, le=4096, description="W4A16: columns sharing one scale")
    dampening_frac: float | None = Field(None, ge=0.0, le=1.0, description="GPTQ: Hessian dampening")
    smoothing_strength: float | None = Field(None, ge=0.0, le=1.0, description="SmoothQuant: migration alpha")
    block_size: int | None = Field(None, ge=1, le=4096, description="GPTQ: columns updated at once")
    observer: Literal["minmax", "mse", "memoryless_minmax"] | None = None
    actorder: Literal["static", "group", "weight"] | None = Field(None, description="GPTQ activation ordering")
    n_grid: int | None = Field(None, ge=3, le=100, description="AWQ: scales tried per layer (fewer: faster)")


class QuantizeConfig(PipelineConfig):
    """Compress a model with llm-compressor's oneshot; save it in the run directory."""

    name: Literal["quantize"] = "quantize"
    scheme: str = Field("w4a16", description="a compression standard (configs/standards/compression)")
    recipe_file: str | None = path_field(None, description="a user recipe, passed to llm-compressor unchanged")
    recipe_args: RecipeArgs = RecipeArgs()
    num_calibration_samples: int = Field(64, ge=1, le=100_000)
    max_seq_length: int = Field(512, ge=16, le=131_072)
    save_compressed: bool = True

    @field_validator("scheme")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        return check_standard("compression", value)

    @model_validator(mode="after")
    def _recipe_args_for_standards_only(self) -> QuantizeConfig:
        args = sorted(k for k, v in self.recipe_args.model_dump().items() if v is not None)
        if self.recipe_file is not None and args:
            raise ValueError(
                f"recipe_args {args} apply to a standard (scheme) only; a recipe_file is passed to llm-compressor "
                f"unchanged, so set those values in {self.recipe_file} instead"
            )
        return self

    def file_problems(self, paths: Any, where: str = "pipeline") -> list[str]:
        """Problems with the files this pipeline reads, found before anything runs (needs the path roots)."""
        if self.recipe_file is None:
            return []
        from engine.pipelines.recipes import recipe_file_problems

        return [f"{where}.recipe_file: {problem}" for problem in recipe_file_problems(self.recipe_file, paths)]

    def default_objective(self, task: str) -> tuple[str, str]:
        return "quantize/size_after_mb", "min"

    def dataset_files(self, dataset: LMTasksConfig, paths: Paths) -> dict[str, Path]:
        return _lm_tasks(self, dataset).calibration_files(paths)  # calibrates; evaluates nothing


class EvaluateConfig(PipelineConfig):
    """Evaluate a model with lm-eval's simple_evaluate on the dataset component's tasks."""

    name: Literal["evaluate"] = "evaluate"
    backend: Literal["hf", "vllm"] = "hf"
    num_fewshot: int | None = Field(None, ge=0, le=64, description="null: each task's (or suite's) own")
    limit: int | None = Field(None, ge=1, le=10_000_000, description="items per task; null: all")
    batch_size: int = Field(8, ge=1, le=4096)
    max_length: int | None = Field(None, ge=16, le=131_072, description="context length for the hf backend")
    apply_chat_template: bool = False
    normalize_group: bool = Field(True, description="also report the group score normalised by random baseline")
    gpu_memory_utilization: float = Field(0.8, gt=0.0, le=1.0, description="vllm only")
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="vllm only")
    log_samples: bool = True

    def default_objective(self, task: str) -> tuple[str, str]:
        return "group/score", "max"

    def dataset_files(self, dataset: LMTasksConfig, paths: Paths) -> dict[str, Path]:
        return _lm_tasks(self, dataset).evaluation_files(paths)  # evaluates; calibrates nothing


Profile = Literal["synchronous", "concurrent", "constant", "poisson", "throughput", "sweep"]


class BenchmarkConfig(PipelineConfig):
    """Serve the model and load it with guidellm; null settings come from the benchmarking standard."""

    name: Literal["benchmark"] = "benchmark"
    server: Literal["builtin", "vllm", "mock", "external"] = Field(
        "builtin", description="builtin: our server over transformers; vllm: GPU; mock: guidellm's; external: target"
    )
    target: str | None = location_field(
        None, max_length=500, description="server=external: the URL of a running server"
    )
    request_format: Literal["completions", "chat"] = Field("completions", description="/v1/completions or chat")
    standard: str | None = Field("cpu_short", description="a benchmarking standard (configs/standards/benchmarking)")
    profile: Profile | None = None
    rate: float | None = Field(None, gt=0.0, le=100_000, description="constant/poisson: req/s; concurrent: streams")
    max_seconds: float | None = Field(None, gt=0.0, le=24 * 3600)
    max_requests: int | None = Field(None, ge=1, le=10_000_000)
    prompt_tokens: int | None = Field(None, ge=1, le=131_072)
    output_tokens: int | None = Field(None, ge=1, le=131_072)
    port: int = Field(0, ge=0, le=65535, description="0: a free port")
    gpu_memory_utilization: float = Field(0.8, gt=0.0, le=1.0, description="vllm only")
    tensor_parallel_size: int = Field(1, ge=1, le=64, description="vllm only")
    startup_timeout_s: float = Field(300.0, gt=0.0, le=3600)

    @field_validator("standard")
    @classmethod
    def _known_standard(cls, value: str | None) -> str | None:
        return check_standard("benchmarking", value)

    @model_validator(mode="after")
    def _target_for_external(self) -> BenchmarkConfig:
        if (self.server == "external") != (self.target is not None):
            raise ValueError("set target (a URL) exactly when server=external")
        return self

    def default_objective(self, task: str) -> tuple[str, str]:
        return "bench/output_tokens_per_s", "max"

    def dataset_files(self, dataset: LMTasksConfig, paths: Paths) -> dict[str, Path]:
        return {}  # serves generated prompts: reads no task data


class QuantizeEvalBenchConfig(PipelineConfig):
    """Evaluate the baseline, quantize, evaluate the quantized model, benchmark both."""

    name: Literal["quantize_eval_bench"] = "quantize_eval_bench"
    quantize: QuantizeConfig = QuantizeConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    benchmark: BenchmarkConfig = BenchmarkConfig()
    run_benchmark: bool = True

    def file_problems(self, paths: Any, where: str = "pipeline") -> list[str]:
        return self.quantize.file_problems(paths, f"{where}.quantize")

    def stage_names(self) -> list[str]:
        """The stages in order; the chain reports its metrics so far after each (util.tune_sweep counts them)."""
        names = ["evaluate_baseline", "quantize", "evaluate_quantized"]
        return names + (["benchmark_baseline", "benchmark_quantized"] if self.run_benchmark else [])

    def default_objective(self, task: str) -> tuple[str, str]:
        return "recovery/group", "max"


PIPELINES.register("quantize", QuantizeConfig, "engine.pipelines.quantize:run")
PIPELINES.register("evaluate", EvaluateConfig, "engine.pipelines.evaluate:run")
PIPELINES.register("benchmark", BenchmarkConfig, "engine.pipelines.benchmark:run")
PIPELINES.register("quantize_eval_bench", QuantizeEvalBenchConfig, "engine.pipelines.quantize_eval_bench:run")
