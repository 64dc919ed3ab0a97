"""Convex quadratic programs through Clarabel's interior-point solver, with the book's solver settings in one place."""

from __future__ import annotations

import clarabel
import numpy as np
import scipy.sparse as sp


def solve(
    P: sp.csc_matrix, q: np.ndarray, A: sp.csc_matrix, b: np.ndarray, cones: list, *, tol: float
) -> tuple[np.ndarray, bool]:
    """min x'Px/2 + q'x s.t. b - Ax in cones, silently, with gap and feasibility tolerances ``tol``: the solution
    and whether Clarabel reports it solved (or almost solved)."""
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    settings.tol_gap_abs = settings.tol_gap_rel = settings.tol_feas = tol
    sol = clarabel.DefaultSolver(P, q, A, b, cones, settings).solve()
    return np.asarray(sol.x), sol.status in (clarabel.SolverStatus.Solved, clarabel.SolverStatus.AlmostSolved)
