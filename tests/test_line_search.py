"""The networks' line search (pre-activations reused, rank-one universal fields; ReLU, pReLU and Min & Vidal's
centred score) finds the radii and margins plain forward passes find."""

import math

import pytest
import torch

from implicit_bias.data import cluster_mixture
from implicit_bias.experiments import CentredScore
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet
from implicit_bias.perturbations import (
    _along,
    against_label,
    flip_radius,
    frei_direction,
    margin_along,
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


@pytest.mark.parametrize("p", [2, 3, 4])
def test_prelu_and_centred_lines_match_plain_forward_passes(p):
    """The fast path of pReLU nets (sigma^p, normalized weights) and of Min & Vidal's centred score (divided by
    ||x + r u||^(p-1)): the same flip radii and margins as forward passes."""
    gen = torch.Generator().manual_seed(p)
    net = TwoLayerNet(d=20, m=16, p=p, activation="prelu", bias=False)
    params = net.init(scale=1.0, seed=p)
    X = torch.randn(80, 20, generator=gen, dtype=torch.float64)
    U = torch.randn(80, 20, generator=gen, dtype=torch.float64)
    U /= U.norm(dim=1, keepdim=True)
    radii = torch.linspace(0, 6, 61)[1:]
    centred = CentredScore(net, params, torch.randn(20, generator=gen, dtype=torch.float64))
    for score in (net_score(net, params), centred):
        y = torch.where(score(X) > 0, 1.0, -1.0).to(X)  # every point correctly classified at r = 0
        a = flip_radius(score, X, y, U, radii)
        b = flip_radius(lambda Z, score=score: score(Z), X, y, U, radii)  # no line method: plain forward passes
        assert torch.equal(torch.isfinite(a), torch.isfinite(b)) and torch.isfinite(a).sum() > 10
        finite = torch.isfinite(a)
        assert torch.allclose(a[finite], b[finite], rtol=1e-9, atol=0)
        # the margins themselves, not only their signs (a positive factor such as ||x + r u||^(p-1) keeps signs)
        fast, plain = margin_along(score, X, y, U, radii), margin_along(lambda Z, s=score: s(Z), X, y, U, radii)
        assert torch.allclose(fast, plain, rtol=1e-9, atol=1e-12 * float(plain.abs().max()))


def test_a_field_is_taken_as_rank_one_only_when_every_row_is_plus_or_minus_the_first():
    """U W^T by one vector-matrix product for rows +-u; any other field (one entry off by 1e-12, a zero field)
    by the full product."""
    gen = torch.Generator().manual_seed(3)
    W = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    u = torch.randn(5, generator=gen, dtype=torch.float64)
    signs = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    U = signs[:, None] * u
    assert torch.equal(_along(U, W), signs[:, None] * (u @ W.T)[None])
    assert torch.allclose(_along(U, W), U @ W.T, rtol=1e-14, atol=0)
    off = U.clone()
    off[2, 4] += 1e-12
    assert torch.equal(_along(off, W), off @ W.T)
    zero = torch.zeros(4, 5, dtype=torch.float64)
    assert torch.equal(_along(zero, W), zero @ W.T)
