"""How close a homogeneous model is to a KKT point of the max-margin problem min ||theta||^2/2 s.t. y_i f(x_i) >= 1.

Approximate KKT in the sense of Lyu & Li: rescale theta to minimum margin 1, find the best non-negative
multipliers for the stationarity condition theta = sum_i lambda_i y_i grad f(x_i), and report the relative
residual (stationarity) and the weighted slack (complementary slackness). At ReLU kinks the subgradient is any
s in [0, 1]; the kink-aware variant lets s range over [0, 1] for pre-activations within a tolerance tau.
"""

from __future__ import annotations

from dataclasses import dataclass

import clarabel
import numpy as np
import scipy.optimize
import scipy.sparse as sp
import torch
from torch import Tensor

from . import _validate as validate
from . import qp
from .loss import LOSSES, dual_weights
from .network import Model, Params, TwoLayerNet, alignment_gap, flatten, sq_norm


@dataclass(frozen=True)
class KKTReport:
    """Approximate-KKT residuals of one run (see the module docstring); ``multipliers`` are the lambda_i."""

    stationarity: float  # ||theta_hat - G lambda|| / ||theta_hat||
    complementary_slackness: float  # sum_i lambda_i (q_i(theta_hat) - 1) / ||theta_hat||^2
    multipliers: np.ndarray
    tau: float  # kink tolerance on the pre-activations of theta_hat; 0 means s fixed by sigma'(0) = 0
    kink_pairs: int  # (point, neuron) pairs whose subgradient was free
    balancedness: float  # max_j |v_j^2 - ||w_j||^2 - b_j^2| / ||theta||^2; NaN without a trained second layer
    alignment_proxy: float  # 1 - cos(theta, -grad L)


def balancedness(model: Model, params: Params) -> Tensor:
    """max_j |v_j^2 - ||w_j||^2 - b_j^2| / ||theta||^2 per run: conserved by gradient flow, ~0 from small init."""
    validate.params("params", params)
    gap = model.conserved(params) if isinstance(model, TwoLayerNet) else None
    if gap is None:
        R = next(iter(params.values())).shape[0]
        return torch.full((R,), float("nan"), dtype=next(iter(params.values())).dtype)
    return gap.abs().max(-1).values / sq_norm(params)


def alignment_proxy(model: Model, params: Params, X: Tensor, y: Tensor, loss: str = "exp") -> Tensor:
    """1 - cos(theta, -grad L) per run: zero exactly when -grad L has the KKT form and points along theta."""
    validate.problem(params, X, y)
    validate.choice("loss", loss, LOSSES)
    _, grad_log = model.value_and_vjp(params, X, lambda out: -dual_weights(y * out, loss) * y)
    return alignment_gap(params, grad_log)


