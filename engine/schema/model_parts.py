"""Schemas of composed models (backbone + neck + head) and of the vision-language models.

A `composed` model names one registered part per slot; each part's settings are
validated against that part's schema here, so YAML mistakes surface at
validation, and sizes that do not fit surface when the model is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.registry import Registry
from engine.schema.base import MODELS, Component, Schema, path_field
from engine.schema.models import Activation, ConvLayers, InitFrom, MLPConfig, TransformerConfig

if TYPE_CHECKING:
    from engine.paths import Paths

BACKBONES = Registry("backbone")
NECKS = Registry("neck")
HEADS = Registry("head")


# ---- backbones: the classic models' schemas, and hf -----------------------------------------------
class CNNBackbone(ConvLayers):
    batch_norm: bool = Field(True, description="batch norm after each convolution")
    global_pool: bool = Field(True, description="average over space: the output is the last channel count")


def pretrained_field() -> Any:
    return path_field(
        None,
        root="model_root",
        description="pretrained weights: a folder under path.model_root written with save_pretrained, "
        "else a hub id (online), e.g. openai/clip-vit-base-patch32",
    )


def pretrained_folder(name: str | None, paths: Paths) -> Path | None:
    """The folder `pretrained` names (absolute, or under path.model_root) when it exists; None: a hub id."""
    if name is None:
        return None
    path = Path(name).expanduser()
    folder = path if path.is_absolute() else paths.root("model_root") / path
    return folder if folder.is_dir() else None


class Pretrained(Component):
    """A component that may load pretrained weights: a local folder's contents enter the run id, a hub id's name."""

    def input_files(self, paths: Paths) -> dict[str, Path]:
        folder = pretrained_folder(self.pretrained, paths)
        return {} if folder is None else {"pretrained": folder}


class HFBackbone(Pretrained):
    """Any transformers architecture (text, tables or images): built from a config (random init), or pretrained."""

    name: Literal["hf"] = "hf"
    model_type: str = Field("bert", description="a transformers model type (bert, roberta, vit, llama, ...)")
    config: dict[str, Any] = Field(
        default_factory=dict, description="config settings, e.g. hidden_size, num_hidden_layers"
    )
    pretrained: str | None = pretrained_field()
    pooling: Literal["mean", "first", "last"] = "mean"

    def cap_problems(self, caps: Any) -> list[str]:
        """A free-form `config` is sized before anything is built: over the caps it is refused."""
        if self.pretrained is not None:  # the weights decide the size; the config only adjusts it
            return []
        parameters = estimate_parameters(self.config)
        if parameters > caps.parameters:
            return [f"config: about {parameters:,.0f} parameters, over the cap of {caps.parameters:,.0f}"]
        if parameters * 4 > caps.memory_gb * 1e9:
            return [
                f"config: about {parameters * 4 / 1e9:,.1f} GB of float32 weights, over the cap of {caps.memory_gb} GB"
            ]
        return []


_SIZE_KEYS = {  # transformers' names for the same dimension across model types
    "hidden": ("hidden_size", "d_model", "n_embd", "dim", "embed_dim"),
    "layers": ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "encoder_layers"),
    "inner": ("intermediate_size", "n_inner", "ffn_dim", "d_ff", "hidden_dim", "encoder_ffn_dim"),
    "vocab": ("vocab_size",),
    "positions": ("max_position_embeddings", "n_positions", "max_seq_len"),
}


def estimate_parameters(config: dict[str, Any]) -> float:
    """Parameters of a transformer built from a transformers config mapping, from its sizes alone (no import):
    embeddings plus, per layer, attention (4 h^2) and the feed-forward block (2 h i). Sub-configs (a
    vision-language model's text_config, vision_config) add theirs. Unknown sizes take BERT-base's."""

    def size(kind: str, default: float) -> float:
        values = [config[key] for key in _SIZE_KEYS[kind] if isinstance(config.get(key), int | float)]
        return float(max(values)) if values else default

    hidden = size("hidden", 768)
    own = size("vocab", 30522) * hidden + size("positions", 512) * hidden
    own += size("layers", 12) * (4 * hidden**2 + 2 * hidden * size("inner", 4 * hidden))
    return own + sum(estimate_parameters(v) for v in config.values() if isinstance(v, dict))


# ---- necks and heads -----------------------------------------------------------------------------
class IdentityNeck(Component):
    name: Literal["identity"] = "identity"


class ProjectionNeck(Component):
    name: Literal["projection"] = "projection"
    in_features: int | None = Field(None, ge=1, le=1_000_000, description="checked against the backbone; unset: any")
    out_features: int = Field(128, ge=1, le=1_000_000)
    activation: Activation = "gelu"
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    norm: bool = True


class LinearHead(Component):
    name: Literal["linear"] = "linear"
    in_features: int | None = Field(None, ge=1, le=1_000_000, description="checked against what feeds it; unset: any")
    dropout: float = Field(0.0, ge=0.0, le=0.9)


class MLPHead(Component):
    name: Literal["mlp"] = "mlp"
    in_features: int | None = Field(None, ge=1, le=1_000_000)
    hidden: int = Field(128, ge=1, le=16384)
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    activation: Activation = "relu"


_M = "engine.models.components"
for _registry, _name, _schema, _impl in (
    (BACKBONES, "mlp", MLPConfig, f"{_M}:MLPBackbone"),
    (BACKBONES, "cnn", CNNBackbone, f"{_M}:CNNBackbone"),
    (BACKBONES, "transformer", TransformerConfig, f"{_M}:TransformerBackbone"),
    (BACKBONES, "hf", HFBackbone, "engine.models.hf:HFBackbone"),
    (NECKS, "identity", IdentityNeck, f"{_M}:IdentityNeck"),
    (NECKS, "projection", ProjectionNeck, f"{_M}:ProjectionNeck"),
    (HEADS, "linear", LinearHead, f"{_M}:LinearHead"),
    (HEADS, "mlp", MLPHead, f"{_M}:MLPHead"),
):
    _registry.register(_name, _schema, _impl)


def _part(registry: Registry, value: Any) -> Any:
    if isinstance(value, Schema):
        return value
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError(f"expected a mapping with a name ({', '.join(registry.names())})")
    return registry.build(value["name"], value)


class ComposedConfig(InitFrom, Component):
    """backbone -> neck -> head, each a registered part."""

    name: Literal["composed"] = "composed"
    backbone: Any = Field(default_factory=lambda: {"name": "mlp"})
    neck: Any = Field(default_factory=lambda: {"name": "identity"})
    head: Any = Field(default_factory=lambda: {"name": "linear"})

    @field_validator("backbone", "neck", "head", mode="before")
    @classmethod
    def _parts(cls, value: Any, info: ValidationInfo) -> Any:
        return _part({"backbone": BACKBONES, "neck": NECKS, "head": HEADS}[info.field_name], value)


CLIPMode = Literal["auto", "contrastive", "zero_shot", "linear_probe", "finetune"]


class CLIPConfig(InitFrom, Pretrained):
    """transformers' CLIPModel: pretrained (zero-shot, linear probe or fine-tuning), or a small one from scratch
    trained contrastively on images and class-prompt captions."""

    name: Literal["clip"] = "clip"
    pretrained: str | None = pretrained_field()
    mode: CLIPMode = Field(
        "auto",
        description="zero_shot (evaluate only), linear_probe (frozen encoder, trained head), finetune (the image "
        "encoder too), contrastive (from scratch); auto: zero_shot when pretrained, else contrastive",
    )
    finetune_layers: int | None = Field(
        None, ge=1, le=128, description="finetune: train the image encoder's last N layers; null: all of it"
    )
    backbone_lr: float = Field(1e-5, gt=0.0, le=1.0, description="finetune: learning rate of the image encoder")
    width: int = Field(64, ge=16, le=1024, description="from scratch: hidden size of both towers")
    layers: int = Field(2, ge=1, le=24, description="from scratch")
    heads: int = Field(4, ge=1, le=16, description="from scratch")
    patch_size: int = Field(2, ge=1, le=32, description="from scratch: must divide the image size")
    projection_dim: int = Field(64, ge=8, le=1024, description="from scratch")
    templates: list[str] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="prompt templates, {} is the class name; null: CLIP's CIFAR prompts when pretrained, "
        "digit captions from scratch",
    )

    @model_validator(mode="after")
    def _check(self) -> CLIPConfig:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads})")
        if any("{}" not in t for t in self.templates or []):
            raise ValueError("every template must hold {} for the class name")
        if self.pretrained is None and self.mode not in ("auto", "contrastive"):
            raise ValueError(
                f"mode {self.mode} needs pretrained weights (model.pretrained: a hub id or a folder under "
                "path.model_root); without them the small CLIP trains from scratch (mode contrastive)"
            )
        if self.pretrained is not None and self.mode == "contrastive":
            raise ValueError("mode contrastive trains the small CLIP from scratch: set pretrained to null")
        return self

    def resolved_mode(self) -> str:
        if self.mode != "auto":
            return self.mode
        return "zero_shot" if self.pretrained else "contrastive"


MODELS.register("composed", ComposedConfig, "engine.models.composed:Model")
MODELS.register("clip", CLIPConfig, "engine.models.clip:build")
