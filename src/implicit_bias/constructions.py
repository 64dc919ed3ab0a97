"""Robust constructions and reference classifiers of the three papers, as networks the generic tools apply to.

Each two-layer construction is returned as a ``TwoLayerNet`` with R = 1 parameters, so ``net_score``, the
attacks, the exact solver and ``certificates.certified_radius`` all apply. The certificates of the robust networks
are that sign certificate (one neuron of the label's sign stays on, every neuron of the other sign stays off);
each constructor's docstring derives what it gives for that network.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from . import _validate as validate
from .data import ClusterMixture, Dataset, orthonormal_mixture
from .network import Params, TwoLayerNet, polynomial_net
from .perturbations import Score, cluster_path_radius, line_radii, net_score

SQRT2_HALF = math.sqrt(2) / 2  # F^(p)'s optimal radius at a noiseless centre: half the distance between centres


def _net(W: Tensor, b: Tensor | None, v: Tensor, p: float = 1.0) -> tuple[TwoLayerNet, Params]:
    """A TwoLayerNet with the given rows as neurons (trained second layer holding v), R = 1."""
    net = polynomial_net(W.shape[1], W.shape[0], p, bias=b is not None)
    params = {"W": W[None].clone()}
    if b is not None:
        params["b"] = b[None].clone()
    params["v"] = v[None].clone()
    return net, params


def frei_network(mixture: ClusterMixture) -> tuple[TwoLayerNet, Params]:
    """Frei et al.'s robust width-k network N*(x) = sum_l y^(l) sigma(<mu^(l), x> - d/2).

    Certificate (``certified_radius``): with a_l = <mu^(l), x> - d/2 and slopes ||mu^(l)|| = sqrt(d),
    r(x) = (1/sqrt(d)) min{ max_{l: y^(l) = y} a_l, min_{l: y^(l) = -y} (-a_l) }, clipped at 0. For x in cluster q
    the max is attained at q = argmax_l <mu^(l), x> (the point's own cluster once the noise is below d/2), and
    r(x) is at least the paper-form (1/sqrt(d)) min{a_q, min_{l != q} (-a_l)}: same-label clusters may switch on
    without harm. Near a centre r ~ sqrt(d)/2 - O(sigma sqrt(log k)).
    """
    validate.instance("mixture", mixture, ClusterMixture)
    validate.tensor("mixture.means", mixture.means)
    d = mixture.d
    return _net(mixture.means, torch.full((mixture.k,), -d / 2).to(mixture.means), mixture.labels)


def vardi_network(train: Dataset) -> tuple[TwoLayerNet, Params]:
    """Vardi et al.'s robust width-n network N*(x) = sum_i y_i sigma((2/d) <x_i, x> - 1).

    Certificate, derived as for ``frei_network``: a_i(x) = (2/d) <x_i, x> - 1 moves at rate (2/d) ||x_i|| = 2/sqrt(d)
    on the sphere of radius sqrt(d), so r(x) = (sqrt(d)/2) min{ max_{i: y_i = y} a_i, min_{i: y_i = -y} (-a_i) }.
    At a training point a_q = 1 and a_i = -1 + (2/d) <x_i, x_q> = -1 + O(sqrt(log n / d)) (near orthogonality),
    so r(x_q) ~ sqrt(d)/2 (1 - O(sqrt(log n / d))); off the training points all a_i < 0 and r = 0.
    """
    validate.instance("train", train, Dataset)
    validate.tensor("train.X", train.X)
    validate.labels("train.y", train.y)
    d = train.d
    return _net((2 / d) * train.X, -torch.ones(train.n).to(train.X), train.y)


def min_vidal_F(mixture: ClusterMixture) -> tuple[TwoLayerNet, Params]:
    """Min & Vidal's F(x) = sigma(<x, mu-bar-plus>) - sigma(<x, mu-bar-minus>): width 2, no bias (non-robust)."""
    validate.instance("mixture", mixture, ClusterMixture)
    validate.tensor("mixture.means", mixture.means)
    W = torch.stack([mixture.class_sum(1), mixture.class_sum(-1)])
    return _net(W, None, torch.tensor([1.0, -1.0]).to(W))


def min_vidal_Fp(mixture: ClusterMixture, p: float) -> tuple[TwoLayerNet, Params]:
    """Min & Vidal's F^(p)(x) = sum_{y_k = +1} sigma(<x, mu_k>)^p - sum_{y_k = -1} sigma(<x, mu_k>)^p as a pReLU net.

    The pReLU neuron divides by ||w||^(p-1); v_k = y_k ||mu_k||^(p-1) undoes it (1 for orthonormal centres).
    """
    p = validate.exponent("p", p)
    validate.instance("mixture", mixture, ClusterMixture)
    validate.tensor("mixture.means", mixture.means)
    W = mixture.means
    return _net(W, None, mixture.labels * W.norm(dim=1).pow(p - 1), p=p)


def nearest_mean(mixture: ClusterMixture) -> Score:
    """The nearest-mean classifier (optimal reference) as a score: (min_{y_l=-1} ||x-mu_l||^2 - min_{y_l=+1} ||x-mu_l||^2) / 2."""
    validate.instance("mixture", mixture, ClusterMixture)
    validate.tensor("mixture.means", mixture.means)
    pos, neg = mixture.means[mixture.labels > 0], mixture.means[mixture.labels < 0]
    return lambda X: (torch.cdist(X, neg).pow(2).amin(1) - torch.cdist(X, pos).pow(2).amin(1)) / 2


@dataclass(frozen=True)
class SupDistance:
    """sup over sampled unit vectors of |c f - F| and of |F|, with c fitted by least squares."""

    c: float
    sup_gap: float
    sup_ref: float

    @property
    def relative(self) -> float:
        """sup |c f - F| / sup |F|: 0 when f is a multiple of F, scale-free in both."""
        return self.sup_gap / self.sup_ref


@torch.no_grad()
def sup_distance(f: Score, F: Score, d: int, *, samples: int = 10_000, seed: int | torch.Generator = 0) -> SupDistance:
    """Estimated sup-distance between c f and F on the unit sphere of R^d (Min & Vidal's section 5.1).

    Points are drawn uniformly on the sphere; c = <f, F> / <f, f> over them (least squares, F ~ c f). Our
    normalization: ``relative`` divides by sup |F| on the same points, so trained networks of any scale compare.
    """
    d, samples = validate.positive_int("d", d), validate.positive_int("samples", samples)
    for name, score in (("f", f), ("F", F)):
        if not callable(score):
            raise TypeError(f"{name} must be a callable score (n, d) -> (n,); got {type(score).__name__}")
    validate.fits_memory(f"sup_distance with samples={samples} in d={d}", 3 * samples * d)
    G = torch.randn(samples, d, generator=validate.generator(seed), dtype=torch.float64)
    U = G / G.norm(dim=1, keepdim=True)
    fu, Fu = f(U), F(U)
    if not fu.abs().max() > 0 or not Fu.abs().max() > 0:
        raise ValueError("f and F must not vanish on every sampled point of the sphere")
    c = (fu @ Fu) / (fu @ fu)
    return SupDistance(c=float(c), sup_gap=float((c * fu - Fu).abs().max()), sup_ref=float(Fu.abs().max()))


def _validate_orthonormal(mixture: ClusterMixture) -> None:
    """Raise unless the centres are orthonormal (Min & Vidal's mixture): the closed forms assume it."""
    M = mixture.means
    gram = M @ M.T
    if not torch.allclose(gram, torch.eye(mixture.k, dtype=M.dtype, device=M.device), atol=1e-9):
        raise ValueError(
            "mixture must have orthonormal centres (orthonormal_mixture), got centres with Gram "
            f"matrix off the identity by {float((gram - torch.eye(mixture.k).to(M)).abs().max()):.3g}"
        )


def idealized(mixture: ClusterMixture, p: float) -> tuple[TwoLayerNet, Params]:
    """The classifier gradient flow is conjectured to approach: F (class sums) for p = 1, F^(p) for p > 1."""
    p = validate.exponent("p", p)
    return min_vidal_F(mixture) if p == 1 else min_vidal_Fp(mixture, p)


def centre_radius_F(K: int) -> float:
    """Flip radius of F along the universal direction from a noiseless centre: exactly 1/sqrt(K) (any K1).

    From x = mu_k with label +1, x - r u (u = (mu-bar-plus - mu-bar-minus)/sqrt(K)) has <x, mu-bar-plus> =
    1 - r K1/sqrt(K) and <x, mu-bar-minus> = r K2/sqrt(K); they meet at r = 1/sqrt(K). It is also F's exact
    l2 distance: the universal direction is the normal of F's linear piece -sigma(...) + sigma(...).
    """
    return 1 / math.sqrt(validate.positive_int("K", K))


def centre_distance_Fp(p: float, K_other: int) -> float:
    """Exact l2 distance from a noiseless centre to the decision boundary of F^(p) (the book's derivation).

    Lower the own coordinate by a and raise s other-class coordinates by b_j: the sign flips once
    (1 - a)^p <= sum_j b_j^p. For fixed sum_j b_j^2 the sum of p-th powers is largest on one coordinate
    when p > 2 and spread evenly when p < 2, so with c = s^(1 - 2/p) (s = 1 for p >= 2, s = K_other for
    p < 2) the distance is min_a sqrt(a^2 + c (1-a)^2) = sqrt(c / (1 + c)): sqrt(2)/2 for every p >= 2
    (reached along the cluster-directed path), 1/sqrt(K_other + 1) for p = 1.
    """
    p = validate.exponent("p", p)
    K_other = validate.positive_int("K_other", K_other)
    c = min(s ** (1 - 2 / p) for s in (1, K_other))
    return math.sqrt(c / (1 + c))


@torch.no_grad()
def universal_radius_F(mixture: ClusterMixture, X: Tensor, y: Tensor) -> Tensor:
    """Per-point flip radius of F along -y u in closed form (the book's), (n,); 0 for misclassified points.

    With a_own, a_oth the projections of x on its own and the other class sum and K_own the size of its
    class, F's margin is sigma(a_own - r K_own/sqrt(K)) - sigma(a_oth + r (K - K_own)/sqrt(K)): it reaches 0
    when the two arguments meet, r = (a_own - a_oth)/sqrt(K), or when the first reaches 0,
    r = a_own sqrt(K)/K_own, whichever comes first. Noiseless centres give 1/sqrt(K).
    """
    _validate_orthonormal(mixture)
    validate.points(X, y, mixture.d)
    K = mixture.k
    pos, neg = X @ mixture.class_sum(1), X @ mixture.class_sum(-1)
    own = torch.where(y > 0, pos, neg)
    oth = torch.where(y > 0, neg, pos)
    k_own = torch.where(y > 0, (mixture.labels > 0).sum(), (mixture.labels < 0).sum()).to(X)
    r = torch.minimum((own - oth) / math.sqrt(K), own * math.sqrt(K) / k_own)
    return r.clamp_min(0)


def idealized_radius(
    mixture: ClusterMixture, data: Dataset, p: float, radii: Sequence[float] | Tensor | None = None, iters: int = 40
) -> Tensor:
    """Per-point critical radius of the idealized classifier, (n,): F along the universal direction (closed
    form) for p = 1, F^(p) along the best cluster-directed path (bisection, on ``radii``, by default 0.01 to 2
    by 0.01) for p > 1."""
    p = validate.exponent("p", p)
    if p == 1:
        return universal_radius_F(mixture, data.X, data.y)
    grid = line_radii(2.0, 200) if radii is None else radii
    return cluster_path_radius(net_score(*idealized(mixture, p)), data, mixture, grid, iters)


def idealized_radii(
    D: int, Ks: Sequence[int], alpha: float, p: float, n: int, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> dict[int, dict[str, Tensor]]:
    """Per-point radii of F ("F") and F^(p) ("Fp") on n points of Min & Vidal's mixture, for every number of
    centres K in ``Ks`` (60% of them positive, at least one of each class), drawn from seed + 3."""
    out = {}
    for K in Ks:
        K = validate.positive_int("K", K)
        if K < 2:
            raise ValueError(f"every K must be >= 2 (one centre of each class), got {K}")
        mix = orthonormal_mixture(D, K, max(1, min(K - 1, round(0.6 * K))), alpha, dtype=dtype)
        pts = mix.sample(n, seed=seed + 3)
        out[K] = {"F": idealized_radius(mix, pts, 1), "Fp": idealized_radius(mix, pts, p)}
    return out
