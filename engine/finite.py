"""What counts as a result's number: one rule for objectives, metrics and searcher results.

No numpy here: the database's command line and the sweep checks read it at start-up.
"""

from __future__ import annotations

import math
import numbers
from typing import Any


def finite_number(value: Any) -> float | None:
    """`value` as a float when it is one finite real number, else None (a failed or missing result).

    A number is what an objective function returns: an int or float, a numpy scalar, or a one-element
    array or tensor (their `item()`). A bool is not one: `True` is a switch, not a score of 1.
    """
    if not isinstance(value, numbers.Number) and callable(getattr(value, "item", None)):
        try:
            value = value.item()  # a numpy array or torch tensor of one element
        except (ValueError, RuntimeError, TypeError):
            return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
