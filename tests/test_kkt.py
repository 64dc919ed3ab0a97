"""KKT diagnostics: trained networks approach a KKT point; the linear case matches an independent SVM solve."""

import clarabel
import numpy as np
import pytest
import scipy.sparse as sp
import torch

from implicit_bias.data import cluster_mixture
from implicit_bias.flow import gradient_flow
from implicit_bias.kkt import alignment_proxy, balancedness, kkt_residuals
from implicit_bias.network import LinearModel, TwoLayerNet, flatten


@pytest.fixture(scope="module")
def trained():
    mix = cluster_mixture(100, 4, seed=0)
    data = mix.sample(40, seed=1, balanced=True)
    net = TwoLayerNet(d=100, m=16)
    res = gradient_flow(
        net, net.init(runs=2, scale=1e-3, seed=0), data.X, data.y, steps=4000, record_every=500, progress=False
    )
    return net, res, data


@pytest.mark.parametrize("run", [0, 1])
def test_trained_cluster_network_is_close_to_kkt(trained, run):
    net, res, data = trained
    free = kkt_residuals(net, res.params, data.X, data.y, run=run, tau=1e-3)
    fixed = kkt_residuals(net, res.params, data.X, data.y, run=run, tau=0.0)
    assert free.kink_pairs > 0 and free.tau == 1e-3
    assert free.stationarity < 1e-2, free
    assert abs(free.complementary_slackness) < 1e-2
    assert free.balancedness < 1e-6
    # The pitfall of PAPERS.md: with s fixed at the kinks the residual stalls far higher.
    assert fixed.stationarity > 5 * free.stationarity
    assert np.all(free.multipliers >= 0)


def test_alignment_proxy_decreases_along_training(trained):
    _, res, _ = trained
    proxy = res.history.kkt_proxy
    assert np.all(proxy[-1] < 0.2 * proxy[1]) and np.all(proxy[-1] < 0.02)


def test_random_network_is_far_from_kkt(trained):
    net, _, data = trained
    params = net.init(runs=1, scale=1.0, seed=5)
    params["v"] = params["v"].abs()  # make some positive-margin fit impossible to be KKT, but keep margins signed
    q = data.y * net.forward(params, data.X)[0]
    if q.min() <= 0:
        with pytest.raises(ValueError, match="the model must fit the data"):
            kkt_residuals(net, params, data.X, data.y)
    assert float(alignment_proxy(net, params, data.X, data.y)[0]) > 0.1


def hard_margin_svm(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Homogeneous hard-margin SVM, min ||w||^2/2 s.t. y_i w.x_i >= 1, by Clarabel: weights and dual variables."""
    n, d = X.shape
    settings = clarabel.DefaultSettings()
    settings.verbose = False
    sol = clarabel.DefaultSolver(
        sp.csc_matrix(np.eye(d)),
        np.zeros(d),
        sp.csc_matrix(-(y[:, None] * X)),
        -np.ones(n),
        [clarabel.NonnegativeConeT(n)],
        settings,
    ).solve()
    return np.asarray(sol.x), np.asarray(sol.z)


def test_linear_model_matches_independent_hard_margin_svm():
    gen = torch.Generator().manual_seed(0)
    d, n = 5, 30  # more points than dimensions: the multipliers are only unique with complementary slackness
    w_true = torch.randn(d, generator=gen)
    X = torch.randn(n, d, generator=gen)
    y = torch.sign(X @ w_true)
    X = X + 0.3 * y[:, None] * w_true / w_true.norm()
    w_svm, lam_svm = hard_margin_svm(X.numpy(), y.numpy())
    lin = LinearModel(d)
    res = gradient_flow(lin, lin.init(scale=1e-3, seed=0), X, y, steps=20_000, record_every=20_000, progress=False)
    w = flatten(res.params)[0].numpy()
    assert w @ w_svm / (np.linalg.norm(w) * np.linalg.norm(w_svm)) > 1 - 1e-6
    rep = kkt_residuals(lin, res.params, X, y)
    assert rep.stationarity < 1e-6 and abs(rep.complementary_slackness) < 1e-3
    assert np.abs(rep.multipliers - lam_svm).max() < 1e-2 * lam_svm.max()
    assert np.isnan(rep.balancedness)


def test_balancedness_is_conserved_by_small_euler_steps():
    """Gradient flow conserves v^2 - ||w||^2 - b^2; tiny Euler steps (no correction) keep it to O(lr)."""
    mix = cluster_mixture(20, 4, seed=0)
    data = mix.sample(20, seed=1, balanced=True)
    net = TwoLayerNet(d=20, m=8)
    p0 = net.init(runs=1, scale=0.3, seed=0)
    res = gradient_flow(
        net, p0, data.X, data.y, schedule="constant", lr=1e-3, steps=3000, record_every=3000, progress=False
    )
    drift = (net.conserved(res.params) - net.conserved(p0)).abs().max()
    moved = (res.params["v"].pow(2) - p0["v"].pow(2)).abs().max()  # each side of the balance moved this much
    assert moved > 0.1
    assert drift < 2e-3 * moved  # O(lr) drift; a wrong gradient would make it O(1)
    assert balancedness(net, p0).item() > 1e-3  # a unit-scale init is not balanced; the flow keeps that gap


def test_bad_kkt_arguments(trained):
    net, res, data = trained
    with pytest.raises(ValueError, match="tau must be a finite number >= 0, got -1"):
        kkt_residuals(net, res.params, data.X, data.y, tau=-1)
    with pytest.raises(ValueError, match=r"run must be an integer in \[0, 2\), got 2"):
        kkt_residuals(net, res.params, data.X, data.y, run=2)
