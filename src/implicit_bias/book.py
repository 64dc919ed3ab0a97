"""What chapters need beyond the science: parameter parsing and glue that also works outside the book build."""

from __future__ import annotations

import html
import itertools
import math
from typing import Any

import torch

from . import _validate


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


def _measured(value: float) -> str:
    """A measured value for the ledger: booleans as yes/no (check prints them as 1/0), numbers as fmt does."""
    return ("yes" if value else "no") if isinstance(value, bool) else fmt(value)


def claims_html(claims: dict[str, tuple[float, str, bool]]) -> str:
    """The claims of one check as an HTML table (statement, measured value, criterion, verdict)."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(_measured(value))}</td><td>{html.escape(criterion)}</td>"
        f"<td>{'holds' if ok else 'FAILS'}</td></tr>"
        for name, (value, criterion, ok) in claims.items()
    )
    head = "<tr><th>claim</th><th>measured</th><th>criterion</th><th>verdict</th></tr>"
    return f'<table class="claims-table"><thead>{head}</thead><tbody>{rows}</tbody></table>'


def _glue_claims(claims: dict[str, tuple[float, str, bool]]) -> None:
    """Glue the claims table for the book's claims ledger (chapters/claims.md); nothing outside the book."""
    try:
        from IPython.display import HTML
        from myst_nb import glue as nb_glue
    except ImportError:  # Colab: the printed lines already show every claim
        return
    n = next(_CHECKS)
    nb_glue("claims" if n == 1 else f"claims_{n}", HTML(claims_html(claims)), display=False)


def check(claims: dict[str, tuple[float, str, bool]]) -> None:
    """Print each checked number (rounded, for stable notebook outputs) with its criterion and glue the table for
    the claims ledger; fail on any miss."""
    width = max(map(len, claims))
    for name, (value, criterion, ok) in claims.items():
        print(f"{name:<{width}}  {fmt(value)}  ({criterion}: {'holds' if ok else 'FAILS'})")
    _glue_claims(claims)
    failed = [name for name, (_, _, ok) in claims.items() if not ok]
    if failed:
        raise AssertionError(f"claims that do not hold at these parameters: {failed}")
