"""Search spaces: the one module that checks, samples, enumerates and applies them.

The sweeper (util/sweep_spec.py, util/tune_sweep.py) and the planner (planner/) both use it.
A space maps dotted keys of a metaprogram (`pipeline.optim.lr`) to a spec:
`{type: choice|grid, values: [...]}` or `{type: uniform|loguniform|randint, low: x, high: y}`
(randint: `high` excluded, as in Ray Tune). Imports neither torch nor ray.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from typing import Any, Literal

from pydantic import StrictFloat, StrictInt, ValidationError, model_validator

from engine.errors import error_lines
from engine.schema.base import COMPONENT_KINDS, Schema

CATEGORICAL = ("choice", "grid")
NUMERIC = ("uniform", "loguniform", "randint")
TYPES = CATEGORICAL + NUMERIC


class SpaceError(ValueError):
    """A search space that is not valid, one line per problem."""

    def __init__(self, errors: list[str] | str):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("; ".join(self.errors))


class ParamSpec(Schema):
    """One parameter of a space."""

    type: Literal["choice", "grid", "uniform", "loguniform", "randint"]
    values: list[Any] | None = None
    low: StrictInt | StrictFloat | None = None
    high: StrictInt | StrictFloat | None = None

    @model_validator(mode="after")
    def _consistent(self) -> ParamSpec:
        if self.type in CATEGORICAL:
            if not self.values:
                raise ValueError(f"{self.type} needs a non-empty list `values`")
            if self.low is not None or self.high is not None:
                raise ValueError(f"{self.type} takes `values`, not low/high")
            return self
        if self.values is not None:
            raise ValueError(f"{self.type} takes low and high, not `values`")
        if self.low is None or self.high is None or not self.low < self.high:
            raise ValueError(f"{self.type} needs numbers low < high")
        if self.type == "loguniform" and self.low <= 0:
            raise ValueError("loguniform needs low > 0")
        if self.type == "randint" and not (float(self.low).is_integer() and float(self.high).is_integer()):
            raise ValueError("randint needs whole numbers low < high (high excluded)")
        return self


def space_errors(space: Any, prefix: str = "space") -> list[str]:
    """Every problem of a space at once, each with its key path."""
    if not isinstance(space, dict) or not space:
        return [f"{prefix}: a non-empty mapping of dotted keys to {{type: ..., values: [...] | low: .., high: ..}}"]
    errors = []
    for key, spec in space.items():
        try:
            ParamSpec.model_validate(spec)
        except ValidationError as exc:
            errors += error_lines(exc, ParamSpec, f"{prefix}.{key}")
    return errors


def check_space(space: Any) -> None:
    errors = space_errors(space)
    if errors:
        raise SpaceError(errors)


def is_finite(space: dict[str, dict[str, Any]]) -> bool:
    return all(spec["type"] in CATEGORICAL for spec in space.values())


def sample_value(spec: dict[str, Any], rng: random.Random) -> Any:
    kind = spec["type"]
    if kind in CATEGORICAL:
        return rng.choice(spec["values"])
    if kind == "uniform":
        return rng.uniform(spec["low"], spec["high"])
    if kind == "loguniform":
        return math.exp(rng.uniform(math.log(spec["low"]), math.log(spec["high"])))
    return rng.randrange(int(spec["low"]), int(spec["high"]))  # randint: high excluded, as in Ray Tune


def sample(space: dict[str, dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """One random point; keys drawn in sorted order, so a space's draws do not depend on how it was written."""
    return {key: sample_value(space[key], rng) for key in sorted(space)}


def grid(space: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every point of an all-categorical space, in a stable order (keys sorted)."""
    others = sorted(k for k, spec in space.items() if spec["type"] not in CATEGORICAL)
    if others:
        raise SpaceError([f"space.{k}: grid mode needs finite values (choice or grid)" for k in others])
    keys = sorted(space)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(space[k]["values"] for k in keys))]


def grid_size(space: dict[str, dict[str, Any]]) -> int:
    """Points of the categorical part (a numeric parameter counts once)."""
    return math.prod(len(spec["values"]) if spec["type"] in CATEGORICAL else 1 for spec in space.values())


def point_key(params: dict[str, Any]) -> str:
    """A hashable, order-free key of one point (for lookups and de-duplication)."""
    return "|".join(f"{k}={params[k]!r}" for k in sorted(params))


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Set `a.b.c` in nested dicts, creating missing levels."""
    *parents, leaf = key.split(".")
    node = tree
    for part in parents:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[leaf] = value


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of the canonical `base` with `params` set at their dotted keys (not validated).

    Setting `<kind>.name` to another component starts that component from its defaults:
    the base's other settings belong to the old component.
    """
    raw = copy.deepcopy(base)
    for kind in COMPONENT_KINDS:
        new = params.get(f"{kind}.name")
        if new is not None and new != (raw.get(kind) or {}).get("name"):
            raw[kind] = {"name": new}
    for key, value in sorted(params.items()):
        set_dotted(raw, key, value)
    return raw
