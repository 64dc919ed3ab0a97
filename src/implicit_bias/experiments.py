"""The book's standard experiment: draw a cluster mixture, train two-layer networks by gradient flow, test them.

Chapters call these instead of repeating the pipeline; sweeps reach paper scale through the same arguments.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


from . import _validate as check
from .data import ClusterMixture, Dataset, cluster_mixture
from .flow import FlowResult, gradient_flow
from .network import Params, TwoLayerNet


class _FlowOutcome:
    """What the experiments' results share: the parameters are those the flow ended at."""

    result: FlowResult

    @property
    def params(self) -> Params:
        return self.result.params


@dataclass
class Trained(_FlowOutcome):
    """A mixture, its training and test sets, and the networks gradient flow found on them (R runs)."""

    mixture: ClusterMixture
    train: Dataset
    test: Dataset
    net: TwoLayerNet
    result: FlowResult

    def test_error(self) -> np.ndarray:
        """Fraction of test points each run misclassifies, (R,)."""
        return test_error(self.net, self.params, self.test)


def test_error(net: TwoLayerNet, params: Params, data: Dataset) -> np.ndarray:
    """Fraction of misclassified points per run (a zero output counts as an error), (R,)."""
    check.instance("data", data, Dataset)
    check.problem(params, data.X, data.y)
    margins = data.y * net.forward(params, data.X)
    return (margins <= 0).to(torch.float64).mean(1).cpu().numpy()


def wilson_interval(errors: int | np.ndarray, n: int, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion: honest error bars also when no error was seen. ``errors``
    may be an int or a numpy array (counts in [0, n])."""
    n, z = check.positive_int("n", n), check.positive_real("z", z)
    errors = np.asarray(errors, dtype=float)
    if not np.all((errors >= 0) & (errors <= n)):
        raise ValueError(f"errors must be counts in [0, n={n}], got {errors!r}")
    p = errors / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return centre - half, centre + half


def train_cluster_network(
    d: int,
    k: int,
    m: int,
    *,
    n_per_cluster: int = 8,
    sigma: float = 1.0,
    runs: int = 1,
    steps: int = 2000,
    init_scale: float = 1e-3,
    n_test: int = 2000,
    bias: bool = True,
    means: str = "orthogonal",
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> Trained:
    """Frei et al.'s setting end to end: k clusters in R^d, n = n_per_cluster * k training points (every
    cluster covered), ``runs`` networks of width m trained together by loss-normalized gradient flow."""
    _check_training(m=m, runs=runs, steps=steps, init_scale=init_scale, seed=seed, device=device)
    n_per_cluster = check.positive_int("n_per_cluster", n_per_cluster)
    mix = cluster_mixture(d, k, sigma, means=means, seed=seed, dtype=dtype, device=device)
    train = mix.sample(n_per_cluster * k, seed=seed + 1, balanced=True)
    test = mix.sample(check.positive_int("n_test", n_test), seed=seed + 2)
    net, result = _train_networks(train, m, bias=bias, runs=runs, steps=steps, init_scale=init_scale, seed=seed,
                                  progress=progress)
    return Trained(mixture=mix, train=train, test=test, net=net, result=result)


def _check_training(*, m: int, runs: int, steps: int, init_scale: float, seed: int, device: str | torch.device) -> None:
    """Check the training arguments before any data is drawn (the data uses seed, seed + 1 and seed + 2)."""
    for name, value in (("m", m), ("runs", runs), ("steps", steps)):
        check.positive_int(name, value)
    check.init_scale("init_scale", init_scale)
    if isinstance(seed, torch.Generator):
        raise TypeError("seed must be an int here (the data draws use seed, seed + 1, seed + 2), got a torch.Generator")
    check.seed("seed", seed, offset=max(2, runs - 1))
    check.resolve_device(device)


def _train_networks(train: Dataset, m: int, *, bias: bool, runs: int, steps: int, init_scale: float, seed: int,
                    progress: bool) -> tuple[TwoLayerNet, FlowResult]:
    """``runs`` networks of width m from a small initialization, trained together by loss-normalized gradient
    flow on the training set (in its dtype and on its device), with 20 records along the way."""
    net = TwoLayerNet(d=train.d, m=m, bias=bias)
    params = net.init(runs=runs, scale=init_scale, seed=seed, dtype=train.X.dtype, device=train.X.device)
    result = gradient_flow(net, params, train.X, train.y, steps=steps, record_every=max(1, steps // 20),
                           progress=progress)
    return net, result


def sqrt_d_over_k(d: int, k: int) -> float:
    """sqrt(d/k): the scale of Frei et al.'s flip radius along the universal direction."""
    return math.sqrt(d / k)




def score_error(score, data: Dataset) -> float:
    """Fraction of points a score function (n, d) -> (n,) misclassifies; a zero score counts as an error."""
    check.instance("data", data, Dataset)
    check.score_output("score", score, check.tensor("data.X", data.X))
    return float((data.y * score(data.X) <= 0).to(torch.float64).mean())


