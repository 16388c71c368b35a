"""Search spaces in the agreed study format, and turning a trial's params into a metaprogram.

A space maps dotted keys (`pipeline.optim.lr`) to a spec:
`{"type": "choice"|"grid", "values": [...]}` or `{"type": "uniform"|"loguniform"|"randint", "low": x, "high": y}`.
"""

from __future__ import annotations

import copy
import itertools
import math
import random
from typing import Any

CATEGORICAL = ("choice", "grid")
NUMERIC = ("uniform", "loguniform", "randint")
TYPES = CATEGORICAL + NUMERIC


class SpaceError(ValueError):
    """A search space that the planner cannot represent."""


def check_space(space: dict[str, dict[str, Any]]) -> None:
    """Refuse specs the serialiser cannot encode, saying which key and why."""
    if not space:
        raise SpaceError("search space is empty")
    for key, spec in space.items():
        kind = spec.get("type")
        if kind not in TYPES:
            raise SpaceError(f"{key}: type {kind!r} is not one of {', '.join(TYPES)}")
        if kind in CATEGORICAL:
            values = spec.get("values")
            if not isinstance(values, list) or not values:
                raise SpaceError(f"{key}: {kind} needs a non-empty list of values")
            for v in values:
                if isinstance(v, str) and (not v or any(c.isspace() for c in v)):
                    raise SpaceError(f"{key}: choice value {v!r} must be a non-empty word without spaces")
                if not isinstance(v, str | int | float | bool) and v is not None:
                    raise SpaceError(f"{key}: choice value {v!r} must be a string, number, bool or null")
        else:
            low, high = spec.get("low"), spec.get("high")
            if not isinstance(low, int | float) or not isinstance(high, int | float) or not low < high:
                raise SpaceError(f"{key}: {kind} needs numbers low < high, got {low!r}, {high!r}")
            if kind == "loguniform" and low <= 0:
                raise SpaceError(f"{key}: loguniform needs low > 0, got {low!r}")


def sample(space: dict[str, dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    """One random point (what random search does)."""
    out: dict[str, Any] = {}
    for key, spec in space.items():
        kind = spec["type"]
        if kind in CATEGORICAL:
            out[key] = rng.choice(spec["values"])
        elif kind == "uniform":
            out[key] = rng.uniform(spec["low"], spec["high"])
        elif kind == "loguniform":
            out[key] = math.exp(rng.uniform(math.log(spec["low"]), math.log(spec["high"])))
        else:  # randint: [low, high) as in Ray Tune
            out[key] = rng.randrange(int(spec["low"]), int(spec["high"]))
    return out


def grid(space: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Every point of an all-categorical space, in a stable order."""
    keys = sorted(space)
    if any(space[k]["type"] not in CATEGORICAL for k in keys):
        raise SpaceError("grid() needs every parameter to be choice or grid")
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(space[k]["values"] for k in keys))]


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """A copy of the canonical `base` with each dotted key set (missing levels are created)."""
    raw = copy.deepcopy(base)
    for dotted, value in params.items():
        node = raw
        *parents, leaf = dotted.split(".")
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = value
    return raw


def point_key(params: dict[str, Any]) -> str:
    """A hashable, order-free key of one point (for lookups and de-duplication)."""
    return "|".join(f"{k}={params[k]!r}" for k in sorted(params))
