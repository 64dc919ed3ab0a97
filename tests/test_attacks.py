"""Generic minimum-norm attacks: exact on linear scores, every success a confirmed sign flip, inf where none."""

import numpy as np
import pytest
import torch

from implicit_bias import attacks, constructions
from implicit_bias.attacks import AttackResult, deepfool, min_norm, pgd, refine
from implicit_bias.data import cluster_mixture, orthonormal_mixture
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet
from implicit_bias.perturbations import cluster_path_radius, net_score


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
    res = gradient_flow(
        net, net.init(runs=1, scale=1e-3, seed=0), train.X, train.y, steps=1500, record_every=500, progress=False
    )
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
    best, shorter = found["best"].radius, torch.minimum(found["deepfool"].radius, found["pgd"].radius)
    assert torch.all(best <= shorter)
    plain = min_norm(f, test.X, test.y, rounds=None)["best"].radius  # the attack before refinement
    assert torch.equal(plain, shorter)
    print(
        f"refined best / shorter of DeepFool and PGD: median {(best / shorter).median():.4f}, min {(best / shorter).min():.4f}"
    )
    assert float((best / shorter).min()) < 0.99  # refinement and random starts shorten some flips on this net


def two_bands(X):
    """A score of x_1 alone that is <= 0 on [0.5, 0.6] and on [3, 4]: the ray from 0 crosses the boundary twice."""
    t = X[:, 0]
    return torch.minimum((t - 0.55).abs() - 0.05, (t - 3.5).abs() - 0.5)


def test_refine_shrinks_to_the_first_crossing_where_bisection_stops_at_a_farther_one():
    X, y = torch.zeros(1, 2, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    start = AttackResult(torch.tensor([3.5], dtype=torch.float64), torch.tensor([[3.5, 0.0]], dtype=torch.float64))
    bisected = attacks.bisect(
        two_bands, X, y, torch.tensor([[1.0, 0.0]]).double(), torch.zeros(1).double(), start.radius
    )
    assert abs(float(bisected[0]) - 3.0) < 1e-9  # plain bisection finds the far band
    res = refine(two_bands, X, y, start, rounds=0)
    assert abs(float(res.radius[0]) - 0.5) < 1e-9 and float(y * two_bands(X + res.delta)) <= 0


def test_refine_walks_a_poor_flip_to_the_nearest_point_of_a_hyperplane_and_never_lengthens(problem):
    w, f, X, y = problem
    exact = (y * f(X)).clamp_min(0) / w.norm()
    ok = exact > 0
    X, y, exact = X[ok], y[ok], exact[ok]
    side = torch.randn(X.shape, generator=torch.Generator().manual_seed(1), dtype=X.dtype)
    side -= (side @ w)[:, None] * w / w.norm() ** 2  # orthogonal to w: a detour that does not help
    delta = -y[:, None] * 1.5 * exact[:, None] * w / w.norm() + side
    start = AttackResult(delta.norm(dim=1), delta)
    assert torch.all(y * f(X + delta) <= 0)
    same = refine(f, X, y, start, rounds=0)  # the final shrink only: the first crossing along each flip
    cos = (delta @ w).abs() / (delta.norm(dim=1) * w.norm())
    torch.testing.assert_close(same.radius, exact / cos, rtol=1e-9, atol=0)
    best = refine(f, X, y, start, rounds=1)  # one step along the gradient at the boundary: exact for a hyperplane
    torch.testing.assert_close(best.radius, exact, rtol=1e-9, atol=0)
    assert torch.all(best.radius <= start.radius) and torch.all(y * f(X + best.delta) <= 0)
    with pytest.raises(ValueError, match="start.delta"):
        refine(f, X, y, AttackResult(exact, torch.zeros_like(X)))  # claimed flips that are not flips


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
    with pytest.raises(ValueError, match="rounds must be a non-negative integer, got -1"):
        min_norm(f, X, y, rounds=-1)
    with pytest.raises(ValueError, match="starts must be a non-negative integer, got 1.5"):
        min_norm(f, X, y, starts=1.5)


def test_their_pgd_over_reports_the_robustness_of_F3_but_not_of_F():
    mix = orthonormal_mixture(20, 4, 2, alpha=0.01)
    pts = mix.sample(40, seed=3)
    F3 = net_score(*constructions.idealized(mix, 3))
    cluster = cluster_path_radius(F3, pts, mix, np.linspace(0.01, 1.5, 150))
    assert float(cluster.max()) < 0.72  # the cheapest flip: half-way to another centre, ~ sqrt(2)/2
    flipped = attacks.exp_loss_pgd(F3, pts.X, pts.y, [0.6, 0.8], iterations=60)
    assert not flipped[0].any()  # below sqrt(2)/2 nothing flips: the network is robust there
    assert not flipped[1].any(), "their PGD should miss every flip at 0.8 on F^(3) (vanishing gradients)"
    # The attack itself works: it follows the only gradient there is, -mu_k, and flips once <x, mu_k> ~ 0.
    assert attacks.exp_loss_pgd(F3, pts.X, pts.y, [1.1], iterations=60).all()


def test_apgd_wrapper_flips_a_linear_score_exactly_beyond_its_linf_distance():
    w = torch.tensor([1.0, -2.0, 0.5, 0.0])
    score = lambda X: X @ w - 0.3  # noqa: E731
    X = torch.rand(30, 4, generator=torch.Generator().manual_seed(0)) * 0.2 + 0.4
    y = torch.sign(score(X))
    dist = (score(X).abs() / w.abs().sum()).numpy()  # l-infinity distance to the hyperplane
    eps = [0.0, float(dist.min()) * 0.9, float(dist.max()) * 1.1]
    flipped = attacks.apgd(score, X, y, eps, norm="linf", max_iter=20).numpy()
    assert not flipped[0].any() and not flipped[1].any() and flipped[2].all()


def test_min_vidal_attacks_bad_inputs_name_the_parameter_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"step must be a finite number > 0, got 0"):
        attacks.exp_loss_pgd(lambda X: X.sum(1), torch.ones(2, 3), torch.ones(2), [0.1], step=0)
    with pytest.raises(ValueError, match=r"norm must be one of 'l2', 'linf', got 'l1'"):
        attacks.apgd(lambda X: X.sum(1), torch.ones(2, 3), torch.ones(2), [0.1], norm="l1")
