"""Neuron alignment: what each first-layer neuron points at, and how much each neuron contributes."""
from __future__ import annotations

import torch
from torch import Tensor

from . import _validate as check
from .data import ClusterMixture
from .network import Params, TwoLayerNet
from .perturbations import select_run


def reference_directions(mixture: ClusterMixture) -> Tensor:
    """Rows [mu-bar-plus, mu-bar-minus, mu_1, ..., mu_k] (k + 2, d): Min & Vidal's heat-map columns, Frei's class sums."""
    check.instance("mixture", mixture, ClusterMixture)
    return torch.cat([mixture.class_sum(1)[None], mixture.class_sum(-1)[None], mixture.means])


def neuron_cosines(net: TwoLayerNet, params: Params, refs: Tensor, *, run: int = 0) -> Tensor:
    """cos(w_j, refs[r]) for every neuron j and reference r, (m, r); 0 for a zero neuron. Tensors only (numpy is refused)."""
    check.instance("net", net, TwoLayerNet)
    check.params("params", params)
    check.tensor("refs", refs, like=next(iter(params.values())), nonempty=False)
    if refs.dim() != 2 or refs.shape[1] != net.d or refs.shape[0] == 0:
        raise ValueError(f"refs must have shape (r, {net.d}) with r >= 1, got {tuple(refs.shape)}")
    W = select_run(params, run)["W"][0]
    unit = lambda A: A / A.norm(dim=1, keepdim=True).clamp_min(1e-300)  # noqa: E731
    return unit(W) @ unit(refs).T


def contributions(net: TwoLayerNet, params: Params, *, run: int = 0) -> tuple[Tensor, Tensor]:
    """Neuron contributions |v_j| ||w_j|| sorted in decreasing order, and the neuron index of each, (m,) and (m,)."""
    check.instance("net", net, TwoLayerNet)
    check.params("params", params)
    one = select_run(params, run)
    size = net.outer(one)[0].abs() * one["W"][0].norm(dim=1)
    return size.sort(descending=True)


def own_class_cosines(net: TwoLayerNet, params: Params, mixture: ClusterMixture, *, run: int = 0,
                      min_share: float = 0.1) -> Tensor:
    """cos(w_j, mu-bar of the class sign(v_j)) for the neurons that matter, largest contribution first, (m',).

    A neuron with v_j > 0 votes for the positive class, so its "own" class sum is mu-bar-plus (mu-bar-minus for
    v_j < 0). Neurons whose contribution |v_j| ||w_j|| is below ``min_share`` times the largest are left out:
    they barely move the output and their direction is whatever initialization left.
    """
    if isinstance(min_share, bool) or not isinstance(min_share, (int, float)) or not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be a number in [0, 1], got {min_share!r}")
    check.instance("mixture", mixture, ClusterMixture)
    values, order = contributions(net, params, run=run)
    keep = order[values >= min_share * values[0]] if values[0] > 0 else order[:0]
    v = net.outer(select_run(params, run))[0]
    cos = neuron_cosines(net, params, reference_directions(mixture)[:2], run=run)
    return torch.where(v[keep] > 0, cos[keep, 0], cos[keep, 1])
