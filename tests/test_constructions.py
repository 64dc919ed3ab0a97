"""Robust constructions and reference classifiers: their formulas, certificates and the papers' radii."""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from implicit_bias import constructions
from implicit_bias.attacks import min_norm
from implicit_bias.certificates import certified_radius
from implicit_bias.constructions import (
    frei_network,
    min_vidal_F,
    min_vidal_Fp,
    nearest_mean,
    sup_distance,
    vardi_network,
)
from implicit_bias.data import Dataset, cluster_mixture, orthonormal_mixture, sphere_data
from implicit_bias.exact import exact_distance
from implicit_bias.perturbations import against_label, cluster_path_radius, flip_radius, min_vidal_direction, net_score

relu = torch.relu


def test_frei_network_is_the_formula_and_its_certificate_is_a_true_lower_bound():
    d, k = 400, 16
    mix = cluster_mixture(d, k, seed=0)
    test = mix.sample(100, seed=2)
    net, params = frei_network(mix)
    f = net_score(net, params)
    torch.testing.assert_close(f(test.X), relu(test.X @ mix.means.T - d / 2) @ mix.labels)
    cert = certified_radius(net, params, test.X, test.y)
    # At least the paper-form radius with q the point's own cluster.
    a = test.X @ mix.means.T - d / 2
    own = a.gather(1, test.cluster[:, None])[:, 0]
    others = a.masked_fill(torch.nn.functional.one_hot(test.cluster, k).bool(), -math.inf).amax(1)
    paper = (torch.minimum(own, -others) / math.sqrt(d)).clamp_min(0)
    assert torch.all(cert >= paper - 1e-12)
    attack = min_norm(f, test.X, test.y)["best"].radius
    assert torch.all(attack >= cert * (1 - 1e-9))  # no attack beats the certificate
    print(
        f"sqrt(d)/2 = {math.sqrt(d) / 2:.2f}: certified median {cert.median():.2f}, attack median {attack.median():.2f}"
    )
    assert 0.7 * math.sqrt(d) / 2 < float(cert.median()) < math.sqrt(d) / 2
    # Far above the trained networks' sqrt(d/k) = 5.
    assert float(attack.median()) > 1.5 * math.sqrt(d / k)


def test_frei_certificate_against_the_exact_distance():
    d, k = 30, 4
    mix = cluster_mixture(d, k, seed=1)
    test = mix.sample(20, seed=3)
    net, params = frei_network(mix)
    cert = certified_radius(net, params, test.X, test.y)
    exact = torch.tensor([exact_distance(net, params, test.X[i], float(test.y[i]), math.inf) for i in range(20)])
    assert torch.all(cert <= exact * (1 + 1e-9)) and torch.all(exact > 0)


def test_vardi_network_certifies_training_points_near_half_sqrt_d():
    d, n = 1000, 10
    train = sphere_data(n, d, seed=0)
    net, params = vardi_network(train)
    f = net_score(net, params)
    torch.testing.assert_close(f(train.X), relu((2 / d) * train.X @ train.X.T - 1) @ train.y)
    cert = certified_radius(net, params, train.X, train.y)
    attack = min_norm(f, train.X, train.y)["best"].radius
    print(
        f"sqrt(d)/2 = {math.sqrt(d) / 2:.2f}: certified {cert.min():.2f}..{cert.max():.2f}, attack median {attack.median():.2f}"
    )
    assert torch.all(attack >= cert * (1 - 1e-9))
    assert torch.all(cert > 0.8 * math.sqrt(d) / 2) and torch.all(cert < math.sqrt(d) / 2)


def test_min_vidal_classifiers_flip_centres_at_the_papers_radii():
    K, K1 = 10, 6
    mix = orthonormal_mixture(50, K, K1, alpha=0.0)
    centres = Dataset(X=mix.means.clone(), y=mix.labels.clone(), cluster=torch.arange(K))
    F_net, F_params = min_vidal_F(mix)
    F = net_score(F_net, F_params)
    gen = torch.Generator().manual_seed(0)
    Z = torch.randn(30, 50, generator=gen)
    torch.testing.assert_close(F(Z), relu(Z @ mix.class_sum(1)) - relu(Z @ mix.class_sum(-1)))
    Fp_net, Fp_params = min_vidal_Fp(mix, p=3)
    Fp = net_score(Fp_net, Fp_params)
    torch.testing.assert_close(Fp(Z), relu(Z @ mix.means.T).pow(3) @ mix.labels)
    grid = torch.linspace(0.05, 1.5, 30)
    universal = flip_radius(F, centres.X, centres.y, against_label(min_vidal_direction(mix), centres.y), grid)
    torch.testing.assert_close(universal, torch.full((K,), 1 / math.sqrt(K)), rtol=0, atol=1e-9)
    path = cluster_path_radius(Fp, centres, mix, grid)
    torch.testing.assert_close(path, torch.full((K,), math.sqrt(2) / 2), rtol=0, atol=1e-9)


def test_sup_distance_is_zero_for_a_multiple_and_positive_otherwise():
    mix = orthonormal_mixture(20, 4, 2, alpha=0.0)
    F = net_score(*min_vidal_F(mix))
    same = sup_distance(lambda X: 3 * F(X), F, 20, samples=2000)
    assert same.c == pytest.approx(1 / 3) and same.relative < 1e-12
    other = sup_distance(net_score(*min_vidal_Fp(mix, p=3)), F, 20, samples=2000)
    assert other.relative > 0.1
    with pytest.raises(ValueError, match="must not vanish"):
        sup_distance(lambda X: 0 * X[:, 0], F, 20, samples=10)


