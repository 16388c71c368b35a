"""The bounds on every text and value that enters, set in one place, and messages that stay short.

Real configs are far inside these limits: the largest shipped metaprogram has about 300 nodes,
nests 8 deep and has no string over 200 characters. Anything past them is refused before it is
parsed further, so an alias bomb, a list nested 30,000 deep or a 50 MB string costs milliseconds
and kilobytes, and its error message is one short line.

    check_plain(value, "planner output")   # raises InputError when `value` is not plain data within LIMITS
    shorten(repr(value))                   # at most 80 characters, the cut marked
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 4 * 1024 * 1024  # a whole file or text
    max_depth: int = 64  # nested lists and mappings
    max_nodes: int = 100_000  # every scalar, list and mapping, aliases counted as expanded
    max_string: int = 256 * 1024  # one string (or key)
    max_errors: int = 50  # lines one error report shows
    max_error_chars: int = 1200  # characters one error line shows


LIMITS = Limits()


class InputError(ValueError):
    """Input refused before it is read any further: one line, naming the source."""


def shorten(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    keep = max(limit - 24, 8)
    return f"{text[:keep]}... ({len(text) - keep:,} more characters)"


def shown(value: Any, limit: int = 80) -> str:
    """repr(value) for an error message, bounded (never builds the repr of a huge container)."""
    if isinstance(value, str):
        return shorten(repr(value[: limit * 2]), limit) if len(value) > limit * 2 else shorten(repr(value), limit)
    if isinstance(value, dict | list | tuple | set):
        if len(value) > 8:
            return f"<{type(value).__name__} of {len(value):,} items>"
        return shorten(_safe_repr(value), limit)
    return shorten(_safe_repr(value), limit)


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except (RecursionError, ValueError):  # ints past 4,300 digits, self-referencing containers
        return f"<{type(value).__name__}>"


PLAIN_SCALARS = (str, int, float, bool, type(None))


def check_plain(value: Any, source: str | None = None, limits: Limits = LIMITS) -> None:
    """Refuse anything but plain data within `limits`: mappings with string keys, lists, strings,
    finite numbers, booleans and null. Iterative, so depth cannot exhaust the stack."""
    where = f"{source}: " if source else ""
    nodes = 0
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        nodes += 1
        at = f" at {path}" if path else ""
        if nodes > limits.max_nodes:
            raise InputError(f"{where}more than {limits.max_nodes:,} values (the limit)")
        if depth > limits.max_depth:
            raise InputError(f"{where}nested more than {limits.max_depth} deep{at}")
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise InputError(f"{where}key {shown(key)}{at} is a {type(key).__name__}; keys must be strings")
                _check_string(key, f"{path}.{shorten(key, 40)}" if path else shorten(key, 40), where, limits)
                stack.append((child, f"{path}.{shorten(key, 40)}" if path else shorten(key, 40), depth + 1))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}.{i}" if path else str(i), depth + 1) for i, child in enumerate(item))
        elif isinstance(item, str):
            _check_string(item, path, where, limits)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InputError(f"{where}{item!r}{at} is not a finite number")
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 2**63:
            raise InputError(f"{where}integer{at} is out of range (more than 64 bits)")
        elif not isinstance(item, PLAIN_SCALARS):
            raise InputError(
                f"{where}{type(item).__name__} value{at} is not plain data "
                "(only strings, numbers, booleans, null, lists and mappings)"
            )


def _check_string(text: str, path: str, where: str, limits: Limits) -> None:
    at = f" at {path}" if path else ""
    if len(text) > limits.max_string:
        raise InputError(f"{where}a string of {len(text):,} characters{at} (the limit is {limits.max_string:,})")
    if "\x00" in text:
        raise InputError(f"{where}a string{at} holds a NUL character")
