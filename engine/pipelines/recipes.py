"""Reading and checking llm-compressor recipes without importing llm-compressor.

Validation uses this (a recipe file that is missing, not YAML, or names an unknown
modifier is refused before anything runs or is written); the quantize pipeline
uses it again, then adds llm-compressor's own checks before loading the model.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from engine.errors import did_you_mean

EXAMPLE = "quant_stage -> quant_modifiers -> GPTQModifier"


class RecipeError(ValueError):
    """A recipe that llm-compressor would reject, or that does not fit the model."""


@dataclass(frozen=True)
class RecipeSource:
    """Where a recipe came from, for messages: a standard (and its recipe_args) or a user's recipe file."""

    standard: str | None = None
    file: Path | None = None

    def __str__(self) -> str:
        return f"recipe file {self.file}" if self.file else f"compression standard {self.standard!r}"

    def fix(self, key: str) -> str:
        """What to change: a recipe arg of a standard, or the recipe file itself."""
        if self.file:
            return f"edit {key} in {self.file}"
        return f"set pipeline.recipe_args.{key.rsplit('.', 1)[-1]}"


def read_recipe_file(path: Path) -> dict[str, Any]:
    """The recipe file as a mapping; RecipeError when it is missing, not YAML, or not a mapping."""
    if not path.is_file():
        raise RecipeError(f"recipe file {path} does not exist (relative paths start at path.data_root)")
    from engine import strict_yaml

    try:
        recipe = strict_yaml.load_file(path)  # the one safe loader: tags, depth, size and encoding checked
    except OSError as exc:
        raise RecipeError(f"recipe file {path}: cannot read it ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        raise RecipeError(f"recipe file {exc}") from None  # names the file, the line and the problem
    if not isinstance(recipe, dict):
        raise RecipeError(f"recipe file {path} is not a YAML mapping of stages and modifiers (e.g. {EXAMPLE})")
    return recipe


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


@cache
def installed_modifier_names() -> tuple[str, ...]:
    """Every `...Modifier` name in llm-compressor's modifiers package, read from its source (not imported).

    llm-compressor registers modifiers by class name from that package; reading the
    names keeps validation free of its (torch-importing) modules. A superset is
    fine: the pipeline checks the recipe with llm-compressor itself before loading.
    """
    spec = importlib.util.find_spec("llmcompressor")
    if spec is None or not spec.submodule_search_locations:
        return ()
    package = Path(next(iter(spec.submodule_search_locations))) / "modifiers"
    pattern = re.compile(r"\b([A-Z]\w*Modifier)\b")
    return tuple(sorted({name for path in package.rglob("*.py") for name in pattern.findall(path.read_text())}))


def check_modifier_names(recipe: dict[str, Any], source: RecipeSource, known: tuple[str, ...]) -> None:
    names = modifier_names(recipe)
    if not names:
        raise RecipeError(f"{source} has no modifiers (expected e.g. {EXAMPLE})")
    for name in names:
        if name not in known:
            raise RecipeError(f"{source}: unknown modifier {name!r}; {did_you_mean(name, list(known))}")


def recipe_file_problems(recipe_file: str, paths: Any) -> list[str]:
    """What is wrong with a recipe file before anything runs: missing, not YAML, unknown modifiers."""
    path = paths.data_file(recipe_file)
    try:
        recipe = read_recipe_file(path)
        known = installed_modifier_names()
        if known:  # without llm-compressor installed, the run says so itself
            check_modifier_names(recipe, RecipeSource(file=path), known)
    except RecipeError as exc:
        return [str(exc)]
    return []
