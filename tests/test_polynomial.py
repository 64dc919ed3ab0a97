"""Min & Vidal's pReLU chapter: closed-form radii, the PGD pitfall on F^(3), robust-accuracy bookkeeping,
the section 5.1 pipeline's shapes, the digits loader and the centred pReLU score, APGD's wrapper, bad inputs."""
import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from implicit_bias import polynomial as poly
from implicit_bias.data import Dataset, cluster_mixture, orthonormal_mixture
from implicit_bias.network import TwoLayerNet
from implicit_bias.perturbations import (against_label, cluster_path_radius, flip_radius, min_vidal_direction,
                                         net_score)


def test_universal_radius_of_F_in_closed_form_matches_bisection_on_noisy_points():
    mix = orthonormal_mixture(30, 7, 3, alpha=0.4)
    pts = mix.sample(300, seed=1)
    closed = poly.universal_radius_F(mix, pts.X, pts.y)
    F = net_score(*poly.idealized(mix, 1))
    bisected = flip_radius(F, pts.X, pts.y, against_label(min_vidal_direction(mix), pts.y), np.linspace(0.005, 2, 400))
    torch.testing.assert_close(closed, bisected, rtol=0, atol=1e-9)
    assert closed.std() > 0.01  # the noise matters: not every point sits at 1/sqrt(K)
    centres = Dataset(X=mix.means, y=mix.labels, cluster=torch.arange(7))
    torch.testing.assert_close(poly.universal_radius_F(mix, centres.X, centres.y),
                               torch.full((7,), poly.centre_radius_F(7)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("p", [1.5, 3.0, 4.0])
def test_centre_distance_of_Fp_is_the_minimum_over_all_perturbations(p):
    K, K1 = 5, 2  # a positive centre has K_other = 3 clusters of the other class
    mix = orthonormal_mixture(K, K, K1, alpha=0.0)
    F = net_score(*poly.idealized(mix, p))
    x0 = mix.means[0]
    closed = poly.centre_distance_Fp(p, K - K1)
    margin = lambda d: -float(F(torch.as_tensor(x0.numpy() + d)[None])[0])  # >= 0 once flipped  # noqa: E731
    rng = np.random.default_rng(0)
    best = math.inf
    for _ in range(12):
        start = rng.normal(size=K) * 0.5
        res = minimize(lambda d: d @ d, start, jac=lambda d: 2 * d, method="SLSQP",
                       constraints=[{"type": "ineq", "fun": margin}], options={"ftol": 1e-12, "maxiter": 500})
        if res.success and margin(res.x) >= -1e-9:
            best = min(best, math.sqrt(res.x @ res.x))
    assert best >= closed - 1e-6, "a perturbation shorter than the closed form flips F^(p)"
    assert best == pytest.approx(closed, rel=1e-4)
    if p >= 2:
        assert closed == pytest.approx(math.sqrt(2) / 2)
        path = cluster_path_radius(F, Dataset(X=x0[None], y=mix.labels[:1], cluster=torch.tensor([0])), mix,
                                   np.linspace(0.01, 1.5, 150))
        assert float(path[0]) == pytest.approx(closed, abs=1e-9)


def test_centre_distance_of_F1_is_one_over_sqrt_of_K_other_plus_one():
    assert poly.centre_distance_Fp(1, 4) == pytest.approx(1 / math.sqrt(5))
    assert poly.centre_distance_Fp(2, 9) == pytest.approx(math.sqrt(2) / 2)


def test_their_pgd_over_reports_the_robustness_of_F3_but_not_of_F():
    mix = orthonormal_mixture(20, 4, 2, alpha=0.01)
    pts = mix.sample(40, seed=3)
    F3 = net_score(*poly.idealized(mix, 3))
    cluster = cluster_path_radius(F3, pts, mix, np.linspace(0.01, 1.5, 150))
    assert float(cluster.max()) < 0.72  # the cheapest flip: half-way to another centre, ~ sqrt(2)/2
    flipped = poly.exp_loss_pgd(F3, pts.X, pts.y, [0.6, 0.8], iterations=60)
    assert not flipped[0].any()  # below sqrt(2)/2 nothing flips: the network is robust there
    assert not flipped[1].any(), "their PGD should miss every flip at 0.8 on F^(3) (vanishing gradients)"
    # The attack itself works: it follows the only gradient there is, -mu_k, and flips once <x, mu_k> ~ 0.
    assert poly.exp_loss_pgd(F3, pts.X, pts.y, [1.1], iterations=60).all()


def test_robust_accuracy_counts_points_whose_radius_exceeds_eps():
    radius = torch.tensor([0.0, 0.5, 0.7, math.inf])
    np.testing.assert_allclose(poly.robust_accuracy(radius, [0.0, 0.5, 0.6, 1.0]), [0.75, 0.5, 0.5, 0.25])
    curves = poly.RobustCurves(eps=np.array([0.0, 1.0]),
                               flipped={"a": np.array([[0, 0, 0], [1, 0, 0]], bool),
                                        "b": np.array([[0, 0, 0], [0, 1, 0]], bool)})
    np.testing.assert_allclose(curves.accuracy(), [1, 1 / 3])
    np.testing.assert_allclose(curves.accuracy("a"), [1, 2 / 3])
    assert curves.at(0.9, "b") == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="name must be one of"):
        curves.accuracy("c")


def test_train_synthetic_batches_alphas_and_repeats_and_keeps_snapshots():
    run = poly.train_synthetic(3, [0.0, 0.2], D=12, K=4, K1=2, n=100, n_test=50, width=8, epochs=4, repeats=2,
                               batch_size=20, snapshot_epochs=[1, 3], seed=5)
    assert run.alpha.tolist() == [0.0, 0.0, 0.2, 0.2] and run.repeat.tolist() == [0, 1, 0, 1]
    assert [e for e, _ in run.snapshots] == [0, 1, 3, 4]
    assert run.params["W"].shape == (4, 8, 12)
    # Within a repeat alpha is the only difference: same clusters, same initialization.
    assert torch.equal(run.train[0].cluster, run.train[2].cluster)
    torch.testing.assert_close(run.snapshots[0][1]["W"][0], run.snapshots[0][1]["W"][2])
    assert np.all(np.diff(run.history.step) > 0) and run.history.step[-1] == 4 * (100 // 20)
    assert run.test_accuracy().shape == (4,)
    ph = poly.phases(run, 1)
    assert ph.epoch.tolist() == [0, 1, 3, 4] and ph.milestones()[0] == 0 and ph.milestones()[-1] == 3


def test_even_odd_digits_are_scaled_split_by_digit_and_centred():
    data = poly.even_odd("digits", test_fraction=0.25, seed=1)
    n_train, n_test = data.X_train.shape[0], data.X_test.shape[0]
    assert n_train + n_test == 1797 and data.d == 64 and abs(n_test / 1797 - 0.25) < 0.01
    assert float(data.X_train.min()) >= 0 and float(data.X_train.max()) <= 1
    assert set(data.y_train.unique().tolist()) == {-1.0, 1.0}
    from sklearn.datasets import load_digits

    raw = load_digits()
    # Every training image is one of scikit-learn's, labelled +1 exactly when its digit is even.
    index = {tuple((row / 16).tolist()): int(t) for row, t in zip(raw.data, raw.target)}
    digits = np.array([index[tuple(x.tolist())] for x in data.X_train])
    np.testing.assert_array_equal(data.y_train.numpy(), np.where(digits % 2 == 0, 1.0, -1.0))
    torch.testing.assert_close(data.centre, data.X_train.mean(0))
    assert float((data.X_train - data.centre).mean(0).abs().max()) < 1e-12


@pytest.mark.parametrize("p", [1.0, 3.0])
def test_centred_score_is_one_homogeneous_around_the_centre_and_sums_its_features(p):
    net = TwoLayerNet(d=6, m=5, bias=False, activation="relu" if p == 1 else "prelu", p=p)
    params = net.init(runs=1, scale=1.0, seed=2)
    centre = torch.linspace(0, 1, 6)
    score = poly.CentredScore(net, params, centre)
    Z = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(score(centre + 2.5 * Z), 2.5 * score(centre + Z))
    torch.testing.assert_close(score.features(centre + Z) @ params["v"][0], score(centre + Z))
    assert poly.stable_rank(torch.ones(4, 3)) == pytest.approx(1.0)
    assert poly.stable_rank(torch.eye(5)) == pytest.approx(5.0)


def test_apgd_wrapper_flips_a_linear_score_exactly_beyond_its_linf_distance():
    w = torch.tensor([1.0, -2.0, 0.5, 0.0])
    score = lambda X: X @ w - 0.3  # noqa: E731
    X = torch.rand(30, 4, generator=torch.Generator().manual_seed(0)) * 0.2 + 0.4
    y = torch.sign(score(X))
    dist = (score(X).abs() / w.abs().sum()).numpy()  # l-infinity distance to the hyperplane
    eps = [0.0, float(dist.min()) * 0.9, float(dist.max()) * 1.1]
    flipped = poly.apgd(score, X, y, eps, norm="linf", max_iter=20).numpy()
    assert not flipped[0].any() and not flipped[1].any() and flipped[2].all()


def test_bad_inputs_name_the_parameter_value_and_what_is_allowed():
    mix = orthonormal_mixture(10, 4, 2, alpha=0.1)
    with pytest.raises(ValueError, match=r"p must be a number >= 1, got 0.5"):
        poly.idealized(mix, 0.5)
    with pytest.raises(ValueError, match=r"K_other must be a positive integer, got 0"):
        poly.centre_distance_Fp(3, 0)
    with pytest.raises(ValueError, match=r"eps must be strictly increasing"):
        poly.robust_accuracy(torch.ones(3), [0.5, 0.1])
    with pytest.raises(ValueError, match=r"step must be a finite number > 0, got 0"):
        poly.exp_loss_pgd(lambda X: X.sum(1), torch.ones(2, 3), torch.ones(2), [0.1], step=0)
    with pytest.raises(ValueError, match=r"name must be one of 'digits', 'mnist', got 'cifar'"):
        poly.even_odd("cifar")
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\), got 1.5"):
        poly.even_odd("digits", test_fraction=1.5)
    with pytest.raises(ValueError, match=r"alphas must hold at least one noise level"):
        poly.train_synthetic(1, [])
    with pytest.raises(ValueError, match=r"snapshot_epochs must be <= epochs=3, got 5"):
        poly.train_synthetic(1, [0.1], D=8, K=4, K1=2, n=20, epochs=3, batch_size=10, snapshot_epochs=[5])
    with pytest.raises(ValueError, match=r"norm must be one of 'linf', 'l2', got 'l1'"):
        poly.apgd(lambda X: X.sum(1), torch.ones(2, 3), torch.ones(2), [0.1], norm="l1")
    with pytest.raises(ValueError, match=r"mixture must have orthonormal centres"):
        frei = cluster_mixture(10, 4)
        poly.universal_radius_F(frei, frei.means, frei.labels)
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\], got 0"):
        net, params = poly.idealized(mix, 3)
        poly.alignment(net, params, mix, fraction=0)
