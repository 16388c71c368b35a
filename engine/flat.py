"""Nested settings as dotted keys: {"model": {"hidden": 64}} <-> {"model.hidden": 64}."""

from __future__ import annotations

from typing import Any


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Every leaf under its dotted path; an empty mapping stays a leaf so that it is not lost."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, inner in value.items():
            out.update(flatten(inner, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: value} if prefix else {}
