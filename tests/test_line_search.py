"""The ReLU line search (pre-activations reused, rank-one universal fields) finds the radii plain forward
passes find."""

import math

import torch

from implicit_bias.data import cluster_mixture
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet
from implicit_bias.perturbations import (
    against_label,
    flip_radius,
    frei_direction,
    net_score,
)


def _trained():
    mix = cluster_mixture(30, 4, seed=0)
    train, test = mix.sample(40, seed=1, balanced=True), mix.sample(60, seed=2)
    net = TwoLayerNet(d=30, m=12)
    params = gradient_flow(net, net.init(scale=1e-2, seed=0), train.X, train.y, steps=200, progress=False).params
    return mix, test, net, params


def test_fast_line_search_matches_plain_forward_passes_for_universal_and_general_fields():
    mix, test, net, params = _trained()
    fast = net_score(net, params)

    def plain(X):  # the same score without the line-search fast path
        return net.forward(params, X)[0]

    radii = torch.linspace(0, 4 * math.sqrt(30 / 4), 41)[1:]
    universal = against_label(frei_direction(mix), test.y)  # rank one: rows are +-u
    general = torch.randn(test.X.shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    for U in (universal, general / general.norm(dim=1, keepdim=True)):
        a, b = flip_radius(fast, test.X, test.y, U, radii), flip_radius(plain, test.X, test.y, U, radii)
        assert torch.equal(torch.isfinite(a), torch.isfinite(b)) and torch.isfinite(a).any()
        finite = torch.isfinite(a)
        assert torch.allclose(a[finite], b[finite], rtol=1e-9, atol=0)
