"""Exact minimum l2 distances to the decision boundary of small two-layer ReLU networks, and the bracket
certificate <= exact <= attack of every point (``robustness_report``).

On each activation pattern A the network is affine, f_A(x) = sum_{j in A} v_j (w_j^T x + b_j), so the
distance to the other side within the pattern's region is a convex QP:

    min ||z||^2  s.t.  w_j^T (x + z) + b_j >= 0 (j in A),  <= 0 (j not in A),  y f_A(x + z) <= 0.

The distance is the smallest QP value over all patterns. Given the radius r of a confirmed flip (an attack's),
only neurons whose hyperplane meets the ball ||z|| <= r ("free" neurons, |w_j^T x + b_j| <= r ||w_j||) can
change state: patterns enumerate the free neurons only, and the others' constraints are dropped (they hold
anywhere inside the ball, and a value >= r is never better than r). Patterns are visited in increasing order
of a cheap lower bound (distance to the pattern's affine boundary, to the hyperplanes of the neurons it
switches), and the search stops once that bound reaches the best distance found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import clarabel
import numpy as np
import torch
from torch import Tensor

from . import _validate as validate
from . import qp
from .attacks import min_norm
from .certificates import certified_radius, lipschitz_bound, relu_layers
from .network import Params, TwoLayerNet
from .perturbations import net_score

MAX_FREE = 16  # 2^16 patterns: bounds for all of them in milliseconds, and pruning leaves few QPs


class TooManyFreeNeurons(ValueError):
    """More neurons meet the attack's ball than the exact solver enumerates."""


def _qp_distance(
    W: np.ndarray, pre: np.ndarray, state: np.ndarray, g: np.ndarray, fx: float, scale: float = 1.0
) -> np.ndarray | None:
    """argmin ||z|| with sign pattern ``state`` on the neurons (rows of W, pre-activations pre) and g^T z <= -fx;
    None where the region is empty. Solved for z / scale: the solver's tolerance is absolute, so a distance of
    1e-3 solved unscaled came out 2e-5 too large (found by the brute-force test); pass the expected size."""
    d = W.shape[1]
    sign = np.where(state, -1.0, 1.0)  # active: -w^T z <= pre; inactive: w^T z <= -pre
    A = np.vstack([sign[:, None] * W, g[None]])
    b = np.concatenate([np.where(state, pre, -pre), [-fx]]) / scale
    u, solved = qp.solve(
        qp.identity(d), np.zeros(d), qp.dense_csc(A), b, [clarabel.NonnegativeConeT(len(b))], tol=1e-10
    )
    return scale * u if solved else None


# A minimiser counts as a flip when y f(x + z) <= FLIP_TOL * y f(x): it lies on the boundary up to the QP's
# tolerance (1e-10), far inside this slack, while a wrong pattern or a dropped constraint leaves y f(x + z) ~ y f(x).
FLIP_TOL = 1e-6
# The ball searched around x is upper * (1 + BALL_SLACK): a flip at exactly the given radius is then found as a QP
# minimiser inside the ball (and confirmed), so the result never is the unchecked argument itself.
BALL_SLACK = 1e-6


