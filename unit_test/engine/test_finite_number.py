"""engine.finite.finite_number: one rule for what counts as a result's number, whatever type carries it."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import torch
from hypothesis import given
from hypothesis import strategies as st

from engine.finite import finite_number


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_in_any_carrier_is_itself_when_finite_and_none_otherwise(x):
    expected = x if math.isfinite(x) else None
    for carrier in (float, np.float64, lambda v: np.array(v), lambda v: np.array([v])):
        assert finite_number(carrier(x)) == expected
    with np.errstate(over="ignore"):  # a float beyond float32's range is inf there
        as32 = np.float32(x)
    assert (finite_number(as32) is None) == (not math.isfinite(float(as32)))
    assert finite_number(torch.tensor([x], dtype=torch.float64)) == expected


@given(st.integers(-(2**62), 2**62))
def test_an_integer_is_a_number_and_a_bool_is_not(n):
    assert finite_number(n) == float(n) == finite_number(np.int64(n))
    assert finite_number(Fraction(n, 3)) == n / 3


def test_what_is_not_one_real_number_is_none():
    for value in (True, False, np.bool_(True), None, "0.5", [1.0], {"a": 1}, 1 + 0j, np.zeros(2), torch.ones(2)):
        assert finite_number(value) is None, value
