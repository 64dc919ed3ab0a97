"""Neuron alignment: what each first-layer neuron points at, how much each contributes, and how both evolve.

Frei et al.'s networks align their neurons with class sums; Min & Vidal's pReLU networks with single centres
(their heat maps, ``cosine_table``), first turning at a tiny norm, then growing (``phases``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from . import _validate as validate
from .data import ClusterMixture
from .network import Params, TwoLayerNet
from .perturbations import select_run


def reference_directions(mixture: ClusterMixture) -> Tensor:
    """Rows [mu-bar-plus, mu-bar-minus, mu_1, ..., mu_k] (k + 2, d): Min & Vidal's heat-map columns, Frei's class sums."""
    validate.instance("mixture", mixture, ClusterMixture)
    return torch.cat([mixture.class_sum(1)[None], mixture.class_sum(-1)[None], mixture.means])


def neuron_cosines(net: TwoLayerNet, params: Params, refs: Tensor, *, run: int = 0) -> Tensor:
    """cos(w_j, refs[r]) for every neuron j and reference r, (m, r); 0 for a zero neuron. Tensors only (numpy is refused)."""
    validate.instance("net", net, TwoLayerNet)
    validate.params("params", params)
    validate.tensor("refs", refs, like=next(iter(params.values())), nonempty=False)
    if refs.dim() != 2 or refs.shape[1] != net.d or refs.shape[0] == 0:
        raise ValueError(f"refs must have shape (r, {net.d}) with r >= 1, got {tuple(refs.shape)}")
    W = select_run(params, run)["W"][0]
    unit = lambda A: A / A.norm(dim=1, keepdim=True).clamp_min(1e-300)  # noqa: E731
    return unit(W) @ unit(refs).T


def contributions(net: TwoLayerNet, params: Params, *, run: int = 0) -> tuple[Tensor, Tensor]:
    """Neuron contributions |v_j| ||w_j|| sorted in decreasing order, and the neuron index of each, (m,) and (m,)."""
    validate.instance("net", net, TwoLayerNet)
    validate.params("params", params)
    one = select_run(params, run)
    size = net.outer(one)[0].abs() * one["W"][0].norm(dim=1)
    return size.sort(descending=True)


def significant(net: TwoLayerNet, params: Params, *, run: int = 0, fraction: float = 0.1) -> tuple[Tensor, Tensor]:
    """The neurons that matter, largest contribution first, and their contributions, (m',) each: those whose
    contribution |v_j| ||w_j|| is at least ``fraction`` times the largest (none if every neuron is zero). The
    others barely move the output, and their direction is whatever initialization left."""
    fraction = validate.fraction("fraction", fraction, "[0, 1]")
    size, order = contributions(net, params, run=run)
    keep = size >= fraction * size[0] if size[0] > 0 else torch.zeros_like(size, dtype=torch.bool)
    return order[keep], size[keep]


def own_class_cosines(
    net: TwoLayerNet, params: Params, mixture: ClusterMixture, *, run: int = 0, fraction: float = 0.1
) -> Tensor:
    """cos(w_j, mu-bar of the class sign(v_j)) for the significant neurons (``significant``), largest
    contribution first, (m',).

    A neuron with v_j > 0 votes for the positive class, so its "own" class sum is mu-bar-plus (mu-bar-minus for
    v_j < 0).
    """
    validate.instance("mixture", mixture, ClusterMixture)
    keep, _ = significant(net, params, run=run, fraction=fraction)
    v = net.outer(select_run(params, run))[0]
    cos = neuron_cosines(net, params, reference_directions(mixture)[:2], run=run)
    return torch.where(v[keep] > 0, cos[keep, 0], cos[keep, 1])


@dataclass(frozen=True)
class Alignment:
    """Over the significant neurons (contribution >= fraction of the largest): the smallest best cosine with a
    single centre and with a class sum; and the contribution-weighted means of both."""

    centre_min: float
    class_sum_min: float
    centre_mean: float
    class_sum_mean: float
    significant: int


def summarize(
    net: TwoLayerNet, params: Params, mixture: ClusterMixture, *, run: int = 0, fraction: float = 0.1
) -> Alignment:
    """How single-centre-like and how class-sum-like the neurons that matter are (Min & Vidal's heat maps)."""
    keep, w = significant(net, params, run=run, fraction=validate.fraction("fraction", fraction))
    if keep.numel() == 0:
        raise ValueError("params must hold at least one non-zero neuron, got a network whose neurons are all zero")
    C = neuron_cosines(net, params, reference_directions(mixture), run=run)
    best_sum, best_centre = C[keep, :2].amax(1), C[keep, 2:].amax(1)
    mean = lambda t: float((w * t).sum() / w.sum())  # noqa: E731
    return Alignment(
        centre_min=float(best_centre.min()),
        class_sum_min=float(best_sum.min()),
        centre_mean=mean(best_centre),
        class_sum_mean=mean(best_sum),
        significant=int(keep.numel()),
    )


def cosine_table(
    net: TwoLayerNet, params: Params, mixture: ClusterMixture, *, run: int = 0, top: int = 40
) -> np.ndarray:
    """Cosines of the ``top`` neurons of largest contribution (rows, largest first) with
    [mu-bar-plus, mu-bar-minus, mu_1, ..., mu_K] (columns): one heat map of Min & Vidal's figure, (top, K + 2)."""
    top = validate.positive_int("top", top)
    C = neuron_cosines(net, params, reference_directions(mixture), run=run)
    order = contributions(net, params, run=run)[1][:top]
    return C[order].cpu().numpy()


def cosine_columns(mixture: ClusterMixture) -> list[str]:
    """Column labels of ``cosine_table``: the class sums, then the centres numbered from 1."""
    return [r"$\hat\mu_+$", r"$\hat\mu_-$", *[str(k + 1) for k in range(mixture.k)]]


@dataclass(frozen=True)
class Phases:
    """Along training: epoch of each snapshot, the norm of the first layer ||W||_F, and the
    contribution-weighted best cosine of the neurons with a single centre and with a class sum, (S,) each."""

    epoch: np.ndarray
    norm: np.ndarray
    centre: np.ndarray
    class_sum: np.ndarray

    def milestones(self, kind: str = "centre") -> list[int]:
        """Snapshot indices: the start, the first with weighted cosine >= 0.5 and >= 0.95 (of ``kind``:
        "centre" or "class_sum"), and the end; without repeats."""
        values = getattr(self, validate.choice("kind", kind, ("centre", "class_sum")))
        picks = [0, *(int(np.argmax(values >= t)) for t in (0.5, 0.95) if np.any(values >= t)), len(values) - 1]
        return sorted(set(picks))


def phases(net: TwoLayerNet, snapshots: list[tuple[int, Params]], mixture: ClusterMixture, *, run: int = 0) -> Phases:
    """The alignment phase (directions settle while the norm stays at its initial size) and the growth phase
    (the norm grows by orders of magnitude), read off (epoch, params) snapshots of run ``run``."""
    rows = []
    for epoch, params in snapshots:
        a = summarize(net, params, mixture, run=run, fraction=1e-3)
        rows.append((epoch, float(params["W"][run].norm()), a.centre_mean, a.class_sum_mean))
    return Phases(*map(np.array, zip(*rows)))
