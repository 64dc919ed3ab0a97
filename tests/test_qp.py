"""The one place where Clarabel is set up: a small QP with a known solution, and an infeasible one."""

import clarabel
import numpy as np
import scipy.sparse as sp

from implicit_bias import qp


def test_projection_onto_a_half_space_and_an_infeasible_problem():
    # min ||x||^2 / 2  s.t.  x_1 + x_2 >= 2  (as b - A x >= 0 with A = -[1, 1], b = -2): x = (1, 1).
    A, b = sp.csc_matrix(np.array([[-1.0, -1.0]])), np.array([-2.0])
    x, solved = qp.solve(sp.identity(2, format="csc"), np.zeros(2), A, b, [clarabel.NonnegativeConeT(1)], tol=1e-10)
    assert solved and np.allclose(x, [1.0, 1.0], atol=1e-8)
    # x_1 >= 1 and x_1 <= 0 together: no solution is reported as solved.
    A, b = sp.csc_matrix(np.array([[-1.0, 0.0], [1.0, 0.0]])), np.array([-1.0, 0.0])
    _, solved = qp.solve(sp.identity(2, format="csc"), np.zeros(2), A, b, [clarabel.NonnegativeConeT(2)], tol=1e-10)
    assert not solved
