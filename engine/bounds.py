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


def bounded_lines(lines: list[str], what: str = "line(s)", limits: Limits | None = None) -> list[str]:
    """At most `max_errors` lines of at most `max_error_chars` characters each, then how many were left out."""
    limits = limits or LIMITS
    kept = [shorten(str(line), limits.max_error_chars) for line in lines[: limits.max_errors]]
    if len(lines) > limits.max_errors:
        kept.append(f"... and {len(lines) - limits.max_errors:,} more {what}")
    return kept


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
    finite numbers, booleans and null. Iterative, so depth cannot exhaust the stack; the key path of a
    problem is spelt only when there is one."""
    where = f"{source}: " if source else ""
    nodes = 0
    # (value, depth, parent entry, key): the path is rebuilt from the parents when something is wrong
    stack: list[tuple[Any, int, Any, Any]] = [(value, 0, None, None)]
    while stack:
        entry = stack.pop()
        item, depth = entry[0], entry[1]
        nodes += 1
        if nodes > limits.max_nodes:
            raise InputError(f"{where}more than {limits.max_nodes:,} values (the limit)")
        if depth > limits.max_depth:
            raise InputError(f"{where}nested more than {limits.max_depth} deep{_at(entry)}")
        if type(item) is dict:
            for key, child in item.items():
                if type(key) is not str:
                    raise InputError(
                        f"{where}key {shown(key)}{_at(entry)} is a {type(key).__name__}; keys must be strings"
                    )
                _check_string(key, entry, where, limits)
                stack.append((child, depth + 1, entry, key))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1, entry, i) for i, child in enumerate(item))
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise InputError(f"{where}{item!r}{_at(entry)} is not a finite number")
        elif isinstance(item, int):
            if abs(item) >= 2**63:
                raise InputError(f"{where}integer{_at(entry)} is out of range (more than 64 bits)")
        elif not isinstance(item, PLAIN_SCALARS):
            raise InputError(
                f"{where}{type(item).__name__} value{_at(entry)} is not plain data "
                "(only strings, numbers, booleans, null, lists and mappings)"
            )


def _at(entry: tuple) -> str:
    """' at a.b.0' for a stack entry of check_plain (nothing at the top)."""
    parts = []
    while entry is not None and entry[2] is not None:
        parts.append(shorten(str(entry[3]), 40))
        entry = entry[2]
    return f" at {'.'.join(reversed(parts))}" if parts else ""


def _check_string(text: str, entry: tuple, where: str, limits: Limits) -> None:
    if len(text) > limits.max_string:
        at = _at(entry)
        raise InputError(f"{where}a string of {len(text):,} characters{at} (the limit is {limits.max_string:,})")
    if "\x00" in text:
        raise InputError(f"{where}a string{_at(entry)} holds a NUL character")
