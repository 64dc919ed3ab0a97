"""What chapters need beyond the science: parameter parsing and glue that also works outside the book build."""

from __future__ import annotations

import html
import itertools
import math
from typing import Any

import torch

from . import _validate
from .claims import Claim, Value, failed


def torch_dtype(name: str) -> torch.dtype:
    """'float64' or 'float32' (a papermill parameter is a string) as a torch dtype."""
    _validate.choice("dtype", name, ("float64", "float32"))
    return getattr(torch, name)


def glue(name: str, value: Any, display: bool = False) -> None:
    """myst-nb's glue when it is installed (the book build); in Colab or plain Jupyter, print the value."""
    try:
        from myst_nb import glue as nb_glue
    except ImportError:  # Colab has no myst-nb: show the number instead of hiding it
        print(f"{name} = {value}")
    else:
        nb_glue(name, value, display=display)


def fmt(value: float, floor: float = 1e-12) -> str:
    """A number to 3 significant digits, or "<floor" for round-off-sized values that differ across machines."""
    if value == 0:
        return "0"
    return f"<{floor:.0e}" if abs(value) < floor else f"{value:.3g}"


def relation(value: float, reference: float, words: tuple[str, str, str], rtol: float = 0.02) -> str:
    """The first, second or third of ``words`` as value is below, within rtol of, or above reference: prose that
    compares two measured numbers glues this word, so it stays true at every parameter."""
    if not (math.isfinite(value) and math.isfinite(reference)):
        raise ValueError(f"value and reference must be finite numbers, got {value!r} and {reference!r}")
    if len(words) != 3:
        raise ValueError(f"words must hold three phrases (below, about equal, above), got {words!r}")
    if abs(value - reference) <= rtol * abs(reference):
        return words[1]
    return words[0] if value < reference else words[2]


# Glue names of the claims tables of one kernel: "claims" for the first check, then "claims_2", ...
_CHECKS = itertools.count(1)


def measured(value: Value) -> str:
    """A measured value as printed: a number as fmt does, an interval as [lo, hi]."""
    if isinstance(value, tuple):
        return f"[{fmt(value[0])}, {fmt(value[1])}]"
    return fmt(value)


def claims_html(claims: list[Claim]) -> str:
    """The claims of one check as an HTML table (statement, measured value, criterion, verdict)."""
    rows = "".join(
        f"<tr><td>{html.escape(c.statement)}</td><td>{html.escape(measured(c.value))}</td>"
        f"<td>{html.escape(c.criterion.text)}</td><td>{html.escape(c.verdict)}</td></tr>"
        for c in claims
    )
    head = "<tr><th>claim</th><th>measured</th><th>criterion</th><th>verdict</th></tr>"
    return f'<table class="claims-table"><thead>{head}</thead><tbody>{rows}</tbody></table>'


def _glue_claims(claims: list[Claim]) -> None:
    """Glue the claims table for the book's claims ledger (chapters/claims.md); nothing outside the book."""
    try:
        from IPython.display import HTML
        from myst_nb import glue as nb_glue
    except ImportError:  # Colab: the printed lines already show every claim
        return
    n = next(_CHECKS)
    nb_glue("claims" if n == 1 else f"claims_{n}", HTML(claims_html(claims)), display=False)


def check(claims: list[Claim]) -> None:
    """Print each claim (rounded, for stable notebook outputs) with its criterion and verdict, glue the table for
    the claims ledger, and fail if any claim FAILS (one that does not apply says why instead)."""
    width = max(len(c.statement) for c in claims)
    for c in claims:
        print(f"{c.statement:<{width}}  {measured(c.value)}  ({c.criterion.text}: {c.verdict})")
    _glue_claims(claims)
    if failures := failed(claims):
        raise AssertionError(f"claims that do not hold at these parameters: {failures}")