def test_nearest_mean_is_robust_to_half_the_distance_between_means():
    d, k = 100, 4
    mix = cluster_mixture(d, k, seed=0)
    centres = Dataset(X=mix.means.clone(), y=mix.labels.clone(), cluster=torch.arange(k))
    f = nearest_mean(mix)
    assert torch.all(centres.y * f(centres.X) > 0)
    # Orthogonal means of norm sqrt(d) are sqrt(2 d) apart: the path to another-class centre flips half way.
    r = cluster_path_radius(f, centres, mix, torch.linspace(1, 20, 20))
    torch.testing.assert_close(r, torch.full((k,), math.sqrt(d / 2)), rtol=0, atol=1e-8)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="p must be a number >= 1"):
        min_vidal_Fp(orthonormal_mixture(10, 4, 2, alpha=0.0), p=0.5)
    with pytest.raises(ValueError, match="samples must be a positive integer"):
        sup_distance(lambda X: X[:, 0], lambda X: X[:, 1], 5, samples=0)


def test_universal_radius_of_F_in_closed_form_matches_bisection_on_noisy_points():
    mix = orthonormal_mixture(30, 7, 3, alpha=0.4)
    pts = mix.sample(300, seed=1)
    closed = constructions.universal_radius_F(mix, pts.X, pts.y)
    F = net_score(*constructions.idealized(mix, 1))
    bisected = flip_radius(F, pts.X, pts.y, against_label(min_vidal_direction(mix), pts.y), np.linspace(0.005, 2, 400))
    torch.testing.assert_close(closed, bisected, rtol=0, atol=1e-9)
    assert closed.std() > 0.01  # the noise matters: not every point sits at 1/sqrt(K)
    centres = Dataset(X=mix.means, y=mix.labels, cluster=torch.arange(7))
    torch.testing.assert_close(
        constructions.universal_radius_F(mix, centres.X, centres.y),
        torch.full((7,), constructions.centre_radius_F(7)),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("p", [1.5, 3.0, 4.0])
def test_centre_distance_of_Fp_is_the_minimum_over_all_perturbations(p):
    K, K1 = 5, 2  # a positive centre has K_other = 3 clusters of the other class
    mix = orthonormal_mixture(K, K, K1, alpha=0.0)
    F = net_score(*constructions.idealized(mix, p))
    x0 = mix.means[0]
    closed = constructions.centre_distance_Fp(p, K - K1)
    margin = lambda d: -float(F(torch.as_tensor(x0.numpy() + d)[None])[0])  # >= 0 once flipped  # noqa: E731
    rng = np.random.default_rng(0)
    best = math.inf
    for _ in range(12):
        start = rng.normal(size=K) * 0.5
        res = minimize(
            lambda d: d @ d,
            start,
            jac=lambda d: 2 * d,
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": margin}],
            options={"ftol": 1e-12, "maxiter": 500},
        )
        if res.success and margin(res.x) >= -1e-9:
            best = min(best, math.sqrt(res.x @ res.x))
    assert best >= closed - 1e-6, "a perturbation shorter than the closed form flips F^(p)"
    assert best == pytest.approx(closed, rel=1e-4)
    if p >= 2:
        assert closed == pytest.approx(math.sqrt(2) / 2)
        path = cluster_path_radius(
            F, Dataset(X=x0[None], y=mix.labels[:1], cluster=torch.tensor([0])), mix, np.linspace(0.01, 1.5, 150)
        )
        assert float(path[0]) == pytest.approx(closed, abs=1e-9)


def test_centre_distance_of_F1_is_one_over_sqrt_of_K_other_plus_one():
    assert constructions.centre_distance_Fp(1, 4) == pytest.approx(1 / math.sqrt(5))
    assert constructions.centre_distance_Fp(2, 9) == pytest.approx(math.sqrt(2) / 2)


def test_min_vidal_constructions_bad_inputs_name_the_parameter_value_and_what_is_allowed():
    mix = orthonormal_mixture(10, 4, 2, alpha=0.1)
    with pytest.raises(ValueError, match=r"p must be a number >= 1, got 0.5"):
        constructions.idealized(mix, 0.5)
    with pytest.raises(ValueError, match=r"K_other must be a positive integer, got 0"):
        constructions.centre_distance_Fp(3, 0)
    with pytest.raises(ValueError, match=r"mixture must have orthonormal centres"):
        frei = cluster_mixture(10, 4)
        constructions.universal_radius_F(frei, frei.means, frei.labels)


def test_idealized_radii_of_F_and_Fp_per_number_of_centres():
    radii = constructions.idealized_radii(40, [4, 10], 0.0, 3, 20, seed=0)
    assert sorted(radii) == [4, 10]
    for K, r in radii.items():  # noiseless points: F flips at 1/sqrt(K), F^(3) at sqrt(2)/2
        torch.testing.assert_close(r["F"], torch.full((20,), 1 / math.sqrt(K), dtype=torch.float64))
        assert torch.allclose(r["Fp"], torch.full((20,), constructions.SQRT2_HALF, dtype=torch.float64), atol=1e-6)
    with pytest.raises(ValueError, match=r"every K must be >= 2"):
        constructions.idealized_radii(10, [1], 0.1, 3, 5)
