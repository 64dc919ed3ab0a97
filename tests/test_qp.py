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


def test_dense_csc_is_the_converted_matrix_and_the_identity_is_shared():
    rng = np.random.default_rng(0)
    for A in (rng.standard_normal((5, 3)), np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])):
        fast, converted = qp.dense_csc(A), sp.csc_matrix(A)
        for part in ("data", "indices", "indptr"):
            assert np.array_equal(getattr(fast, part), getattr(converted, part)), part
        assert fast.shape == converted.shape
    assert qp.identity(4) is qp.identity(4)
    assert np.array_equal(qp.identity(4).toarray(), np.eye(4))
