"""Generic minimum-norm attacks: exact on linear scores, every success a confirmed sign flip, inf where none."""

import pytest
import torch

from implicit_bias.attacks import deepfool, min_norm, pgd
from implicit_bias.data import cluster_mixture
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet
from implicit_bias.perturbations import net_score


@pytest.fixture(scope="module")
def problem():
    gen = torch.Generator().manual_seed(0)
    w, X = torch.randn(8, generator=gen), torch.randn(100, 8, generator=gen)
    f = lambda X: X @ w - 0.2  # noqa: E731
    y = torch.where(torch.rand(100, generator=gen) < 0.5, 1.0, -1.0)
    return w, f, X, y


@pytest.fixture(scope="module")
def trained():
    mix = cluster_mixture(100, 4, seed=0)
    train, test = mix.sample(40, seed=1, balanced=True), mix.sample(200, seed=2)
    net = TwoLayerNet(d=100, m=16)
    res = gradient_flow(net, net.init(runs=1, scale=1e-3, seed=0), train.X, train.y, steps=1500, record_every=500,
                        progress=False)
    return net_score(net, res.params), test


@pytest.mark.parametrize("norm, dual", [("l2", 2), ("linf", 1)])
def test_attacks_find_the_exact_distance_to_a_hyperplane(problem, norm, dual):
    w, f, X, y = problem
    exact = (y * f(X)).clamp_min(0) / w.norm(p=dual)
    for res in (deepfool(f, X, y, norm=norm), pgd(f, X, y, 10.0, norm=norm)):
        torch.testing.assert_close(res.radius, exact, rtol=1e-6, atol=1e-9)


def test_every_success_is_a_sign_flip_of_the_reported_size(trained):
    f, test = trained
    found = min_norm(f, test.X, test.y)
    for name, res in found.items():
        ok = res.success
        assert ok.all(), name
        assert torch.all(test.y * f(test.X + res.delta) <= 0), name
        torch.testing.assert_close(res.delta.norm(dim=1), res.radius)
    best = found["best"].radius
    assert torch.all(best == torch.minimum(found["deepfool"].radius, found["pgd"].radius))
    gap = found["deepfool"].radius / found["pgd"].radius - 1
    print(f"DeepFool / PGD - 1: median {gap.median():.4f}, max {gap.max():.4f}")


def test_no_flip_gives_inf_and_zero_perturbation():
    f = lambda X: X.pow(2).sum(1) + 1  # noqa: E731  positive everywhere: no boundary
    X, y = torch.randn(5, 3, generator=torch.Generator().manual_seed(0)), torch.ones(5)
    for res in (deepfool(f, X, y, steps=10), pgd(f, X, y, 5.0, steps=10, restarts=2)):
        assert torch.all(torch.isinf(res.radius)) and torch.all(res.delta == 0) and not res.success.any()


def test_misclassified_points_have_radius_zero(problem):
    _, f, X, y = problem
    wrong = y * f(X) <= 0
    assert wrong.any()
    for res in (deepfool(f, X, y), pgd(f, X, y, 10.0)):
        assert torch.all(res.radius[wrong] == 0)


def test_pgd_is_deterministic_given_the_seed(trained):
    f, test = trained
    X, y = test.X[:20], test.y[:20]
    a, b = (pgd(f, X, y, 20.0, restarts=3, search=4, seed=7) for _ in range(2))
    assert torch.equal(a.radius, b.radius) and torch.equal(a.delta, b.delta)


def test_bad_inputs_give_clear_errors(problem):
    _, f, X, y = problem
    with pytest.raises(ValueError, match="non-empty batch"):
        deepfool(f, X[:0], y[:0])
    with pytest.raises(ValueError, match="norm must be one of"):
        pgd(f, X, y, 1.0, norm="l3")
    with pytest.raises(ValueError, match="eps_max must be > 0"):
        pgd(f, X, y, 0.0)
    with pytest.raises(ValueError, match="y must have shape"):
        deepfool(f, X, y[:3])
    with pytest.raises(ValueError, match="search must be"):
        pgd(f, X, y, 1.0, search=-1)