def _patterns(
    G: np.ndarray, c: np.ndarray, pre: np.ndarray, slope: np.ndarray, on: np.ndarray, free: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every activation pattern of the free neurons (2^free, free), the gradient g and value fx of y f_A on it,
    and a lower bound on its distance: to its affine boundary, and to the hyperplanes of the neurons it switches."""
    count = int(free.sum())
    states = ((np.arange(2**count)[:, None] >> np.arange(count)) & 1).astype(bool)
    g = G[on].sum(0) + states @ G[free]
    fx = c[on].sum() + states @ c[free]
    gnorm = np.linalg.norm(g, axis=1)
    plane = np.where(fx <= 0, 0.0, np.where(gnorm > 0, fx / np.where(gnorm > 0, gnorm, 1.0), math.inf))
    switch = states != (pre[free] > 0)[None]  # neurons whose state the pattern changes must cross their hyperplane
    reach = np.where(switch, (np.abs(pre[free]) / slope[free])[None], 0.0).max(1, initial=0.0)
    return states, g, fx, np.maximum(plane, reach)


def _closest_flip(
    W: np.ndarray,
    b: np.ndarray,
    v: np.ndarray,
    xn: np.ndarray,
    y: float,
    pre: np.ndarray,
    slope: np.ndarray,
    free: np.ndarray,
    margin: float,
    ball: float,
) -> float | None:
    """The smallest confirmed flip distance below ``ball`` over the activation patterns of the free neurons, or
    None: QPs in increasing order of their lower bound, each minimiser checked by a forward pass."""
    on = ~free & (pre > 0)
    G = y * v[:, None] * W  # rows: each neuron's contribution to the gradient of y f_A
    states, g, fx, bound = _patterns(G, y * v * pre, pre, slope, on, free)
    # The minimizer lies in the span of the constraint normals: solve in an orthonormal basis Q of it (<= count + 1 dims).
    Q = np.linalg.qr(np.vstack([W[free], G[on].sum(0)]).T)[0]
    Wq, gq = W[free] @ Q, g @ Q
    best, found = ball, False
    for i in np.argsort(bound, kind="stable"):
        if bound[i] >= best:
            break
        z = _qp_distance(Wq, pre[free], states[i], gq[i], fx[i], scale=bound[i] if bound[i] > 0 else 1.0)
        if z is None or not np.linalg.norm(z) < best:
            continue
        moved = W @ (xn + Q @ z) + b  # the minimiser must flip the point: one forward pass of the network
        if y * float(v @ np.maximum(moved, 0)) <= FLIP_TOL * margin:
            best, found = float(np.linalg.norm(z)), True
    return best if found else None


def exact_distance(
    net: TwoLayerNet,
    params: Params,
    x: Tensor,
    y: float,
    upper: float,
    *,
    run: int = 0,
    max_free: int = MAX_FREE,
) -> float:
    """Exact l2 distance from x (d,) to where y f changes sign (0 if y f(x) <= 0), given the radius ``upper`` of a
    confirmed flip (an attack's; inf for none, which frees every neuron).

    The result is always a QP minimiser confirmed by a forward pass to reach the decision boundary, never
    ``upper`` itself: a finite ``upper`` within which no point flips raises ValueError (it was not a flip); inf
    means no flip exists at all (every pattern was searched). x must be a finite float tensor (numpy is refused).

    Refuses (ValueError) when more than ``max_free`` neurons meet the ball of radius ``upper``: the patterns
    number 2^free, and when their bookkeeping would not fit in memory. Measured on 2 CPU cores: trained nets at
    d = 20..50, m = 12..16 take 10-50 ms per point; random nets with 8 free neurons ~15 ms, 12 free ~0.1-0.25 s
    (d = 10..100), 16 free 3-8 s per point (d = 10..400), each QP (in at most free + 1 dimensions) taking about
    half a millisecond.
    """
    W, b, v = (t.detach().cpu().numpy() for t in relu_layers(net, params, run))
    validate.tensor("x", x, dims=1)
    if x.shape != (net.d,):
        raise ValueError(f"x must have shape ({net.d},), got {tuple(x.shape)}")
    if isinstance(y, bool) or y not in (1, -1):
        raise ValueError(f"y must be -1 or +1, got {y!r}")
    upper = float(upper)
    if not upper >= 0:
        raise ValueError(f"upper must be a radius >= 0 (inf for none), got {upper!r}")
    max_free = validate.positive_int("max_free", max_free)
    xn = x.detach().cpu().numpy().astype(np.float64)
    pre = W @ xn + b
    margin = y * float(v @ np.maximum(pre, 0))
    if margin <= 0:
        return 0.0
    ball = upper * (1 + BALL_SLACK)
    slope = np.linalg.norm(W, axis=1)
    with np.errstate(invalid="ignore"):  # inf * 0 for a zero-weight neuron: NaN compares False (never free)
        free = (slope > 0) & (np.abs(pre) <= ball * slope)
    count = int(free.sum())
    if count > max_free:
        raise TooManyFreeNeurons(
            f"{count} neurons meet the ball of radius {upper:.4g} around x, above the limit max_free={max_free} "
            f"(2^{count} activation patterns); give a smaller upper radius or a smaller network"
        )
    validate.fits_memory(f"exact_distance over 2^{count} activation patterns", 2**count * (net.d + 3 * count + 8))
    best = _closest_flip(W, b, v, xn, y, pre, slope, free, margin, ball)
    if (
        best is not None
    ):  # confirmed, and below upper (1 + BALL_SLACK); above upper only by the QP's rounding of a flip at upper
        return min(best, upper)
    if upper == math.inf:  # every pattern was searched: no point of R^d flips
        return math.inf
    raise ValueError(
        f"upper={upper!r} is not the radius of a flip: no point within it of x changes the sign of y f "
        "(the exact search over that ball found none); pass an attack's confirmed flip radius, or inf"
    )


@dataclass(frozen=True)
class RobustnessReport:
    """Per point: a certified lower bound, the exact distance (NaN where not computed), each attack's upper bound."""

    lower: Tensor  # (n,)
    exact: Tensor  # (n,)
    upper: dict[str, Tensor]  # attack name -> (n,)

    def gap(self, name: str) -> Tensor:
        """Relative gap upper / exact - 1 of one attack, (n,); 0 where both are 0, NaN where exact is missing."""
        if name not in self.upper:
            raise ValueError(f"name must be one of {', '.join(map(repr, self.upper))}, got {name!r}")
        up = self.upper[name]
        return torch.where((up == 0) & (self.exact == 0), 0.0, up / self.exact - 1)


def robustness_report(
    net: TwoLayerNet,
    params: Params,
    X: Tensor,
    y: Tensor,
    *,
    run: int = 0,
    exact: bool = True,
    max_free: int = MAX_FREE,
    restarts: int = 3,
    seed: int | torch.Generator = 0,
) -> RobustnessReport:
    """Bracket every point's l2 distance: the larger of the Lipschitz and sign certificates below, DeepFool,
    PGD (``restarts`` starts per radius) and their best above, and the exact distance in between where at most
    ``max_free`` neurons are free."""
    validate.points(X, y, net.d)
    lower = torch.maximum(lipschitz_bound(net, params, X, y, run=run), certified_radius(net, params, X, y, run=run))
    attacks = min_norm(net_score(net, params, run), X, y, seed=seed, restarts=restarts)
    upper = {name: res.radius for name, res in attacks.items()}
    dist = torch.full_like(lower, math.nan)
    if exact:
        for i in range(X.shape[0]):
            try:
                dist[i] = exact_distance(
                    net, params, X[i], float(y[i]), float(upper["best"][i]), run=run, max_free=max_free
                )
            except TooManyFreeNeurons:  # this point stays NaN
                continue
    return RobustnessReport(lower=lower, exact=dist, upper=upper)
