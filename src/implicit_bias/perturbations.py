"""The theory's own perturbation directions, and flip radii along any direction field.

Every robustness measure of the package works on a *score* ``f: (n, d) -> (n,)`` (one logit per point) and
labels ``y`` in {-1, +1}; a point is flipped when its margin y f(x) is <= 0. ``net_score`` turns one run of a
``TwoLayerNet`` into a score; constructions and reference classifiers are scores too, so every attack and
line search applies to all of them alike.

A direction field is a tensor ``U`` (n, d): point i moves along x_i + r U_i. The flip radius of a point is the
first r on the radius grid where its margin is <= 0, refined by bisection within the grid cell: an upper
bound on the distance to the decision boundary, confirmed by the sign flip, and the first crossing along
the ray up to the grid's resolution. A score with a ``line`` method (networks, Min & Vidal's centred score)
walks its lines from pre-activations computed once (``net_line``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from . import _validate as validate
from .data import ClusterMixture, Dataset
from .network import Params, TwoLayerNet, power

Score = Callable[[Tensor], Tensor]  # (n, d) -> (n,): one logit per point, differentiable in the input


def select_run(params: Params, run: int) -> Params:
    """The parameters of one run, kept batched with R = 1."""
    validate.params("params", params, finite=False)
    run = validate.run_index("run", run, params["W"].shape[0])
    return {k: t[run : run + 1] for k, t in params.items()}


@dataclass(frozen=True)
class NetScore:
    """The score x -> N(x; theta) of a network with R = 1 parameters, with a fast path for line searches."""

    net: TwoLayerNet
    params: Params

    def __call__(self, X: Tensor) -> Tensor:
        return self.net.forward(self.params, X)[0]

    def line(self, X: Tensor, U: Tensor) -> NetLine:
        """r, rows -> N(X[rows] + r U[rows]) (``net_line``)."""
        return net_line(self.net, self.params, X, U)


def net_line(net: TwoLayerNet, params: Params, X: Tensor, U: Tensor, centred: bool = False) -> NetLine:
    """r, rows -> N(X[rows] + r U[rows]) for a network of one run, from pre-activations computed once: they are
    affine in r, so each radius costs O(n m) instead of a forward pass. ``centred``: divided by
    ||x + r u||^(p-1), as Min & Vidal's real-data score is (its X already centred)."""
    quadratic = None
    if centred and net.p != 1:  # ||x + r u||^2 = |x|^2 + r (2 x.u + r |u|^2)
        quadratic = torch.stack([(X * X).sum(1), 2 * (X * U).sum(1), (U * U).sum(1)], 1)
    A = net.preactivations(params, X)[0]
    return NetLine(A, _along(U, params["W"][0]), net.output_weights(params)[0], net.p, quadratic)


@dataclass(frozen=True)
class NetLine:
    """r, rows -> sum_j v_j sigma(A[rows, j] + r B[rows, j])^p [/ ||x + r u||^(p-1)]: a pReLU net along a field,
    rows=None for all points; v holds the output weights (normalization included)."""

    A: Tensor
    B: Tensor
    v: Tensor
    p: float = 1.0
    quadratic: Tensor | None = None  # (n, 3): |x|^2, 2 x.u, |u|^2 of each point's line, for centred scores

    def __call__(self, r: Tensor, rows: Tensor | None = None) -> Tensor:
        A, B = (self.A, self.B) if rows is None else (self.A[rows], self.B[rows])
        act = torch.addcmul(A, r[:, None], B).relu_()  # one (k, m) temporary, not three
        out = (act if self.p == 1 else power(act, self.p)) @ self.v
        if self.quadratic is None:
            return out
        q = self.quadratic if rows is None else self.quadratic[rows]
        norm = torch.addcmul(q[:, 1], r, q[:, 2]).mul_(r).add_(q[:, 0]).clamp_min_(0).sqrt_()
        return out / norm.clamp_min_(1e-12).pow_(self.p - 1)

    def restrict(self, rows: Tensor) -> NetLine:
        """The same line on the points ``rows`` only, gathered once."""
        q = None if self.quadratic is None else self.quadratic[rows]
        return NetLine(self.A[rows], self.B[rows], self.v, self.p, q)


