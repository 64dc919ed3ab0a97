"""Argument checks shared by every public entry point: each error names the parameter, its value and what is allowed."""
from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nonneg_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (0 <= float(value) < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def positive_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (0 < float(value) < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming the options."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return str(value)


def resolve_device(device: str | torch.device) -> torch.device:
    """Map ``"auto"`` to CUDA when present, else CPU; pass any other device through."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or a torch.device, got {device!r}") from err


def float_dtype(dtype: torch.dtype) -> torch.dtype:
    """Return ``dtype`` if it is a floating dtype, else raise."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch dtype such as torch.float64, got {dtype!r}")
    return dtype


def generator(seed_or_gen: int | torch.Generator) -> torch.Generator:
    """Return a CPU ``torch.Generator``: a given one as is, or a new one seeded with the int."""
    if isinstance(seed_or_gen, torch.Generator):
        return seed_or_gen
    if isinstance(seed_or_gen, bool) or not isinstance(seed_or_gen, Integral) or seed_or_gen < 0:
        raise ValueError(f"seed must be a non-negative integer or a torch.Generator, got {seed_or_gen!r}")
    return torch.Generator().manual_seed(int(seed_or_gen))


def exponent(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 1 (a pReLU degree p)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (1 <= float(value) < float("inf")):
        raise ValueError(f"{name} must be a number >= 1, got {value!r}")
    return float(value)


def fraction(name: str, value: object, interval: str = "(0, 1]") -> float:
    """Return ``value`` as a float, or raise unless it lies in ``interval``: "(0, 1]", "[0, 1]" or "(0, 1)"."""
    inside = {"(0, 1]": lambda v: 0 < v <= 1, "[0, 1]": lambda v: 0 <= v <= 1, "(0, 1)": lambda v: 0 < v < 1}
    if isinstance(value, bool) or not isinstance(value, Real) or not inside[interval](float(value)):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)
