"""The quantize pipeline: llm-compressor's oneshot with a compression standard or a user recipe.

A standard (configs/standards/compression/<scheme>.yaml) is an llm-compressor
recipe whose "$name" strings are filled from pipeline.recipe_args (null keeps
the standard's default), so a sweep can tune them. A user recipe file is
passed to oneshot unchanged; validation already refused a missing or unreadable
one and unknown modifiers (engine/pipelines/recipes.py). Inputs are checked before the model is loaded, and
every message names where the problem is (the standard and its recipe_args, or
the recipe file and the key inside it): the device, unknown modifiers, settings
a modifier rejects (llm-compressor's own validation), stages llm-compressor would
skip, recipe args the scheme does not take, group sizes that do not divide the
layers, missing calibration files. The compressed model is saved in <run dir>/model.

Every modifier runs on CPU. llm-compressor 0.14's AWQ pins its activation cache in
page-locked memory, which needs an accelerator ("Cannot access accelerator device");
without one, pinning (an optimisation of host-to-GPU copies) is skipped during oneshot.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from engine.atomic import atomic_write
from engine.context import RunContext, resolve_device
from engine.data_pipe.llm_data import calibration_dataset
from engine.errors import did_you_mean
from engine.metaprogram import Metaprogram
from engine.models.llm.materialize import folder_size_mb, materialize
from engine.pipelines.recipes import RecipeError, RecipeSource, check_modifier_names, modifier_names, read_recipe_file
from engine.schema.llm import STANDARDS_DIR

MODEL_SUBDIR = "model"


def run(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    cfg = mp.pipeline
    device = resolve_device(cfg.device)  # no CUDA for device=cuda: refused before anything is loaded
    recipe, needs_calibration, source = build_recipe(cfg, context.paths)
    check_recipe(recipe, source)
    model_folder = materialize(mp.model, context.paths)
    check_group_sizes(recipe, json.loads((model_folder / "config.json").read_text()), source)
    dataset = None
    if needs_calibration:
        dataset = calibration_dataset(mp.dataset, context.paths, cfg.num_calibration_samples, mp.seed)
    recipe_text = yaml.safe_dump(recipe, sort_keys=False)
    atomic_write(context.run_dir / "recipe.yaml", recipe_text)

    out = context.run_dir / MODEL_SUBDIR
    seconds = compress(model_folder, out, recipe_text, dataset, cfg, device, mp.seed, context)
    before, after = folder_size_mb(model_folder), folder_size_mb(out)
    context.log.info(
        "quantized %s with %s in %.1f s: %.1f MB -> %.1f MB", mp.model.name, source, seconds, before, after
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
        with _no_pinned_memory_without_accelerator():
            model = oneshot(model=model, processor=tokenizer, recipe=recipe_text, log_dir=None, **kwargs)
    except ValueError as exc:
        raise RecipeError(f"llm-compressor rejected the recipe: {exc}") from exc
    seconds = time.perf_counter() - started
    context.check_deadline()
    model.save_pretrained(out, save_compressed=cfg.save_compressed)
    tokenizer.save_pretrained(out)
    return seconds


@contextmanager
def _no_pinned_memory_without_accelerator() -> Iterator[None]:
    """Skip pinning llm-compressor's activation cache where no accelerator exists (it would raise there)."""
    import torch
    from llmcompressor.pipelines.cache import IntermediatesCache

    if torch.accelerator.is_available() or not hasattr(IntermediatesCache, "pin_memory"):
        yield
        return
    pin = IntermediatesCache.pin_memory
    IntermediatesCache.pin_memory = lambda self, batch_index, input_names=None: None
    try:
        yield
    finally:
        IntermediatesCache.pin_memory = pin


# ----------------------------------------------------------------------------- recipe