@dataclass(frozen=True)
class _ScoreLine:
    """r, rows -> f(X[rows] + r U[rows]) for any score, rows=None for all points."""

    score: Score
    X: Tensor
    U: Tensor

    def __call__(self, r: Tensor, rows: Tensor | None = None) -> Tensor:
        X, U = (self.X, self.U) if rows is None else (self.X[rows], self.U[rows])
        return self.score(X + r[:, None] * U)

    def restrict(self, rows: Tensor) -> _ScoreLine:
        """The same line on the points ``rows`` only."""
        return _ScoreLine(self.score, self.X[rows], self.U[rows])


def _along(U: Tensor, W: Tensor) -> Tensor:
    """U W^T, (n, m): the rate of change of the pre-activations along the field. A universal direction pushed
    against the labels (rows +-u) makes it rank one: one vector-matrix product instead of a matrix product."""
    u = U[0]
    j = int(u.abs().argmax())
    sign = torch.sign(U[:, j]) * torch.sign(u[j])  # +-1 on rows that are +-u: then sign * u is U exactly
    if bool(u[j] != 0) and torch.equal(U, sign[:, None] * u):
        return sign[:, None] * (u @ W.T)[None]
    return U @ W.T


def net_score(net: TwoLayerNet, params: Params, run: int = 0) -> NetScore:
    """The score x -> N(x; theta_run) of one run of a batched network."""
    return NetScore(net, select_run(params, run))


def _line(score: Score, X: Tensor, U: Tensor) -> NetLine | _ScoreLine:
    """r (k,), rows (k,) -> f(X[rows] + r U[rows]): the score's own fast path when it has one (a ``line`` method)."""
    fast = getattr(score, "line", None)
    return fast(X, U) if callable(fast) else _ScoreLine(score, X, U)


def _unit(u: Tensor, name: str) -> Tensor:
    norm = u.norm()
    if not norm > 0:
        raise ValueError(f"{name} is the zero vector: no direction to perturb along")
    return u / norm


def frei_direction(mixture: ClusterMixture) -> Tensor:
    """Frei et al.'s universal direction u-hat, the unit vector along sum_l y^(l) mu^(l), (d,)."""
    validate.instance("mixture", mixture, ClusterMixture)
    return _unit(mixture.labels @ mixture.means, "sum_l y_l mu_l")


def vardi_direction(train: Dataset, margins: Tensor | None = None, tol: float | None = None) -> Tensor:
    """Vardi et al.'s z-hat along sum_i y_i x_i, (d,): over all training points, or over the margin points
    (q_i <= (1 + tol) min q) when the training margins q and a tolerance are given."""
    validate.instance("train", train, Dataset)
    weights = train.y
    if (margins is None) != (tol is None):
        raise ValueError("margins and tol must be given together (margin points only) or both left out (all points)")
    if margins is not None:
        validate.tensor("margins", margins, like=train.X)
        tol = validate.nonneg_real("tol", tol)
        if margins.shape != train.y.shape:
            raise ValueError(f"margins must have shape {tuple(train.y.shape)}, got {tuple(margins.shape)}")
        weights = train.y * margin_points(margins, tol)
    return _unit(weights @ train.X, "sum_i y_i x_i")


def margin_points(margins: Tensor, tol: float) -> Tensor:
    """Which points are margin points, q_i <= (1 + tol) min q (bool, like ``margins``): the one definition."""
    return margins <= (1 + tol) * margins.min()


def min_vidal_direction(mixture: ClusterMixture) -> Tensor:
    """Min & Vidal's universal direction (mu-bar-plus - mu-bar-minus) / norm, (d,); points move along -y times it."""
    validate.instance("mixture", mixture, ClusterMixture)
    return _unit(mixture.class_sum(1) - mixture.class_sum(-1), "mu-bar-plus - mu-bar-minus")


def against_label(direction: Tensor, y: Tensor) -> Tensor:
    """The field -y_i * direction, (n, d): a universal direction pushed against each point's label."""
    validate.tensor("direction", direction, dims=1)
    validate.labels("y", y)
    return -y[:, None] * direction[None]


def cluster_path(mixture: ClusterMixture, cluster: Tensor, target: int) -> Tensor:
    """Unit directions (mu_target - mu_k(x)) / ||.|| for the points of the other class, zero for the rest, (n, d).

    With Min & Vidal's orthonormal centres the norm is sqrt(2): the path x + eps (mu_j - mu_k(x)) / sqrt(2). A
    zero row never flips, so the minimum over targets of the flip radius runs over other-class centres only.
    """
    validate.instance("mixture", mixture, ClusterMixture)
    validate.is_tensor("cluster", cluster)
    if isinstance(target, bool) or not isinstance(target, int) or not 0 <= target < mixture.k:
        raise ValueError(f"target must be a cluster index in [0, {mixture.k}), got {target!r}")
    step = mixture.means[target][None] - mixture.means[cluster]
    other = mixture.labels[cluster] != mixture.labels[target]
    return torch.where(other[:, None], step / step.norm(dim=1, keepdim=True).clamp_min(1e-300), 0.0)


