"""Structured perturbations: the theory's directions, flip radii by grid scan and bisection, flip curves."""

import math

import pytest
import torch

from implicit_bias.data import Dataset, cluster_mixture, orthonormal_mixture
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet
from implicit_bias.perturbations import (
    against_label,
    cluster_path,
    flip_profile,
    flip_radius,
    frei_direction,
    min_vidal_direction,
    net_score,
    profile,
    vardi_direction,
)


def linear(w, c=0.0):
    return lambda X: X @ w + c


def test_frei_universal_direction_flips_half_the_test_points_at_sqrt_d_over_k():
    d, k = 400, 16
    mix = cluster_mixture(d, k, seed=0)
    train, test = mix.sample(200, seed=1, balanced=True), mix.sample(500, seed=2)
    net = TwoLayerNet(d=d, m=32)
    res = gradient_flow(
        net, net.init(runs=1, scale=1e-3, seed=0), train.X, train.y, steps=2000, record_every=500, progress=False
    )
    f = net_score(net, res.params)
    assert res.history.min_margin[-1, 0] > 0 and torch.all(test.y * f(test.X) > 0)
    prof = flip_profile(f, test.X, test.y, against_label(frei_direction(mix), test.y), torch.linspace(0.25, 20, 80))
    ratio = prof.r50 / math.sqrt(d / k)
    print(f"r50 / sqrt(d/k) = {ratio:.3f}, r90 = {prof.r90:.2f}, r99 = {prof.r99:.2f}, sqrt(d) = {math.sqrt(d):.0f}")
    assert abs(ratio - 1) < 0.15
    assert prof.r99 < math.sqrt(d) / 2  # far below the robust scale


def test_flip_radius_is_the_distance_along_the_normal_of_a_linear_score():
    gen = torch.Generator().manual_seed(0)
    w, X = torch.randn(5, generator=gen), torch.randn(200, 5, generator=gen)
    f = linear(w, 0.3)
    y = torch.where(torch.rand(200, generator=gen) < 0.5, 1.0, -1.0)
    U = against_label(w / w.norm(), y)
    margin = y * f(X)
    r = flip_radius(f, X, y, U, torch.linspace(0.5, 10, 20))
    expected = (margin / w.norm()).clamp_min(0)
    reach = expected <= 10
    torch.testing.assert_close(r[reach], expected[reach], rtol=0, atol=1e-9)
    assert torch.all(torch.isinf(r[~reach]))
    assert torch.all(r[margin <= 0] == 0)
    assert torch.all(y[reach] * f(X[reach] + r[reach, None] * U[reach]) <= 0)  # the radius is on the flipped side


def test_flip_radius_returns_the_first_crossing_along_the_ray():
    f = lambda X: (X[:, 0] - 1) * (X[:, 0] - 3)  # noqa: E731  negative only for 1 < x < 3
    X, y, U = torch.zeros(1, 1), torch.ones(1), torch.ones(1, 1)
    r = flip_radius(f, X, y, U, [0.5, 2.5, 5.0])
    assert abs(float(r[0]) - 1.0) < 1e-9
    # Unflipped again at the last radius, but the first crossing still counts.
    assert float(flip_radius(f, X, y, U, [2.0, 4.0])[0]) == pytest.approx(1.0, abs=1e-9)


def test_profile_is_the_empirical_cdf_and_quantiles_ignore_unflipped_points():
    radius = torch.tensor([0.5, 1.0, 2.0, math.inf])
    prof = profile(radius, [0.75, 1.0, 3.0])
    assert prof.fraction.tolist() == [0.25, 0.5, 0.75]
    assert (prof.r50, prof.quantile(0.75), prof.r99) == (1.0, 2.0, math.inf)


def test_theory_directions():
    mix = cluster_mixture(50, 4, seed=0)
    u = frei_direction(mix)
    torch.testing.assert_close(u, mix.labels @ mix.means / (mix.labels @ mix.means).norm())
    torch.testing.assert_close(u.norm(), torch.tensor(1.0))

    mv = orthonormal_mixture(20, 5, 3, alpha=0.0)
    expected = torch.tensor([1.0, 1, 1, -1, -1] + [0] * 15) / math.sqrt(5)
    torch.testing.assert_close(min_vidal_direction(mv), expected)

    X = torch.eye(3, 6) * 2
    data = Dataset(X=X, y=torch.tensor([1.0, -1.0, 1.0]))
    torch.testing.assert_close(vardi_direction(data), torch.tensor([1.0, -1, 1, 0, 0, 0]) / math.sqrt(3))
    # Margin points only: the third point sits above the smallest margin and drops out.
    margins = torch.tensor([1.0, 1.005, 2.0])
    torch.testing.assert_close(
        vardi_direction(data, margins, tol=0.01), torch.tensor([1.0, -1, 0, 0, 0, 0]) / math.sqrt(2)
    )


