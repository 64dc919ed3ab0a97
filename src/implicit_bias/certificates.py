"""Certified lower bounds on the l2 distance to the decision boundary of two-layer networks.

Two certificates, each a radius within which the sign of f provably cannot change: the Lipschitz bound (any
ReLU network) and the sign certificate (tight for the robust constructions, valid for ReLU and pReLU alike).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from . import _validate as validate
from .network import Params, TwoLayerNet
from .perturbations import net_score, select_run


def relu_layers(net: TwoLayerNet, params: Params, run: int) -> tuple[Tensor, Tensor, Tensor]:
    """W (m, d), b (m,), v (m,) of one run of a ReLU network (refuses pReLU: its regions are not affine)."""
    if not isinstance(net, TwoLayerNet) or net.p != 1:
        raise ValueError(f"net must be a ReLU TwoLayerNet (p = 1), got {net!r}")
    validate.params("params", params)
    one = select_run(params, run)
    W = one["W"][0]
    b = one["b"][0] if net.bias else torch.zeros(net.m, dtype=W.dtype, device=W.device)
    return W, b, net.outer(one)[0]


def lipschitz_bound(net: TwoLayerNet, params: Params, X: Tensor, y: Tensor, *, run: int = 0) -> Tensor:
    """Certified radius max(y f(x), 0) / sum_j |v_j| ||w_j||: f is Lipschitz with that constant, (n,)."""
    W, _, v = relu_layers(net, params, run)
    validate.points(X, y, net.d)
    lip = (v.abs() * W.norm(dim=1)).sum()
    with torch.no_grad():
        margin = y * net_score(net, params, run)(X)
    return margin.clamp_min(0) / lip if lip > 0 else torch.where(margin > 0, math.inf, 0.0).to(X)


def certified_radius(net: TwoLayerNet, params: Params, X: Tensor, y: Tensor, *, run: int = 0) -> Tensor:
    """Sign certificate, (n,): within ||z|| < r one neuron of the label's sign stays on and every neuron of the
    other sign stays off, so sign f(x + z) = y. With pre-activations a_j and slopes ||w_j||,

        r(x) = max(0, min( max_{j: sign v_j = y} a_j / ||w_j||,  min_{j: sign v_j = -y} -a_j / ||w_j|| )).

    Tight for the robust constructions (one active neuron per point); valid for ReLU and pReLU alike.
    """
    validate.points(X, y, net.d)
    validate.params("params", params)
    one = select_run(params, run)
    a = net.preactivations(one, X)[0]  # (n, m)
    slope = one["W"][0].norm(dim=1)
    if net.bias:  # a neuron with w_j = 0 is constant: on for ever if b_j > 0, off for ever otherwise
        const = torch.where(a > 0, math.inf, -math.inf)
    else:
        const = torch.full_like(a, -math.inf)
    slack = torch.where(slope > 0, a / slope.clamp_min(1e-300), const)
    sign = net.outer(one)[0].sign()
    same, other = sign[None] == y[:, None], sign[None] == -y[:, None]
    keep = torch.where(same, slack, -math.inf).amax(1)
    stay_off = torch.where(other, -slack, math.inf).amin(1)
    return torch.minimum(keep, stay_off).clamp_min(0)
