"""Robust constructions and reference classifiers of the three papers, as networks the generic tools apply to.

Each two-layer construction is returned as a ``TwoLayerNet`` with R = 1 parameters, so ``net_score``, the
attacks, the exact solver and ``exact.certified_radius`` all apply. The certificates of the robust networks
are that sign certificate (one neuron of the label's sign stays on, every neuron of the other sign stays off);
each constructor's docstring derives what it gives for that network.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from . import _validate as check
from .data import ClusterMixture, Dataset
from .network import Params, TwoLayerNet
from .perturbations import Score


def _net(W: Tensor, b: Tensor | None, v: Tensor, p: float = 1.0) -> tuple[TwoLayerNet, Params]:
    """A TwoLayerNet with the given rows as neurons (trained second layer holding v), R = 1."""
    net = TwoLayerNet(d=W.shape[1], m=W.shape[0], bias=b is not None, activation="relu" if p == 1 else "prelu", p=p)
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
    check.instance("mixture", mixture, ClusterMixture)
    check.tensor("mixture.means", mixture.means)
    d = mixture.d
    return _net(mixture.means, torch.full((mixture.k,), -d / 2).to(mixture.means), mixture.labels)


def vardi_network(train: Dataset) -> tuple[TwoLayerNet, Params]:
    """Vardi et al.'s robust width-n network N*(x) = sum_i y_i sigma((2/d) <x_i, x> - 1).

    Certificate, derived as for ``frei_network``: a_i(x) = (2/d) <x_i, x> - 1 moves at rate (2/d) ||x_i|| = 2/sqrt(d)
    on the sphere of radius sqrt(d), so r(x) = (sqrt(d)/2) min{ max_{i: y_i = y} a_i, min_{i: y_i = -y} (-a_i) }.
    At a training point a_q = 1 and a_i = -1 + (2/d) <x_i, x_q> = -1 + O(sqrt(log n / d)) (near orthogonality),
    so r(x_q) ~ sqrt(d)/2 (1 - O(sqrt(log n / d))); off the training points all a_i < 0 and r = 0.
    """
    check.instance("train", train, Dataset)
    check.tensor("train.X", train.X)
    check.labels("train.y", train.y)
    d = train.d
    return _net((2 / d) * train.X, -torch.ones(train.n).to(train.X), train.y)


def min_vidal_F(mixture: ClusterMixture) -> tuple[TwoLayerNet, Params]:
    """Min & Vidal's F(x) = sigma(<x, mu-bar-plus>) - sigma(<x, mu-bar-minus>): width 2, no bias (non-robust)."""
    check.instance("mixture", mixture, ClusterMixture)
    check.tensor("mixture.means", mixture.means)
    W = torch.stack([mixture.class_sum(1), mixture.class_sum(-1)])
    return _net(W, None, torch.tensor([1.0, -1.0]).to(W))


def min_vidal_Fp(mixture: ClusterMixture, p: float) -> tuple[TwoLayerNet, Params]:
    """Min & Vidal's F^(p)(x) = sum_{y_k = +1} sigma(<x, mu_k>)^p - sum_{y_k = -1} sigma(<x, mu_k>)^p as a pReLU net.

    The pReLU neuron divides by ||w||^(p-1); v_k = y_k ||mu_k||^(p-1) undoes it (1 for orthonormal centres).
    """
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 1 <= p < math.inf:
        raise ValueError(f"p must be a number >= 1, got {p!r}")
    check.instance("mixture", mixture, ClusterMixture)
    check.tensor("mixture.means", mixture.means)
    W = mixture.means
    return _net(W, None, mixture.labels * W.norm(dim=1).pow(p - 1), p=float(p))


def nearest_mean(mixture: ClusterMixture) -> Score:
    """The nearest-mean classifier (optimal reference) as a score: (min_{y_l=-1} ||x-mu_l||^2 - min_{y_l=+1} ||x-mu_l||^2) / 2."""
    check.instance("mixture", mixture, ClusterMixture)
    check.tensor("mixture.means", mixture.means)
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
    d, samples = check.positive_int("d", d), check.positive_int("samples", samples)
    for name, score in (("f", f), ("F", F)):
        if not callable(score):
            raise TypeError(f"{name} must be a callable score (n, d) -> (n,); got {type(score).__name__}")
    check.fits_memory(f"sup_distance with samples={samples} in d={d}", 3 * samples * d)
    G = torch.randn(samples, d, generator=check.generator(seed), dtype=torch.float64)
    U = G / G.norm(dim=1, keepdim=True)
    fu, Fu = f(U), F(U)
    if not fu.abs().max() > 0 or not Fu.abs().max() > 0:
        raise ValueError("f and F must not vanish on every sampled point of the sphere")
    c = (fu @ Fu) / (fu @ fu)
    return SupDistance(c=float(c), sup_gap=float((c * fu - Fu).abs().max()), sup_ref=float(Fu.abs().max()))
