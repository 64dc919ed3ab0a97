"""Scaling laws from sweep tables: power-law fits with bootstrap confidence intervals over seeds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import _validate as validate


@dataclass(frozen=True)
class PowerLaw:
    """y = prefactor * x^exponent fitted on log-log axes, with a bootstrap interval for the exponent."""

    exponent: float
    prefactor: float
    low: float  # bootstrap percentile interval of the exponent
    high: float
    level: float

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.prefactor * np.asarray(x, dtype=float) ** self.exponent

    def contains(self, value: float, tolerance: float = 0.0) -> bool:
        """Does the interval, widened by ``tolerance`` on each side, contain ``value``?"""
        return self.low - tolerance <= value <= self.high + tolerance


def _fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    slope, intercept = np.polyfit(np.log(x), np.log(y), 1)
    return float(slope), float(np.exp(intercept))


def fit_power_law(
    table: pd.DataFrame, x: str, y: str, *, group: str = "seed", boot: int = 2000, level: float = 0.95, seed: int = 0
) -> PowerLaw:
    """Least-squares fit of log y on log x; the interval resamples whole seeds (with replacement), so that
    the runs of one seed, which share data and initialization, stay together."""
    for col in (x, y, group):
        if col not in table.columns:
            raise ValueError(f"column {col!r} is not in the table; columns are {list(table.columns)}")
    boot = validate.positive_int("boot", boot)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    clean = table[[x, y, group]].dropna()
    if (clean[x] <= 0).any() or (clean[y] <= 0).any():
        raise ValueError(f"a power law needs {x!r} and {y!r} > 0 in every row")
    if clean[x].nunique() < 2:
        raise ValueError(f"a power law needs at least two distinct values of {x!r}, got {clean[x].nunique()}")
    exponent, prefactor = _fit(clean[x].to_numpy(), clean[y].to_numpy())
    groups = [g for _, g in clean.groupby(group)]
    rng = np.random.default_rng(seed)
    slopes = []
    for _ in range(boot):
        sample = pd.concat([groups[i] for i in rng.integers(len(groups), size=len(groups))])
        if sample[x].nunique() >= 2:
            slopes.append(_fit(sample[x].to_numpy(), sample[y].to_numpy())[0])
    low, high = np.quantile(slopes, [(1 - level) / 2, (1 + level) / 2])
    return PowerLaw(exponent=exponent, prefactor=prefactor, low=float(low), high=float(high), level=level)


def load_table(name: str, root: str = "..") -> pd.DataFrame:
    """A committed sweep table, sweeps/results/<name>/table.csv under the repository root ``root``."""
    from pathlib import Path

    path = Path(root) / "sweeps" / "results" / name / "table.csv"
    if not path.exists():
        raise FileNotFoundError(
            f"sweep table {path} not found: run the book from a clone of the repository, or regenerate it with "
            f"`python -m implicit_bias sweep sweeps/book/{name}.yaml`"
        )
    return pd.read_csv(path)


def by_seed(table: pd.DataFrame, x: str, y: str, *, group: str = "seed") -> tuple[np.ndarray, np.ndarray]:
    """The sorted values of ``x`` and a (T, R) array of ``y``, one column per seed: what a plot with error
    bars over seeds needs. Every (x, seed) pair must occur exactly once."""
    for col in (x, y, group):
        if col not in table.columns:
            raise ValueError(f"column {col!r} is not in the table; columns are {list(table.columns)}")
    if table.duplicated([x, group]).any():
        raise ValueError(f"the table has repeated ({x!r}, {group!r}) pairs: aggregate or filter it first")
    wide = table.pivot(index=x, columns=group, values=y).sort_index()
    if wide.isna().any().any():
        raise ValueError(f"some ({x!r}, {group!r}) pairs have no {y!r}: the grid is incomplete")
    return wide.index.to_numpy(), wide.to_numpy(dtype=float)
