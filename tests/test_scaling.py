"""Power-law fits with bootstrap intervals over seeds."""

import numpy as np
import pandas as pd
import pytest

from implicit_bias.scaling import by_seed, fit_power_law


def table(noise: float, seeds: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = np.repeat([4.0, 16.0, 64.0, 256.0], seeds)
    seed = np.tile(np.arange(seeds), 4)
    return pd.DataFrame({"x": x, "seed": seed, "y": 2.0 * x**0.5 * np.exp(noise * rng.standard_normal(len(x)))})


def test_recovers_exponent_and_prefactor_exactly_without_noise():
    law = fit_power_law(table(0.0), "x", "y")
    assert law.exponent == pytest.approx(0.5) and law.prefactor == pytest.approx(2.0)
    assert law.high - law.low < 1e-9 and law.contains(0.5, 1e-9)
    assert law(np.array([9.0]))[0] == pytest.approx(6.0)


def test_interval_widens_with_noise_and_covers_the_truth():
    law = fit_power_law(table(0.05), "x", "y", boot=500)
    assert 0.0 < law.high - law.low < 0.1 and law.contains(0.5)
    assert not law.contains(0.7)


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="column 'z' is not in the table"):
        fit_power_law(table(0.0), "x", "z")
    bad = table(0.0)
    bad.loc[0, "y"] = -1
    with pytest.raises(ValueError, match="needs 'x' and 'y' > 0"):
        fit_power_law(bad, "x", "y")
    with pytest.raises(ValueError, match="at least two distinct values"):
        fit_power_law(table(0.0)[lambda t: t.x == 4.0], "x", "y")
    with pytest.raises(ValueError, match="level must be in \\(0, 1\\), got 1.5"):
        fit_power_law(table(0.0), "x", "y", level=1.5)


def test_by_seed_lays_out_one_column_per_seed_in_x_order():
    t = table(0.0, seeds=3).sample(frac=1.0, random_state=0)  # shuffled rows
    xs, ys = by_seed(t, "x", "y")
    assert xs.tolist() == [4.0, 16.0, 64.0, 256.0] and ys.shape == (4, 3)
    assert np.allclose(ys, 2.0 * xs[:, None] ** 0.5)


def test_by_seed_refuses_repeats_and_holes():
    t = table(0.0, seeds=3)
    with pytest.raises(ValueError, match=r"repeated \('x', 'seed'\) pairs"):
        by_seed(pd.concat([t, t.iloc[:1]]), "x", "y")
    with pytest.raises(ValueError, match="the grid is incomplete"):
        by_seed(t.iloc[1:], "x", "y")
    with pytest.raises(ValueError, match="column 'q' is not in the table"):
        by_seed(t, "q", "y")
