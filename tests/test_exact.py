"""Exact distances of small ReLU networks against brute force, attacks, certificates and foolbox."""

import math

import pytest
import torch

from implicit_bias.attacks import min_norm
from implicit_bias.certificates import certified_radius, lipschitz_bound
from implicit_bias.data import cluster_mixture
from implicit_bias.exact import exact_distance, robustness_report
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet
from implicit_bias.perturbations import net_score


@pytest.fixture(scope="module")
def trained():
    """A small trained network where every test point can be solved exactly."""
    mix = cluster_mixture(20, 4, seed=0)
    train, test = mix.sample(40, seed=1, balanced=True), mix.sample(60, seed=2)
    net = TwoLayerNet(d=20, m=16)
    res = gradient_flow(
        net, net.init(runs=1, scale=1e-3, seed=0), train.X, train.y, steps=2000, record_every=500, progress=False
    )
    correct = test.y * net_score(net, res.params)(test.X) > 0
    X, y = test.X[correct], test.y[correct]
    return net, res.params, X, y, robustness_report(net, res.params, X, y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_distance_matches_a_grid_search_in_two_dimensions(seed):
    net = TwoLayerNet(d=2, m=6)
    params = net.init(runs=1, scale=1.0, seed=seed)
    f = net_score(net, params)
    h = 6 / 1200
    g = torch.linspace(-3, 3, 1201)
    grid = torch.stack(torch.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    fg = f(grid)
    X = 0.8 * torch.randn(12, 2, generator=torch.Generator().manual_seed(seed))
    y = torch.where(f(X) > 0, 1.0, -1.0)
    rep = robustness_report(net, params, X, y)
    checked = 0
    for i in range(len(X)):
        other = y[i] * fg <= 0
        brute = float((grid[other] - X[i]).norm(dim=1).min())
        if brute > 2.5 - abs(X[i]).max():  # the nearest point may lie outside the grid
            continue
        checked += 1
        # The grid's nearest flipped node is within half a cell diagonal of the true boundary point.
        assert rep.exact[i] <= brute + 1e-12 and brute <= rep.exact[i] + h / math.sqrt(2), (i, brute, rep.exact[i])
    assert checked >= 8
    assert rep.brackets_hold()  # certificate <= exact <= best attack on every solved point
    broken = type(rep)(lower=rep.exact * 2 + 1, exact=rep.exact, upper=rep.upper)
    assert not broken.brackets_hold()
    for name, up in rep.upper.items():
        assert torch.all(up >= rep.exact * (1 - 1e-9)), name
    assert torch.all(rep.lower <= rep.exact * (1 + 1e-9))


def test_best_attack_is_within_five_percent_of_exact_on_a_small_trained_net(trained):
    net, params, X, y, rep = trained
    assert not torch.isnan(rep.exact).any() and len(X) >= 50
    for name in rep.upper:
        gap = rep.gap(name)
        assert torch.all(gap >= -1e-9), name  # no attack goes below the exact distance
        print(
            f"{name}: within 5% for {float((gap <= 0.05).double().mean()):.2f}, median gap {float(gap.median()):.4f}, "
            f"max {float(gap.max()):.4f}"
        )
    assert float((rep.gap("best") <= 0.05).double().mean()) >= 0.95
    assert torch.all(rep.lower <= rep.exact * (1 + 1e-9)) and torch.all(rep.lower > 0)


def test_foolbox_min_norm_attacks_never_beat_exact_and_ours_is_within_five_percent(trained):
    fb = pytest.importorskip("foolbox")
    net, params, X, y, rep = trained
    f = net_score(net, params)

    class TwoLogits(torch.nn.Module):
        def forward(self, X):
            out = f(X)
            return torch.stack([-out / 2, out / 2], 1)  # logit difference = f

    model = fb.PyTorchModel(TwoLogits().eval(), bounds=(-1e3, 1e3))
    labels = (y > 0).long()
    ours = rep.upper["best"]
    for attack in (
        fb.attacks.DDNAttack(steps=200),
        fb.attacks.L2FMNAttack(steps=200),
        fb.attacks.L2DeepFoolAttack(steps=100, candidates=2),
    ):
        _, adv, _ = attack(model, X, labels, epsilons=None)
        flipped = y * f(adv) <= 0  # judge their successes by our sign, not their bookkeeping
        theirs = (adv - X).norm(dim=1)
        name = type(attack).__name__
        assert flipped.double().mean() >= 0.5, name
        assert torch.all(theirs[flipped] >= rep.exact[flipped] * (1 - 1e-9)), name
        ratio = ours[flipped] / theirs[flipped]
        print(
            f"{name}: flipped {float(flipped.double().mean()):.2f}, ours/theirs median {float(ratio.median()):.3f}, "
            f"max {float(ratio.max()):.3f}"
        )
        assert torch.all(ratio <= 1.05), name


def test_certificates_bound_the_exact_distance_from_below():
    net = TwoLayerNet(d=3, m=8)
    params = net.init(runs=1, scale=1.0, seed=4)
    X = torch.randn(30, 3, generator=torch.Generator().manual_seed(0))
    y = torch.where(net_score(net, params)(X) > 0, 1.0, -1.0)
    up = min_norm(net_score(net, params), X, y)["best"].radius
    exact = torch.tensor([exact_distance(net, params, X[i], float(y[i]), float(up[i])) for i in range(30)])
    assert torch.all(lipschitz_bound(net, params, X, y) <= exact * (1 + 1e-9))
    assert torch.all(certified_radius(net, params, X, y) <= exact * (1 + 1e-9))
    # A misclassified point is at distance 0 and certified at 0.
    assert exact_distance(net, params, X[0], -float(y[0]), math.inf) == 0.0
    assert lipschitz_bound(net, params, X[:1], -y[:1]).item() == 0.0


def test_exact_solver_refuses_networks_it_cannot_enumerate():
    net = TwoLayerNet(d=5, m=40)
    params = net.init(runs=1, scale=1.0, seed=0)
    x = torch.randn(5, generator=torch.Generator().manual_seed(0))
    y = 1.0 if net_score(net, params)(x[None]).item() > 0 else -1.0
    with pytest.raises(ValueError, match=r"40 neurons .* limit max_free=16"):
        exact_distance(net, params, x, y, math.inf)
    rep = robustness_report(net, params, x[None], torch.tensor([y]), max_free=2)
    assert torch.isnan(rep.exact).all() and torch.isfinite(rep.upper["best"]).all()
    with pytest.raises(ValueError, match="ReLU TwoLayerNet"):
        prelu = TwoLayerNet(d=5, m=4, activation="prelu", p=3)
        exact_distance(prelu, prelu.init(runs=1), x, y, 1.0)
    with pytest.raises(ValueError, match="x must have shape"):
        exact_distance(net, params, x[:3], y, 1.0)
    with pytest.raises(ValueError, match="upper must be"):
        exact_distance(net, params, x, y, -1.0)