@torch.no_grad()
def bisect(score: Score, X: Tensor, y: Tensor, U: Tensor, lo: Tensor, hi: Tensor, iters: int = 40) -> Tensor:
    """Shrink radii hi (n,) whose points x + hi U are flipped towards lo (unflipped) by bisection on the margin.

    Returns radii at which y f(x + r U) <= 0 still holds: an upper bound on the distance, within
    (hi - lo) / 2^iters of a sign change.
    """
    return _bisect(_line(score, X, U), y, lo, hi, iters)


def _bisect(line: NetLine | _ScoreLine, y: Tensor, lo: Tensor, hi: Tensor, iters: int) -> Tensor:
    """``bisect`` on a line search already set up (its pre-activations reused)."""
    lo, hi = lo.clone(), hi.clone()
    for _ in range(validate.positive_int("iters", iters)):
        mid = (lo + hi) / 2
        flipped = y * line(mid) <= 0
        hi = torch.where(flipped, mid, hi)
        lo = torch.where(flipped, lo, mid)
    return hi


@torch.no_grad()
def flip_radius(
    score: Score, X: Tensor, y: Tensor, U: Tensor, radii: Tensor | Sequence[float], iters: int = 40
) -> Tensor:
    """Per-point flip radius along the field U (n, d): first grid radius with margin <= 0, refined by bisection;
    0 for points misclassified at r = 0, inf for points not flipped up to the last radius, (n,)."""
    validate.points(X, y)
    validate.field(X, U)
    validate.tensor("U", U, like=X)  # a NaN direction would read as 'never flipped'
    validate.score_output("score", score, X)
    grid = validate.radii(radii).to(X)
    n = X.shape[0]
    line = _line(score, X, U)
    lo = torch.zeros(n, dtype=X.dtype, device=X.device)
    found = y * line(lo) <= 0  # the margins at r = 0, from the same line
    radius = torch.full((n,), math.inf, dtype=X.dtype, device=X.device).masked_fill(found, 0.0)
    for r in grid:  # the first crossing on the grid; the bisection then stays inside that cell
        todo = (~found).nonzero()[:, 0]
        if todo.numel() == 0:
            break
        if 2 * todo.numel() > n:  # most points left: all of them at once beats gathering rows
            flipped = ~found & (y * line(r.expand(n)) <= 0)
        else:
            flipped = torch.zeros_like(found)
            flipped[todo] = y[todo] * line(r.expand(len(todo)), todo) <= 0
        radius = torch.where(flipped, r, radius)
        found = found | flipped
        lo = torch.where(found, lo, r)
    cell = found & (radius > 0)
    if cell.any():
        radius[cell] = _bisect(line.restrict(cell.nonzero()[:, 0]), y[cell], lo[cell], radius[cell], iters)
    return radius


@dataclass(frozen=True)
class FlipProfile:
    """Per-point flip radii and the fraction of points flipped within each radius of a grid."""

    radius: Tensor  # (n,), inf where no flip was found
    radii: Tensor  # (G,)
    fraction: Tensor  # (G,): mean(radius <= radii[g])

    def quantile(self, q: float) -> float:
        """Smallest radius by which a fraction q of the points is flipped (inf if fewer ever flip)."""
        if not 0 < q <= 1:
            raise ValueError(f"q must be in (0, 1], got {q!r}")
        ordered = self.radius.sort().values
        return float(ordered[math.ceil(q * len(ordered)) - 1])

    @property
    def r50(self) -> float:
        return self.quantile(0.5)

    @property
    def r90(self) -> float:
        return self.quantile(0.9)

    @property
    def r99(self) -> float:
        return self.quantile(0.99)


def profile(radius: Tensor, radii: Tensor | Sequence[float]) -> FlipProfile:
    """Flip-fraction curve over a grid and quantiles of per-point radii (from a line search or an attack)."""
    validate.tensor("radius", radius, finite=False, nonempty=False)
    if bool((torch.isnan(radius) | (radius < 0)).any()):
        raise ValueError(
            f"radius must hold radii >= 0 (inf for no flip), without NaN; got {validate.describe(radius)} "
            f"with {int(torch.isnan(radius).sum())} NaN and {int((radius < 0).sum())} negative"
        )
    if radius.dim() != 1 or radius.numel() == 0:
        raise ValueError(f"radius must be a non-empty 1-D tensor, got shape {tuple(radius.shape)}")
    grid = validate.radii(radii).to(radius)
    return FlipProfile(radius=radius, radii=grid, fraction=(radius[None] <= grid[:, None]).to(radius).mean(1))


