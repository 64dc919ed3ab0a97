"""Comparing trajectories recorded on different time grids (trajectories.matched_gap)."""

import math
from dataclasses import fields

import numpy as np

from implicit_bias.flow import History
from implicit_bias.trajectories import matched_gap


def _history(log_time: np.ndarray, margin: np.ndarray, min_margin: np.ndarray | None = None) -> History:
    """A one-run History with the given log times and normalized margins (other fields zero)."""
    T = len(log_time)
    values = {f.name: np.zeros((T, 1)) for f in fields(History)}
    values["step"] = np.arange(T)
    values["log_time"], values["normalized_margin"] = log_time[:, None], margin[:, None]
    values["min_margin"] = (np.ones(T) if min_margin is None else min_margin)[:, None]
    return History(**values)


def test_a_trajectory_matches_itself_on_another_grid_and_the_gap_is_relative():
    t = np.linspace(0, 5, 51)
    ref = _history(t, np.tanh(t))
    # The same curve recorded on a finer grid: log-time interpolation of a curve linear in log time is exact.
    line = _history(np.linspace(0, 5, 201), np.linspace(0, 5, 201) / 5)
    assert matched_gap(_history(t, t / 5), line) < 1e-12
    shifted = _history(t, np.tanh(t) + 0.1)
    assert math.isclose(matched_gap(ref, shifted), 0.1 / np.tanh(5), rel_tol=1e-9)


def test_records_before_fitting_or_outside_the_other_range_are_skipped():
    t = np.linspace(0, 5, 51)
    unfitted = np.where(t < 1, -1.0, 1.0)
    ref = _history(t, np.where(t < 1, 100.0, 1.0), min_margin=unfitted)
    assert matched_gap(ref, _history(t, np.ones(51))) == 0.0  # the large early values are not compared
    assert matched_gap(ref, _history(t, np.ones(51)), since=math.exp(2)) == 0.0
    assert math.isnan(matched_gap(ref, _history(t + 10, np.ones(51))))  # no overlap in time
    assert math.isnan(matched_gap(ref, _history(t, np.ones(51), min_margin=-np.ones(51))))  # other never fits
