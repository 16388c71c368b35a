"""The quantize pipeline: llm-compressor's oneshot with a compression standard or a user recipe.

A standard (configs/standards/compression/<scheme>.yaml) is an llm-compressor
recipe whose "$name" strings are filled from pipeline.recipe_args (null keeps
the standard's default), so a sweep can tune them. A user recipe file is
passed to oneshot unchanged. Inputs are checked before the model is loaded:
unknown modifiers, recipe args the scheme does not take, group sizes that do
not divide the layers, missing calibration files. The compressed model is
saved in <run dir>/model.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import yaml

from engine.atomic import atomic_write
from engine.context import RunContext, resolve_device
from engine.data_pipe.llm_data import calibration_dataset
from engine.metaprogram import Metaprogram
from engine.models.llm.materialize import folder_size_mb, materialize
from engine.registry import did_you_mean
from engine.schema.llm import STANDARDS_DIR

MODEL_SUBDIR = "model"


class RecipeError(ValueError):
    """A recipe that llm-compressor would reject, or that does not fit the model."""


def run(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    cfg = mp.pipeline
    recipe, needs_calibration = build_recipe(cfg, context.paths)
    check_modifiers(recipe)
    source = materialize(mp.model, context.paths)
    check_group_sizes(recipe, json.loads((source / "config.json").read_text()))
    dataset = None
    if needs_calibration:
        dataset = calibration_dataset(mp.dataset, context.paths, cfg.num_calibration_samples, mp.seed)
    recipe_text = yaml.safe_dump(recipe, sort_keys=False)
    atomic_write(context.run_dir / "recipe.yaml", recipe_text)

    out = context.run_dir / MODEL_SUBDIR
    seconds = compress(source, out, recipe_text, dataset, cfg, resolve_device(cfg.device), mp.seed, context)
    before, after = folder_size_mb(source), folder_size_mb(out)
    context.log.info(
        "quantized %s with %s in %.1f s: %.1f MB -> %.1f MB", mp.model.name, cfg.scheme, seconds, before, after
    )
    return {
        "quantize/wall_s": round(seconds, 3),
        "quantize/size_before_mb": round(before, 3),
        "quantize/size_after_mb": round(after, 3),
        "quantize/compression_ratio": round(before / after, 4) if after else 0.0,
        "quantize/calibration_samples": len(dataset) if dataset is not None else 0,
    }


def compress(source: Path, out: Path, recipe_text: str, dataset, cfg, device: str, seed: int, context) -> float:
    """Load the model, run oneshot, save the compressed model and tokenizer; return oneshot's wall time."""
    import torch
    from llmcompressor import oneshot
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, dtype="auto" if device == "cuda" else torch.float32)
    if device == "cuda":
        model = model.to("cuda")
    started = time.perf_counter()
    kwargs = {}
    if dataset is not None:
        kwargs = {
            "dataset": dataset,
            "num_calibration_samples": len(dataset),
            "max_seq_length": cfg.max_seq_length,
            "shuffle_calibration_samples": False,
        }
    try:
        model = oneshot(model=model, processor=tokenizer, recipe=recipe_text, log_dir=None, **kwargs)
    except ValueError as exc:
        raise RecipeError(f"llm-compressor rejected the recipe: {exc}") from exc
    seconds = time.perf_counter() - started
    context.check_deadline()
    model.save_pretrained(out, save_compressed=cfg.save_compressed)
    tokenizer.save_pretrained(out)
    return seconds


# ----------------------------------------------------------------------------- recipe


def build_recipe(cfg, paths) -> tuple[dict[str, Any], bool]:
    """(recipe as a mapping, whether it needs calibration data)."""
    args = {k: v for k, v in cfg.recipe_args.model_dump().items() if v is not None}
    if cfg.recipe_file is not None:
        path = paths.data_file(cfg.recipe_file)
        if not path.is_file():
            raise FileNotFoundError(f"pipeline.recipe_file: {path} does not exist")
        if args:
            raise RecipeError(
                f"pipeline.recipe_args {sorted(args)} apply to standards only; a recipe_file is passed unchanged"
            )
        recipe = yaml.safe_load(path.read_text())
        if not isinstance(recipe, dict):
            raise RecipeError(f"pipeline.recipe_file: {path} is not a YAML mapping of stages and modifiers")
        return recipe, True
    standard = load_standard(cfg.scheme)
    defaults = standard.get("defaults") or {}
    extra = sorted(set(args) - set(defaults))
    if extra:
        takes = ", ".join(sorted(defaults)) or "none"
        raise RecipeError(f"pipeline.recipe_args {extra} do not apply to scheme {cfg.scheme!r} (it takes: {takes})")
    values = {**defaults, **args}
    return substitute(standard["recipe"], values), bool(standard.get("calibration", True))


def load_standard(scheme: str) -> dict[str, Any]:
    path = STANDARDS_DIR / "compression" / f"{scheme}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise RecipeError(f"unknown compression scheme {scheme!r}; {did_you_mean(scheme, names)}")
    return yaml.safe_load(path.read_text())


def substitute(node: Any, values: dict[str, Any]) -> Any:
    """Replace every string "$name" with values[name], keeping the value's type."""
    if isinstance(node, dict):
        return {k: substitute(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, values) for v in node]
    if isinstance(node, str) and node.startswith("$"):
        key = node[1:]
        if key not in values:
            raise RecipeError(f"recipe template uses ${key}, which has no value (add it under defaults)")
        return values[key]
    return node


def modifier_names(recipe: dict[str, Any]) -> list[str]:
    """Modifier class names in a recipe: keys under `*_modifiers` groups, or CamelCase ...Modifier keys."""
    found = []

    def walk(node: Any, in_group: bool) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            key = str(key)
            if in_group or key.endswith("Modifier"):
                found.append(key)
            else:
                walk(value, key.endswith("_modifiers"))

    walk(recipe, False)
    return found


def check_modifiers(recipe: dict[str, Any]) -> None:
    from llmcompressor.modifiers.factory import ModifierFactory

    if not ModifierFactory._loaded:
        ModifierFactory.refresh()
    known = sorted(
        {
            *ModifierFactory._main_registry,
            *ModifierFactory._experimental_registry,
            *ModifierFactory._registered_registry,
        }
    )
    names = modifier_names(recipe)
    if not names:
        raise RecipeError("the recipe has no modifiers (expected e.g. stage -> quant_modifiers -> GPTQModifier)")
    for name in names:
        if name not in known:
            raise RecipeError(f"unknown modifier {name!r} in the recipe; {did_you_mean(name, known)}")


def group_sizes(recipe: Any) -> list[int]:
    if isinstance(recipe, dict):
        sizes = [int(v) for k, v in recipe.items() if k == "group_size" and isinstance(v, int)]
        return sizes + [s for v in recipe.values() for s in group_sizes(v)]
    if isinstance(recipe, list):
        return [s for v in recipe for s in group_sizes(v)]
    return []


def check_group_sizes(recipe: dict[str, Any], model_config: dict[str, Any]) -> None:
    """Every quantized Linear's input width must be a multiple of the group size."""
    widths = {k: model_config[k] for k in ("hidden_size", "intermediate_size") if isinstance(model_config.get(k), int)}
    for size in group_sizes(recipe):
        for key, width in widths.items():
            if width % size:
                raise RecipeError(
                    f"group_size {size} does not divide the model's {key} ({width}); "
                    f"choose a divisor of {width} (pipeline.recipe_args.group_size)"
                )
