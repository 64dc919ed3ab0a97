"""Convex quadratic programs through Clarabel's interior-point solver, with the book's solver settings in one place."""

from __future__ import annotations

from functools import cache

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


@cache
def identity(d: int) -> sp.csc_matrix:
    """The d x d identity in CSC, built once per size: every QP of the exact solver (min ||z||^2) has it."""
    return sp.identity(d, format="csc")


def dense_csc(A: np.ndarray) -> sp.csc_array:
    """A dense (k, d) matrix in CSC, built from its arrays column by column when it has no zero entry: a third of
    the time of a conversion, which was most of a small QP's cost beside the solve itself. The same matrix as
    ``csc_array(A)`` (zeros are left out there, so a matrix with zeros goes that way)."""
    k, d = A.shape
    data = A.T.ravel()
    if not data.all():
        return sp.csc_array(A)
    indices = np.tile(np.arange(k, dtype=np.int32), d)
    return sp.csc_array((data, indices, np.arange(0, k * d + 1, k, dtype=np.int32)), shape=(k, d))