def build_recipe(cfg, paths) -> tuple[dict[str, Any], bool, RecipeSource]:
    """(recipe as a mapping, whether it needs calibration data, where it came from)."""
    args = {k: v for k, v in cfg.recipe_args.model_dump().items() if v is not None}
    if cfg.recipe_file is not None:  # validation checked it too; read again here, where the run reads it
        path = paths.data_file(cfg.recipe_file)
        return read_recipe_file(path), True, RecipeSource(file=path)
    standard = load_standard(cfg.scheme)
    defaults = standard.get("defaults") or {}
    extra = sorted(set(args) - set(defaults))
    if extra:
        takes = ", ".join(sorted(defaults)) or "none"
        raise RecipeError(f"pipeline.recipe_args {extra} do not apply to scheme {cfg.scheme!r} (it takes: {takes})")
    values = {**defaults, **args}
    return substitute(standard["recipe"], values), bool(standard.get("calibration", True)), RecipeSource(cfg.scheme)


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


def check_recipe(recipe: dict[str, Any], source: RecipeSource) -> None:
    """What llm-compressor would reject or silently skip, said before the model is loaded."""
    from llmcompressor.modifiers.factory import ModifierFactory
    from llmcompressor.recipe import Recipe

    if not ModifierFactory._loaded:
        ModifierFactory.refresh()
    known = sorted(
        {
            *ModifierFactory._main_registry,
            *ModifierFactory._experimental_registry,
            *ModifierFactory._registered_registry,
        }
    )
    check_modifier_names(recipe, source, tuple(known))
    names = modifier_names(recipe)
    try:
        parsed = Recipe.from_dict(recipe)  # builds every modifier: llm-compressor's own check of its settings
    except Exception as exc:  # pydantic's ValidationError, or a ValueError about the modifiers' order
        raise RecipeError(f"{source}: llm-compressor rejects it: {_short(exc)}") from None
    if len(parsed.modifiers) < len(names):
        stages = [k for k in recipe if not str(k).endswith("_stage")]
        raise RecipeError(
            f"{source}: llm-compressor reads modifiers only under stages named '<name>_stage' and groups named "
            f"'<name>_modifiers', so {len(names) - len(parsed.modifiers)} of its {len(names)} modifier(s) would be "
            f"skipped; rename {stages or 'the groups'} (e.g. quant_stage -> quant_modifiers -> GPTQModifier)"
        )


def _short(exc: Exception) -> str:
    """A pydantic error as 'Modifier.field: message; ...', anything else as its first line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        title = getattr(exc, "title", "")
        parts = [f"{title}.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors()]
        return "; ".join(parts)
    return str(exc).strip().splitlines()[0]


def group_sizes(recipe: Any, where: str = "") -> list[tuple[str, int]]:
    """(key path, group size) of every `group_size` in the recipe."""
    found: list[tuple[str, int]] = []
    if isinstance(recipe, dict):
        for key, value in recipe.items():
            path = f"{where}.{key}" if where else str(key)
            if key == "group_size" and isinstance(value, int) and not isinstance(value, bool):
                found.append((path, value))
            else:
                found += group_sizes(value, path)
    elif isinstance(recipe, list):
        for i, value in enumerate(recipe):
            found += group_sizes(value, f"{where}[{i}]")
    return found


def check_group_sizes(recipe: dict[str, Any], model_config: dict[str, Any], source: RecipeSource) -> None:
    """Every quantized Linear's input width must be a multiple of the group size."""
    widths = {k: model_config[k] for k in ("hidden_size", "intermediate_size") if isinstance(model_config.get(k), int)}
    for key, size in group_sizes(recipe):
        for name, width in widths.items():
            if width % size:
                common = math.gcd(*widths.values())
                fits = [g for g in (256, 128, 64, 32, 16) if common % g == 0][:2] or [common]
                raise RecipeError(
                    f"{source}: group_size {size} does not divide the model's {name} ({width}); "
                    f"{source.fix(key)} to a divisor of {common} (e.g. {' or '.join(map(str, fits))})"
                )
