"""What chapters need beyond the science: parameter parsing and glue that also works outside the book build."""
from __future__ import annotations

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


def check(claims: dict[str, tuple[float, str, bool]]) -> None:
    """Print each checked number (rounded, for stable notebook outputs) with its criterion; fail on any miss."""
    width = max(map(len, claims))
    for name, (value, criterion, ok) in claims.items():
        print(f"{name:<{width}}  {fmt(value)}  ({criterion}: {'holds' if ok else 'FAILS'})")
    failed = [name for name, (_, _, ok) in claims.items() if not ok]
    if failed:
        raise AssertionError(f"claims that do not hold at these parameters: {failed}")