def _kink_columns(
    model: TwoLayerNet, params: Params, X: Tensor, y: Tensor, tau: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each (i, j) with |z_ij| <= tau: point index, the column y_i v_j (x_i, 1) in theta's layout, and s used."""
    Z = model.preactivations(params, X)[0]  # (n, m)
    pts, neurons = torch.nonzero(Z.abs() <= tau, as_tuple=True)
    P = flatten(params).shape[1]
    cols = torch.zeros(P, len(pts), dtype=X.dtype)
    v = model.outer(params)[0]
    d, m = model.d, model.m
    for c, (i, j) in enumerate(zip(pts.tolist(), neurons.tolist())):
        cols[j * d : (j + 1) * d, c] = y[i] * v[j] * X[i]
        if model.bias:
            cols[m * d + j, c] = y[i] * v[j]
    s_used = (Z[pts, neurons] > 0).to(X.dtype)
    return pts.numpy(), cols.numpy(), s_used.numpy()


def _solve(P: sp.csc_matrix, q: np.ndarray, A: sp.csc_matrix, b: np.ndarray, cones: list) -> np.ndarray:
    """Clarabel's interior-point solution of min x'Px/2 + q'x s.t. b - Ax in cones, at tight tolerances."""
    return qp.solve(P, q, A, b, cones, tol=1e-12)[0]


def _sign_constraints(n: int, owner: np.ndarray) -> sp.csc_matrix:
    """Rows of -lam <= 0, -mu <= 0 and mu_c - lam_owner[c] <= 0 for x = (lam, mu)."""
    k = len(owner)
    cap = sp.csr_matrix((np.ones(k), (np.arange(k), owner)), shape=(k, n))
    return sp.vstack([-sp.eye(n + k), sp.hstack([-cap, sp.eye(k)])]).tocsc()


def _multipliers(M: np.ndarray, owner: np.ndarray, target: np.ndarray, slack: np.ndarray) -> np.ndarray:
    """Best stationarity first, then, among multipliers within a hair of it, the least complementary slackness.

    x = (lam, mu) with lam >= 0 and 0 <= mu_c <= lam_owner[c]. Without the second stage a data set with more
    points than dimensions (linear SVM, d < n) has many exact solutions, most of them on non-support points.
    """
    n, k = len(slack), len(owner)
    scale = float(target @ target)
    if k == 0:
        x, _ = scipy.optimize.nnls(M, target, maxiter=50 * M.shape[1])
    else:
        cons = _sign_constraints(n, owner)
        P = sp.csc_matrix(np.triu(M.T @ M) / scale)
        x = _solve(
            P, -(M.T @ target) / scale, cons, np.zeros(cons.shape[0]), [clarabel.NonnegativeConeT(cons.shape[0])]
        )
    radius = np.linalg.norm(target - M @ x) * (1 + 1e-6) + 1e-9 * np.sqrt(scale)
    # ||target - Mx||^2 = ||Q'target - Rx||^2 + ||target_perp||^2 with M = QR: a cone of n + k dimensions, not P.
    Q, Rm = np.linalg.qr(M)
    inside = Q.T @ target
    reach = np.sqrt(max(radius**2 - (scale - inside @ inside), 1e-30 * scale))
    cons = _sign_constraints(n, owner)
    A = sp.vstack([cons, sp.csr_matrix((1, n + k)), sp.csc_matrix(Rm)]).tocsc()
    b = np.concatenate([np.zeros(cons.shape[0]), [reach], inside])
    cones = [clarabel.NonnegativeConeT(cons.shape[0]), clarabel.SecondOrderConeT(1 + len(inside))]
    c = np.concatenate([slack, np.zeros(k)]) / scale
    refined = _solve(sp.csc_matrix((n + k, n + k)), c, A, b, cones)
    return refined if np.all(np.isfinite(refined)) else x


def kkt_residuals(
    model: Model,
    params: Params,
    X: Tensor,
    y: Tensor,
    *,
    run: int = 0,
    tau: float = 0.0,
    loss: str = "exp",
) -> KKTReport:
    """Approximate-KKT residuals of run ``run``; ``tau`` > 0 frees the ReLU subgradient at |z| <= tau (kink-aware).
    Tensors only (numpy arrays are refused); labels must be ±1."""
    validate.problem(params, X, y)  # finite float tensors of one dtype, labels ±1 of shape (n,) or (R, n)
    validate.choice("loss", loss, LOSSES)
    tau = validate.nonneg_real("tau", tau)
    R = next(iter(params.values())).shape[0]
    if isinstance(run, bool) or not isinstance(run, int) or not 0 <= run < R:
        raise ValueError(f"run must be an integer in [0, {R}), got {run!r}")
    one = {k: t[run : run + 1].detach().cpu().double() for k, t in params.items()}
    Xr = (X if X.dim() == 2 else X[run]).detach().cpu().double()
    yr = (y if y.dim() == 1 else y[run]).detach().cpu().double()
    q = yr * model.forward(one, Xr)[0]
    if q.min() <= 0:
        raise ValueError(f"the model must fit the data (min margin > 0) to be rescaled; min margin is {q.min():.3g}")
    L = model.degree
    hat = {k: t / q.min() ** (1 / L) for k, t in one.items()}
    q_hat = (q / q.min()).numpy()
    theta = flatten(hat)[0].numpy()
    G = (model.per_sample_grads(hat, Xr) * yr[:, None]).numpy().T  # (P, n), columns y_i grad f(x_i)
    owner, B = np.zeros(0, dtype=np.int64), np.zeros((G.shape[0], 0))
    if tau > 0 and isinstance(model, TwoLayerNet) and model.p == 1:
        owner, B, s_used = _kink_columns(model, hat, Xr, yr, tau)
        # Columns of G carry s = 1 where z > 0; take that out and let mu = lam * s range freely in [0, lam].
        G = G.copy()
        np.add.at(G.T, owner, -(B * s_used).T)
    M = np.hstack([G, B])
    x = _multipliers(M, owner, theta, q_hat - 1)
    lam, fit = x[: G.shape[1]], M @ x
    sq = float(theta @ theta)
    return KKTReport(
        stationarity=float(np.linalg.norm(theta - fit) / np.sqrt(sq)),
        complementary_slackness=float(lam @ (q_hat - 1) / sq),
        multipliers=lam,
        tau=tau,
        kink_pairs=len(owner),
        balancedness=float(balancedness(model, one)[0]),
        alignment_proxy=float(alignment_proxy(model, one, Xr, yr, loss)[0]),
    )
