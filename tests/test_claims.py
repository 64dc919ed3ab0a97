"""Claims and criteria (implicit_bias.claims): a verdict holds only for finite values inside the criterion."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from implicit_bias.claims import Claim, at_least, at_most, between, equals, failed, verdicts, within


@pytest.mark.parametrize(
    ("criterion", "inside", "outside"),
    [
        (at_most(1e-2), 1e-2, 1.1e-2),
        (at_least(0.75), 0.75, 0.74),
        (between(0.5, 1.5), 1.5, 1.51),
        (equals(1.0), 1.0, 1.0 - 1e-15),
        (within(2.0, 0.1), 1.8, 1.79),
    ],
)
def test_criteria_are_closed_intervals_that_can_fail(criterion, inside, outside):
    assert criterion.holds(inside) and not criterion.holds(outside)


@given(st.sampled_from([math.nan, math.inf, -math.inf]))
def test_non_finite_values_never_hold(value):
    for criterion in (at_most(1.0), at_least(0.0), between(-1e300, 1e300), within(1.0, 10.0)):
        assert not criterion.holds(value) and not criterion.holds((0.5, value))


def test_an_interval_holds_only_when_both_ends_do():
    assert between(0.4, 0.6).holds((0.45, 0.55)) and not between(0.4, 0.6).holds((0.45, 0.65))


def test_verdicts_and_failures_distinguish_not_applicable_from_fails():
    found = [
        Claim("ok", 1.0, equals(1.0)),
        Claim("bad", 2.0, equals(1.0)),
        Claim("skipped", math.nan, equals(1.0), not_applicable="n too large for the exact solver"),
    ]
    assert verdicts(found) == {
        "ok": "holds",
        "bad": "FAILS",
        "skipped": "not applicable: n too large for the exact solver",
    }
    assert failed(found) == ["bad"]


def test_a_relative_criterion_needs_a_positive_target():
    with pytest.raises(ValueError, match="target must be positive for a relative criterion, got 0"):
        within(0.0, 0.1)


def test_a_boolean_is_not_a_measured_value():
    with pytest.raises(
        TypeError, match="claim 'bracket holds': its value must be a number or an interval, not a boolean"
    ):
        Claim("bracket holds", True, equals(1.0))
    with pytest.raises(TypeError, match="not a boolean"):
        Claim("interval", (0.5, np.True_), between(0.0, 1.0))
