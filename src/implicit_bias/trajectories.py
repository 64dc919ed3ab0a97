"""Comparing trajectories recorded on different time grids."""

from __future__ import annotations

import numpy as np

from .flow import History


def matched_gap(
    reference: History, other: History, field: str = "normalized_margin", run: int = 0, since: float = 0.0
) -> float:
    """Largest gap of one recorded field between two paths at equal gradient-flow times, relative to its range.

    Relative to the largest |value| of ``reference`` on the compared records, so that a margin crossing zero
    right after the data is fitted does not blow the ratio up.
    ``other`` is interpolated in log time onto the records of ``reference`` from time ``since`` on that lie
    inside its time range and where both have fitted the data; NaN if the ranges do not overlap. Right
    after fitting the margin rises steeply, so a tiny offset in time shows as a large gap: ``since`` skips it.
    """
    t_ref, t_oth = reference.log_time[:, run], other.log_time[:, run]
    ok_ref = (reference.min_margin[:, run] > 0) & np.isfinite(t_ref)
    ok_oth = (other.min_margin[:, run] > 0) & np.isfinite(t_oth)
    if not ok_oth.any():
        return float("nan")
    lo, hi = t_oth[ok_oth].min(), t_oth[ok_oth].max()
    inside = ok_ref & (t_ref >= max(lo, np.log(since) if since > 0 else -np.inf)) & (t_ref <= hi)
    if not inside.any():
        return float("nan")
    ref = getattr(reference, field)[inside, run]
    oth = np.interp(t_ref[inside], t_oth[ok_oth], getattr(other, field)[ok_oth, run])
    return float(np.max(np.abs(oth - ref)) / np.max(np.abs(ref)))