def flip_profile(
    score: Score, X: Tensor, y: Tensor, U: Tensor, radii: Tensor | Sequence[float], iters: int = 40
) -> FlipProfile:
    """``flip_radius`` along U and its flip-fraction curve over the same grid."""
    return profile(flip_radius(score, X, y, U, radii, iters), radii)


def cluster_path_radius(
    score: Score, data: Dataset, mixture: ClusterMixture, radii: Tensor | Sequence[float], iters: int = 40
) -> Tensor:
    """Per-point flip radius along the best cluster-directed path (minimum over other-class centres), (n,)."""
    validate.instance("data", data, Dataset)
    validate.instance("mixture", mixture, ClusterMixture)
    if data.cluster is None:
        raise ValueError("data.cluster must hold each point's cluster for cluster-directed paths, got None")
    radius = torch.full((data.n,), math.inf, dtype=data.X.dtype, device=data.X.device)
    for j in range(mixture.k):
        U = cluster_path(mixture, data.cluster, j)
        rows = U.abs().sum(1) > 0  # zero rows (same-class target) cannot flip: skip their line search
        if rows.any():
            r = flip_radius(score, data.X[rows], data.y[rows], U[rows], radii, iters)
            radius[rows] = torch.minimum(radius[rows], r)
    return radius


def directional_derivative(score: Score, X: Tensor, y: Tensor, U: Tensor) -> Tensor:
    """Rate of change d/dr y f(x + r U) at r = 0 for every point, (n,): how fast the margin falls along a field.

    A negative rate means the margin shrinks along U; for a unit field, -rate is the margin lost per unit of
    l2 distance (at a ReLU kink, the rate of the activation pattern at x, sigma'(0) = 0).
    """
    validate.points(X, y)
    validate.field(X, U)
    validate.tensor("U", U, like=X)
    with torch.enable_grad():
        Xg = X.detach().requires_grad_(True)
        (grad,) = torch.autograd.grad((y * score(Xg)).sum(), Xg)
    return (grad * U).sum(1)


@torch.no_grad()
def margin_along(score: Score, X: Tensor, y: Tensor, U: Tensor, radii: Tensor | Sequence[float]) -> Tensor:
    """Margins y f(x + r U) of every point at every radius of a grid, (G, n): the path a line search walks."""
    validate.points(X, y)
    validate.field(X, U)
    validate.tensor("U", U, like=X)
    validate.score_output("score", score, X)
    grid = validate.radii(radii, allow_zero=True).to(X)
    line = _line(score, X, U)
    return torch.stack([y * line(r.expand(X.shape[0])) for r in grid])


def own_mean_direction(mixture: ClusterMixture, cluster: Tensor) -> Tensor:
    """The unit field -mu^(q) / ||mu^(q)|| for a point of cluster q, (n, d): straight away from its own cluster mean
    (towards the origin), the one-cluster counterpart of the universal direction."""
    validate.instance("mixture", mixture, ClusterMixture)
    validate.is_tensor("cluster", cluster)
    if cluster.dim() != 1 or cluster.numel() == 0:
        raise ValueError(f"cluster must be a non-empty 1-D tensor of cluster indices, got shape {tuple(cluster.shape)}")
    if cluster.min() < 0 or cluster.max() >= mixture.k:
        raise ValueError(
            f"cluster indices must lie in [0, {mixture.k}), got [{int(cluster.min())}, {int(cluster.max())}]"
        )
    mean = mixture.means[cluster]
    return -mean / mean.norm(dim=1, keepdim=True)


def line_radii(reach: float, grid: int = 200, *, like: Tensor | None = None) -> Tensor:
    """The radius grid of every line search: ``grid`` equal steps from 0 (excluded) to ``reach`` (included), (grid,).

    In the dtype and on the device of ``like`` when given (float64 on the CPU otherwise).
    """
    reach, grid = validate.positive_real("reach", reach), validate.positive_int("grid", grid)
    dtype, device = (like.dtype, like.device) if like is not None else (torch.float64, "cpu")
    return torch.linspace(0, reach, grid + 1, dtype=dtype, device=device)[1:]
