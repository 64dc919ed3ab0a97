"""Scaling laws from sweep tables: power-law fits with bootstrap confidence intervals over seeds, and the
value of one claim's quantity over a committed sweep (the claims ledger's "value at sweep scale")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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


@dataclass(frozen=True)
class SweepValue:
    """One column of a committed sweep table over the runs a filter keeps: median and range, and where from."""

    sweep: str  # the table's name under sweeps/results/ (its spec is sweeps/book/<sweep>.yaml)
    column: str
    where: str  # the pandas query that picked the runs ("" for every run)
    grid: str  # the spec's grid and fixed parameters, as text
    runs: int
    median: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.median:.3g} (range {self.low:.3g} to {self.high:.3g}, {self.runs} runs)"


def _grid_text(name: str, root: str) -> str:
    """The grid of sweeps/book/<name>.yaml as text, e.g. "d ∈ {100, 400} × seed ∈ {0, 1}; m = 64"."""
    from .sweep import load_spec

    spec = load_spec(Path(root) / "sweeps" / "book" / f"{name}.yaml")
    if spec.output != (Path(root) / "sweeps" / "results" / name).resolve():
        raise ValueError(f"sweeps/book/{name}.yaml writes to {spec.output}, not to sweeps/results/{name}")
    grid = " × ".join(f"{key} ∈ {{{', '.join(map(str, values))}}}" for key, values in spec.grid.items())
    fixed = ", ".join(f"{key} = {value}" for key, value in spec.parameters.items())
    return f"{grid}; {fixed}" if fixed else grid


def sweep_value(sweep: str, column: str, where: str = "", root: str = "..") -> SweepValue:
    """Median and range of ``column`` of a committed sweep over its runs (those ``where`` keeps, a pandas
    query such as "d / k >= 16"): a chapter's claim measured at the sweep's scale."""
    table = load_table(sweep, root)
    if column not in table.columns:
        raise ValueError(f"column {column!r} is not in sweep {sweep!r}; columns are {list(table.columns)}")
    try:
        rows = table.query(where) if where else table
    except Exception as err:  # pandas raises many kinds for a bad expression
        raise ValueError(f"where={where!r} is not a query on the columns of sweep {sweep!r}: {err}") from err
    values = rows[column].dropna().astype(float)
    if values.empty:
        raise ValueError(f"where={where!r} keeps no run of sweep {sweep!r} with a value of {column!r}")
    return SweepValue(
        sweep=sweep,
        column=column,
        where=where,
        grid=_grid_text(sweep, root),
        runs=len(values),
        median=float(values.median()),
        low=float(values.min()),
        high=float(values.max()),
    )


def sweep_scale(claims: dict[str, tuple[str, str, str]], root: str = "..") -> pd.DataFrame:
    """The claims ledger's sweep-scale table: for each claim, the (sweep, column, where) that measures its
    quantity, its median and range over the sweep's runs, and which sweep at what grid."""
    rows = []
    for claim, (sweep, column, where) in claims.items():
        value = sweep_value(sweep, column, where, root)
        runs = f"{column} over the runs with {where}" if where else f"{column} over every run"
        rows.append(
            {
                "claim": claim,
                "value at sweep scale: median (range)": str(value),
                "sweep, quantity and grid": f"{sweep}: {runs}; grid {value.grid}",
            }
        )
    return pd.DataFrame(rows).set_index("claim")
