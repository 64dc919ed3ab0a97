"""A claim the book checks: a measured value, a criterion that can fail, and its verdict.

A verdict is "holds", "FAILS" or "not applicable: <why>". NaN, infinite or missing values never hold: a claim
that cannot be measured at the given parameters must say why it does not apply instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Value = float | tuple[float, float]


@dataclass(frozen=True)
class Criterion:
    """The closed interval [lo, hi] a measured value (or both ends of a measured interval) must lie in."""

    text: str
    lo: float = -math.inf
    hi: float = math.inf

    def holds(self, value: Value) -> bool:
        """True only for finite values inside [lo, hi]; an interval holds when both its ends do."""
        ends = value if isinstance(value, tuple) else (value,)
        return all(math.isfinite(float(v)) and self.lo <= float(v) <= self.hi for v in ends)


def at_most(bound: float, text: str | None = None) -> Criterion:
    """value <= bound."""
    return Criterion(text or f"<= {bound:g}", hi=bound)


def at_least(bound: float, text: str | None = None) -> Criterion:
    """value >= bound."""
    return Criterion(text or f">= {bound:g}", lo=bound)


def between(lo: float, hi: float, text: str | None = None) -> Criterion:
    """lo <= value <= hi."""
    return Criterion(text or f"in [{lo:g}, {hi:g}]", lo=lo, hi=hi)


def equals(target: float, tol: float = 0.0, text: str | None = None) -> Criterion:
    """|value - target| <= tol (exact equality by default, for counts and accuracies)."""
    default = f"= {target:g}" if tol == 0 else f"= {target:g} to {tol:g}"
    return Criterion(text or default, lo=target - tol, hi=target + tol)


def within(target: float, rel: float, text: str | None = None) -> Criterion:
    """|value / target - 1| <= rel, for a positive target."""
    if not target > 0:
        raise ValueError(f"target must be positive for a relative criterion, got {target!r}")
    return Criterion(text or f"within {rel:.0%} of {target:g}", lo=target * (1 - rel), hi=target * (1 + rel))


@dataclass(frozen=True)
class Claim:
    """One checked statement: what was measured, the criterion, and why it does not apply (None if it does)."""

    statement: str
    value: Value
    criterion: Criterion
    not_applicable: str | None = None

    def __post_init__(self) -> None:
        if any(
            isinstance(v, (bool, np.bool_)) for v in (self.value if isinstance(self.value, tuple) else (self.value,))
        ):
            raise TypeError(
                f"claim {self.statement!r}: its value must be a number or an interval, not a boolean "
                "(a table would print it as 1 or 0); measure a count or a fraction instead"
            )

    @property
    def holds(self) -> bool:
        """Whether the criterion holds (never for a claim that does not apply)."""
        return self.not_applicable is None and self.criterion.holds(self.value)

    @property
    def verdict(self) -> str:
        """'holds', 'FAILS', or 'not applicable: <why>'."""
        if self.not_applicable is not None:
            return f"not applicable: {self.not_applicable}"
        return "holds" if self.holds else "FAILS"


def verdicts(claims: list[Claim]) -> dict[str, str]:
    """Each claim's verdict by statement, for tests and tables."""
    return {c.statement: c.verdict for c in claims}


def failed(claims: list[Claim]) -> list[str]:
    """The statements whose verdict is FAILS (claims that do not apply are not failures)."""
    return [c.statement for c in claims if c.verdict == "FAILS"]