def test_cluster_paths_point_to_other_class_centres_only():
    mv = orthonormal_mixture(10, 4, 2, alpha=0.0)
    cluster = torch.tensor([0, 1, 2, 3])
    P = cluster_path(mv, cluster, target=3)
    torch.testing.assert_close(P[0], (mv.means[3] - mv.means[0]) / math.sqrt(2))
    torch.testing.assert_close(P[1], (mv.means[3] - mv.means[1]) / math.sqrt(2))
    assert torch.all(P[2:] == 0)  # same class as the target


def test_bad_inputs_give_clear_errors():
    f, X, y = linear(torch.ones(3)), torch.ones(4, 3), torch.ones(4)
    U = torch.ones(4, 3)
    with pytest.raises(ValueError, match="strictly increasing"):
        flip_radius(f, X, y, U, [1.0, 0.5])
    with pytest.raises(ValueError, match="radii must be a non-empty"):
        flip_radius(f, X, y, U, [0.0, 1.0])
    with pytest.raises(ValueError, match="non-empty batch"):
        flip_radius(f, X[:0], y[:0], U[:0], [1.0])
    with pytest.raises(ValueError, match="U must have the shape"):
        flip_radius(f, X, y, U[:, :2], [1.0])
    with pytest.raises(ValueError, match="labels -1 and \\+1"):
        flip_radius(f, X, 2 * y, U, [1.0])
    with pytest.raises(ValueError, match="run must be an integer"):
        net_score(TwoLayerNet(d=3, m=2), TwoLayerNet(d=3, m=2).init(runs=1), run=1)
    with pytest.raises(ValueError, match="together"):
        vardi_direction(Dataset(X=X, y=y), margins=y)


def test_directional_derivative_and_margin_along_a_linear_score():
    from implicit_bias.perturbations import directional_derivative, margin_along

    gen = torch.Generator().manual_seed(1)
    w, X = torch.randn(6, generator=gen), torch.randn(30, 6, generator=gen)
    y = torch.where(torch.rand(30, generator=gen) < 0.5, 1.0, -1.0)
    U = torch.randn(30, 6, generator=gen)
    f = linear(w, -0.2)
    rate = directional_derivative(f, X, y, U)
    torch.testing.assert_close(rate, y * (U @ w))
    radii = torch.tensor([0.0, 0.5, 2.0])
    margins = margin_along(f, X, y, U, radii)
    assert margins.shape == (3, 30)
    torch.testing.assert_close(margins, y * f(X) + radii[:, None] * rate[None])
    with pytest.raises(ValueError, match="U must have the shape of X"):
        directional_derivative(f, X, y, U[:, :3])
    with pytest.raises(ValueError, match="radii must be"):
        margin_along(f, X, y, U, [-1.0])


def test_margin_along_uses_the_network_fast_path_consistently():
    from implicit_bias.perturbations import margin_along

    net = TwoLayerNet(d=5, m=7)
    params = net.init(runs=1, scale=1.0, seed=0)
    gen = torch.Generator().manual_seed(2)
    X, U = torch.randn(9, 5, generator=gen), torch.randn(9, 5, generator=gen)
    y = torch.ones(9)
    f = net_score(net, params)
    radii = torch.tensor([0.0, 0.3, 1.7])
    expected = torch.stack([f(X + r * U) for r in radii])
    torch.testing.assert_close(margin_along(f, X, y, U, radii), expected)


def test_own_mean_direction_points_away_from_each_points_mean():
    from implicit_bias.perturbations import own_mean_direction

    mix = cluster_mixture(50, 5, seed=0)
    data = mix.sample(20, seed=1, balanced=True)
    U = own_mean_direction(mix, data.cluster)
    torch.testing.assert_close(U.norm(dim=1), torch.ones(20))
    cos = (U * mix.means[data.cluster]).sum(1) / mix.means[data.cluster].norm(dim=1)
    torch.testing.assert_close(cos, -torch.ones(20))
    with pytest.raises(ValueError, match=r"cluster indices must lie in \[0, 5\)"):
        own_mean_direction(mix, torch.tensor([0, 5]))


def test_line_radii_are_equal_steps_up_to_the_reach_without_zero():
    from implicit_bias.perturbations import line_radii

    like = torch.zeros(1, dtype=torch.float32)
    grid = line_radii(2.0, 4, like=like)
    assert grid.dtype == torch.float32 and grid.tolist() == [0.5, 1.0, 1.5, 2.0]
    assert line_radii(1.0).dtype == torch.float64 and line_radii(1.0).shape == (200,)
    with pytest.raises(ValueError, match=r"grid must be a positive integer, got 0"):
        line_radii(1.0, 0)