def fit_exponential_decay(x: np.ndarray, error: np.ndarray) -> tuple[float, float] | None:
    """Least-squares fit of log(error) = a - c x over the points with error > 0: returns (c, a), or None if < 2.
    x and error are numpy arrays (or sequences) of one length, finite, with error >= 0."""
    x, error = np.asarray(x, dtype=float), np.asarray(error, dtype=float)
    if x.shape != error.shape or x.ndim != 1 or not np.all(np.isfinite(x)) or not np.all(np.isfinite(error) & (error >= 0)):
        raise ValueError(f"x and error must be finite 1-D arrays of one length with error >= 0; got shapes {x.shape} "
                         f"and {error.shape}")
    keep = np.asarray(error) > 0
    if keep.sum() < 2:
        return None
    slope, intercept = np.polyfit(np.asarray(x)[keep], np.log(np.asarray(error)[keep]), 1)
    return float(-slope), float(intercept)


def universal_flip_profile(trained: Trained, run: int = 0, grid: int = 200, reach: float = 4.0):
    """Flip radii of the test points of one run along Frei et al.'s universal direction x -> x - y r u-hat,
    on a grid of ``grid`` radii up to ``reach`` * sqrt(d/k), refined by bisection (a FlipProfile)."""
    from .perturbations import against_label, flip_profile, frei_direction, net_score

    check.instance("trained", trained, Trained)
    grid, reach = check.positive_int("grid", grid), check.positive_real("reach", reach)
    mix, test = trained.mixture, trained.test
    U = against_label(frei_direction(mix), test.y)
    radii = torch.linspace(0, reach * sqrt_d_over_k(mix.d, mix.k), grid + 1, dtype=test.X.dtype,
                           device=test.X.device)[1:]
    return flip_profile(net_score(trained.net, trained.params, run), test.X, test.y, U, radii)


def robust_gap(k):
    """sqrt(k)/2 = (sqrt(d)/2) / sqrt(d/k): the robust scale of Frei et al.'s construction over the universal flip
    radius of the trained networks (the book's ratio of the two scaling forms; 1 at k = 4). Works elementwise on
    arrays (a theory curve over k) and returns a float for a number."""
    arr = np.asarray(k, dtype=float)
    if not np.all(np.isfinite(arr)) or not np.all(arr >= 1):
        raise ValueError(f"k must be a number of clusters >= 1 (or an array of them), got {k!r}")
    gap = np.sqrt(arr) / 2
    return float(gap) if gap.ndim == 0 else gap


@dataclass
class SphereTrained(_FlowOutcome):
    """Vardi et al.'s setting: n points on the sphere of radius sqrt(d) with random labels, and the networks
    (R runs) gradient flow found on them. There is no test set: the labels are arbitrary."""

    train: Dataset
    net: TwoLayerNet
    result: FlowResult

    def margins(self, run: int = 0) -> torch.Tensor:
        """Training margins y_i N(x_i) of one run, (n,)."""
        from .perturbations import net_score

        with torch.no_grad():
            return self.train.y * net_score(self.net, self.params, run)(self.train.X)


def train_sphere_network(
    n: int,
    d: int,
    m: int,
    *,
    runs: int = 1,
    steps: int = 2000,
    init_scale: float = 1e-3,
    bias: bool = True,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> SphereTrained:
    """Vardi et al.'s setting end to end: ``sphere_data(n, d)`` and ``runs`` networks of width m trained together
    by loss-normalized gradient flow until (and long after) they fit the arbitrary labels."""
    from .data import sphere_data

    _check_training(m=m, runs=runs, steps=steps, init_scale=init_scale, seed=seed, device=device)

    train = sphere_data(n, d, seed=seed, dtype=dtype, device=device)
    net, result = _train_networks(train, m, bias=bias, runs=runs, steps=steps, init_scale=init_scale, seed=seed,
                                  progress=progress)
    return SphereTrained(train=train, net=net, result=result)


def vardi_flip_profile(trained: SphereTrained, run: int = 0, margin_tol: float | None = None, grid: int = 200,
                       reach: float = 4.0):
    """Flip radii of the training points of one run along Vardi et al.'s z-hat ∝ sum_i y_i x_i, pushed against
    each label (x -> x - y r z-hat), on ``grid`` radii up to ``reach`` * sqrt(d/n), refined by bisection (a
    FlipProfile). With ``margin_tol`` the sum runs over the margin points only (q_i <= (1 + tol) min q)."""
    from .perturbations import against_label, flip_profile, net_score, vardi_direction

    check.instance("trained", trained, SphereTrained)
    grid, reach = check.positive_int("grid", grid), check.positive_real("reach", reach)
    train = trained.train
    if margin_tol is None:
        z = vardi_direction(train)
    else:
        z = vardi_direction(train, trained.margins(run), margin_tol)
    radii = torch.linspace(0, reach * math.sqrt(train.d / train.n), grid + 1, dtype=train.X.dtype,
                           device=train.X.device)[1:]
    return flip_profile(net_score(trained.net, trained.params, run), train.X, train.y, against_label(z, train.y),
                        radii)
