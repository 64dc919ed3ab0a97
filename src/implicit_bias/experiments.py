"""The papers' experiments end to end: draw the data, train two-layer networks, test and measure them.

Frei et al. (cluster mixtures) and Vardi et al. (sphere points) by loss-normalized gradient flow; Min & Vidal's
section 5.1 (pReLU by SGD on the orthonormal mixture) and their real-data protocol (Adam on even vs odd digits).
Chapters and their sweep points call these same functions, so both compute the same numbers; sweeps reach paper
scale through the same arguments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import torch
from torch import Tensor

from . import _validate as validate
from .alignment import Alignment, Phases, contributions, cosine_table, phases, summarize
from .attacks import AttackResult, min_norm
from .certificates import certified_radius
from .constructions import SupDistance, frei_network, idealized, sup_distance, vardi_network
from .data import ClusterMixture, Dataset, EvenOdd, cluster_mixture, orthonormal_mixture, sphere_data, subset
from .flow import FlowResult, History, gradient_flow, sgd
from .network import Params, TwoLayerNet, polynomial_net
from .perturbations import (
    FlipProfile,
    NetLine,
    Score,
    against_label,
    flip_profile,
    frei_direction,
    line_radii,
    margin_points,
    net_line,
    net_score,
    vardi_direction,
)
from .robustness import RobustCurves, digits_curves, robust_curves


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


def error_rate(margins: Tensor) -> Tensor:
    """Fraction of margins y f(x) <= 0 along the last axis: the one definition of the error (0 output = error)."""
    return (margins <= 0).to(torch.float64).mean(-1)


def test_error(net: TwoLayerNet, params: Params, data: Dataset) -> np.ndarray:
    """Fraction of misclassified points per run (a zero output counts as an error), (R,)."""
    validate.instance("data", data, Dataset)
    validate.problem(params, data.X, data.y)
    return error_rate(data.y * net.forward(params, data.X)).cpu().numpy()


def wilson_interval(errors: int | np.ndarray, n: int, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion: honest error bars also when no error was seen. ``errors``
    may be an int or a numpy array (counts in [0, n])."""
    n, z = validate.positive_int("n", n), validate.positive_real("z", z)
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
    _validate_training(m=m, runs=runs, steps=steps, init_scale=init_scale, seed=seed, device=device)
    n_per_cluster = validate.positive_int("n_per_cluster", n_per_cluster)
    mix = cluster_mixture(d, k, sigma, means=means, seed=seed, dtype=dtype, device=device)
    train = mix.sample(n_per_cluster * k, seed=seed + 1, balanced=True)
    test = mix.sample(validate.positive_int("n_test", n_test), seed=seed + 2)
    net, result = _train_networks(
        train, m, bias=bias, runs=runs, steps=steps, init_scale=init_scale, seed=seed, progress=progress
    )
    return Trained(mixture=mix, train=train, test=test, net=net, result=result)


def _validate_training(
    *, m: int, runs: int, steps: int, init_scale: float, seed: int, device: str | torch.device
) -> None:
    """Check the training arguments before any data is drawn (the data uses seed, seed + 1 and seed + 2)."""
    for name, value in (("m", m), ("runs", runs), ("steps", steps)):
        validate.positive_int(name, value)
    validate.init_scale("init_scale", init_scale)
    if isinstance(seed, torch.Generator):
        raise TypeError("seed must be an int here (the data draws use seed, seed + 1, seed + 2), got a torch.Generator")
    validate.seed("seed", seed, offset=max(2, runs - 1))
    validate.resolve_device(device)


def _train_networks(
    train: Dataset, m: int, *, bias: bool, runs: int, steps: int, init_scale: float, seed: int, progress: bool
) -> tuple[TwoLayerNet, FlowResult]:
    """``runs`` networks of width m from a small initialization, trained together by loss-normalized gradient
    flow on the training set (in its dtype and on its device), with 20 records along the way."""
    net = TwoLayerNet(d=train.d, m=m, bias=bias)
    params = net.init(runs=runs, scale=init_scale, seed=seed, dtype=train.X.dtype, device=train.X.device)
    result = gradient_flow(
        net, params, train.X, train.y, steps=steps, record_every=max(1, steps // 20), progress=progress
    )
    return net, result


def sqrt_d_over_k(d: int, k: int) -> float:
    """sqrt(d/k): the scale of Frei et al.'s flip radius along the universal direction."""
    return math.sqrt(d / k)


def score_error(score: Score, data: Dataset) -> float:
    """Fraction of points a score function (n, d) -> (n,) misclassifies; a zero score counts as an error."""
    validate.instance("data", data, Dataset)
    validate.score_output("score", score, validate.tensor("data.X", data.X))
    with torch.no_grad():
        return float(error_rate(data.y * score(data.X)))


def fit_exponential_decay(x: np.ndarray, error: np.ndarray) -> tuple[float, float] | None:
    """Least-squares fit of log(error) = a - c x over the points with error > 0: returns (c, a), or None if < 2.
    x and error are numpy arrays (or sequences) of one length, finite, with error >= 0."""
    x, error = np.asarray(x, dtype=float), np.asarray(error, dtype=float)
    if (
        x.shape != error.shape
        or x.ndim != 1
        or not np.all(np.isfinite(x))
        or not np.all(np.isfinite(error) & (error >= 0))
    ):
        raise ValueError(
            f"x and error must be finite 1-D arrays of one length with error >= 0; got shapes {x.shape} "
            f"and {error.shape}"
        )
    keep = np.asarray(error) > 0
    if keep.sum() < 2:
        return None
    slope, intercept = np.polyfit(np.asarray(x)[keep], np.log(np.asarray(error)[keep]), 1)
    return float(-slope), float(intercept)


def universal_flip_profile(trained: Trained, run: int = 0, grid: int = 200, reach: float = 4.0) -> FlipProfile:
    """Flip radii of the test points of one run along Frei et al.'s universal direction x -> x - y r u-hat,
    on a grid of ``grid`` radii up to ``reach`` * sqrt(d/k), refined by bisection (a FlipProfile)."""
    validate.instance("trained", trained, Trained)
    grid, reach = validate.positive_int("grid", grid), validate.positive_real("reach", reach)
    mix, test = trained.mixture, trained.test
    U = against_label(frei_direction(mix), test.y)
    radii = line_radii(reach * sqrt_d_over_k(mix.d, mix.k), grid, like=test.X)
    return flip_profile(net_score(trained.net, trained.params, run), test.X, test.y, U, radii)


def construction_over_flip_scale(k: float | np.ndarray) -> float | np.ndarray:
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
    _validate_training(m=m, runs=runs, steps=steps, init_scale=init_scale, seed=seed, device=device)
    train = sphere_data(n, d, seed=seed, dtype=dtype, device=device)
    net, result = _train_networks(
        train, m, bias=bias, runs=runs, steps=steps, init_scale=init_scale, seed=seed, progress=progress
    )
    return SphereTrained(train=train, net=net, result=result)


def vardi_flip_profile(
    trained: SphereTrained, run: int = 0, margin_tol: float | None = None, grid: int = 200, reach: float = 4.0
) -> FlipProfile:
    """Flip radii of the training points of one run along Vardi et al.'s z-hat ∝ sum_i y_i x_i, pushed against
    each label (x -> x - y r z-hat), on ``grid`` radii up to ``reach`` * sqrt(d/n), refined by bisection (a
    FlipProfile). With ``margin_tol`` the sum runs over the margin points only (q_i <= (1 + tol) min q)."""
    validate.instance("trained", trained, SphereTrained)
    grid, reach = validate.positive_int("grid", grid), validate.positive_real("reach", reach)
    train = trained.train
    if margin_tol is None:
        z = vardi_direction(train)
    else:
        z = vardi_direction(train, trained.margins(run), margin_tol)
    radii = line_radii(reach * math.sqrt(train.d / train.n), grid, like=train.X)
    return flip_profile(net_score(trained.net, trained.params, run), train.X, train.y, against_label(z, train.y), radii)


@dataclass
class VardiRobustness:
    """One network trained on nearly orthogonal data, measured: the number of margin points, flip profiles
    along z-hat over all training points and over the margin points only, the best attack's radii (n,), and
    Vardi et al.'s robust network N* with its certified and attacked radii (n,)."""

    trained: SphereTrained
    robust: tuple[TwoLayerNet, Params]
    margin_points: int
    along_z: FlipProfile
    along_z_margin: FlipProfile
    attacked: Tensor
    certified: Tensor
    robust_attacked: Tensor


def vardi_robustness(
    n: int,
    d: int,
    m: int,
    *,
    steps: int = 2000,
    margin_tol: float = 0.05,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> VardiRobustness:
    """Train on n random-labelled sphere points (``train_sphere_network``), then measure the trained network
    and N* (``vardi_network``) on the training points: flip radii along z-hat, attacks, certificates."""
    t = train_sphere_network(n, d, m, steps=steps, seed=seed, dtype=dtype, device=device)
    X, y = t.train.X, t.train.y
    robust = vardi_network(t.train)
    q = t.margins()
    return VardiRobustness(
        trained=t,
        robust=robust,
        margin_points=int(margin_points(q, margin_tol).sum()),
        along_z=vardi_flip_profile(t),
        along_z_margin=vardi_flip_profile(t, margin_tol=margin_tol),
        attacked=min_norm(net_score(t.net, t.params), X, y, seed=seed)["best"].radius,
        certified=certified_radius(*robust, X, y),
        robust_attacked=min_norm(net_score(*robust), X, y, seed=seed)["best"].radius,
    )


@dataclass
class FreiRobustness:
    """One network trained on a cluster mixture next to Frei et al.'s robust N*: the trained network's flip
    profile along the universal direction, N*'s certified radii and attacks (on the first ``n_attack`` test
    points), and N*'s test error."""

    trained: Trained
    robust: tuple[TwoLayerNet, Params]
    universal: FlipProfile
    certified: Tensor
    attacked: dict[str, AttackResult]
    error: float


def frei_robustness(
    d: int,
    k: int,
    m: int,
    *,
    n_per_cluster: int = 8,
    steps: int = 2000,
    n_test: int = 2000,
    n_attack: int = 200,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> FreiRobustness:
    """Train one network (``train_cluster_network``) and compare its universal flip radii with N*'s
    (``frei_network``) certified and attacked radii on the test points."""
    t = train_cluster_network(
        d, k, m, n_per_cluster=n_per_cluster, runs=1, steps=steps, n_test=n_test, seed=seed, dtype=dtype, device=device
    )
    robust = frei_network(t.mixture)
    X, y = t.test.X, t.test.y
    n_attack = validate.positive_int("n_attack", n_attack)
    return FreiRobustness(
        trained=t,
        robust=robust,
        universal=universal_flip_profile(t),
        certified=certified_radius(*robust, X, y),
        attacked=min_norm(net_score(*robust), X[:n_attack], y[:n_attack], seed=seed),
        error=score_error(net_score(*robust), t.test),
    )


# ---------------------------------------------------------------------------------------------------------
# Min & Vidal's section 5.1: pReLU networks trained by SGD on the orthonormal mixture


@dataclass
class SyntheticRun:
    """Networks trained by SGD on Min & Vidal's mixture, one run per (alpha, repeat): run r has noise
    ``alpha[r]`` and repeat ``repeat[r]``; ``snapshots`` holds (epoch, params) along training."""

    p: float
    net: TwoLayerNet
    mixtures: list[ClusterMixture]
    train: list[Dataset]
    test: list[Dataset]
    alpha: np.ndarray
    repeat: np.ndarray
    params: Params
    history: History
    snapshots: list[tuple[int, Params]]

    def score(self, run: int = 0) -> Score:
        """Run ``run`` of the trained networks as a score."""
        return net_score(self.net, self.params, run)

    def train_accuracy(self) -> np.ndarray:
        """Training accuracy of every run at the last record, (R,)."""
        return self.history.train_acc[-1]

    def test_accuracy(self) -> np.ndarray:
        """Clean test accuracy of every run, (R,)."""
        return np.array([1 - float(error_rate(t.y * self.score(r)(t.X))) for r, t in enumerate(self.test)])


def _concat(histories: list[History], lr: float) -> History:
    """Histories of consecutive SGD calls as one: steps offset, the repeated first record of each call dropped."""
    parts, offset = [], 0
    for i, h in enumerate(histories):
        keep = slice(0 if i == 0 else 1, None)
        parts.append({f.name: getattr(h, f.name)[keep] for f in fields(History)})
        parts[-1]["step"] = parts[-1]["step"] + offset
        offset = int(parts[-1]["step"][-1])
    merged = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    with np.errstate(divide="ignore"):
        merged["log_time"] = np.log(lr * merged["step"].astype(float))[:, None] * np.ones_like(merged["loss"])
    return History(**merged)


def _synthetic_draws(
    net: TwoLayerNet,
    alphas: list[float],
    repeats: int,
    *,
    K: int,
    K1: int,
    n: int,
    n_test: int,
    init_scale: float,
    seed: int,
    dtype: torch.dtype,
    device: str | torch.device,
) -> tuple[dict, Params]:
    """The mixtures, data sets, alphas and repeats of every (alpha, repeat) run as ``SyntheticRun`` fields, and the
    initial parameters: repeat j draws its data from seed + 1000 j and its initialization from seed + j."""
    mixtures, train, test, alpha, rep, inits = [], [], [], [], [], []
    for a in alphas:
        for j in range(repeats):
            mix = orthonormal_mixture(net.d, K, K1, a, dtype=dtype, device=device)
            mixtures.append(mix)
            train.append(mix.sample(n, seed=seed + 1000 * j + 1))
            test.append(mix.sample(n_test, seed=seed + 1000 * j + 2))
            alpha.append(a)
            rep.append(j)
            inits.append(net.init(runs=1, scale=init_scale, seed=seed + j, dtype=dtype, device=device))
    params = {k: torch.cat([i[k] for i in inits]) for k in inits[0]}
    return dict(mixtures=mixtures, train=train, test=test, alpha=np.array(alpha), repeat=np.array(rep)), params


def _snapshot_stops(snapshot_epochs: Sequence[int], epochs: int) -> list[int]:
    """The epochs that end a training chunk: the snapshot epochs, then ``epochs`` (the last)."""
    epochs = validate.positive_int("epochs", epochs)
    stops = sorted({validate.positive_int("snapshot_epochs entry", e) for e in snapshot_epochs} | {epochs})
    if stops[-1] > epochs:
        raise ValueError(f"snapshot_epochs must be <= epochs={epochs}, got {max(stops)}")
    return stops


def train_synthetic(
    p: float,
    alphas: Sequence[float],
    *,
    D: int = 100,
    K: int = 10,
    K1: int = 6,
    n: int = 2000,
    n_test: int = 1000,
    width: int = 200,
    epochs: int = 60,
    init_scale: float = 1e-7,
    lr: float = 0.2,
    batch_size: int = 100,
    repeats: int = 1,
    snapshot_epochs: Sequence[int] = (),
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> SyntheticRun:
    """Min & Vidal's §5.1 protocol: pReLU (ReLU for p = 1) without biases, both layers trained from N(0,
    init_scale^2), plain SGD on the mean exponential loss, for every noise level alpha and repeat at once.

    Repeat j draws its data from seed + 1000 j (the same cluster draws and noise pattern for every alpha,
    scaled by alpha) and its initialization from seed + j (shared by its alphas): within a repeat, alpha is
    the only difference. Training runs in chunks ending at ``snapshot_epochs`` (each
    chunk reshuffles with its own seed), keeping the parameters at each of them and at epoch 0.
    """
    alphas = [validate.nonneg_real("alpha", a) for a in alphas]
    if not alphas:
        raise ValueError("alphas must hold at least one noise level, got []")
    repeats, stops = validate.positive_int("repeats", repeats), _snapshot_stops(snapshot_epochs, epochs)
    n, n_test = validate.positive_int("n", n), validate.positive_int("n_test", n_test)
    net = polynomial_net(D, width, p, bias=False)
    draws, params = _synthetic_draws(
        net,
        alphas,
        repeats,
        K=K,
        K1=K1,
        n=n,
        n_test=n_test,
        init_scale=init_scale,
        seed=seed,
        dtype=dtype,
        device=device,
    )
    X, y = torch.stack([t.X for t in draws["train"]]), torch.stack([t.y for t in draws["train"]])
    params, histories, snapshots = _sgd_in_chunks(
        net, params, X, y, stops, lr=lr, batch_size=batch_size, seed=seed, progress=progress
    )
    return SyntheticRun(p=net.p, net=net, **draws, params=params, history=_concat(histories, lr), snapshots=snapshots)


def _sgd_in_chunks(
    net: TwoLayerNet,
    params: Params,
    X: Tensor,
    y: Tensor,
    stops: list[int],
    *,
    lr: float,
    batch_size: int,
    seed: int,
    progress: bool,
) -> tuple[Params, list[History], list[tuple[int, Params]]]:
    """Plain SGD on the exponential loss up to each epoch of ``stops`` in turn (each chunk reshuffles with its own
    seed): the final parameters, each chunk's history, and the parameters at epoch 0 and at every stop."""
    snapshots, histories, done = [(0, params)], [], 0
    for i, stop in enumerate(stops):
        res = sgd(
            net,
            params,
            X,
            y,
            loss="exp",
            lr=lr,
            batch_size=batch_size,
            epochs=stop - done,
            seed=seed + 7919 * i,
            record_every=max(1, (stop - done) // 10),
            progress=progress,
        )
        params, done = res.params, stop
        histories.append(res.history)
        snapshots.append((stop, params))
    return params, histories, snapshots


def sup_distance_to_idealized(run: SyntheticRun, r: int = 0, *, samples: int = 10_000, seed: int = 0) -> SupDistance:
    """Estimated sup-distance between c f (run r) and F (p = 1) or F^(p) on the unit sphere (Min & Vidal's
    panel (a), in the book's normalization ``SupDistance.relative``); the sphere is sampled on the CPU."""
    device = run.params["W"].device
    f = run.score(r)
    F = net_score(*idealized(run.mixtures[r], run.p))
    return sup_distance(
        lambda U: f(U.to(device)).cpu(), lambda U: F(U.to(device)).cpu(), run.net.d, samples=samples, seed=seed
    )


@dataclass
class SyntheticReport:
    """Everything the pReLU chapter and its sweep read off one ``SyntheticRun`` (run 0: the first alpha and
    repeat, unless said otherwise): accuracies, sup-distances to the idealized classifier (alphas x repeats),
    contributions, cosine heat maps (final and per snapshot epoch), alignment, phases and robust-accuracy curves."""

    run: SyntheticRun
    train_acc: float
    test_acc: float
    sup: np.ndarray
    contrib: np.ndarray
    cosines: np.ndarray
    alignment: Alignment
    curves: RobustCurves
    phases: Phases
    snapshots: dict[int, np.ndarray]


def synthetic_report(
    run: SyntheticRun,
    *,
    n_attack: int,
    eps: Sequence[float] | np.ndarray,
    pgd_iterations: int = 100,
    pgd_step: float = 0.1,
    seed: int = 0,
) -> SyntheticReport:
    """Measure a trained ``SyntheticRun``: the minima over runs of train and test accuracy, every run's
    sup-distance to the idealized classifier, and, on run 0, the neurons (contributions, cosines, alignment,
    phases) and the robust-accuracy curves of its first ``n_attack`` test points under every attack."""
    mix = run.mixtures[0]
    sup = np.array([sup_distance_to_idealized(run, r, seed=seed).relative for r in range(len(run.alpha))])
    curves = robust_curves(
        run.score(0),
        subset(run.test[0], n_attack),
        mix,
        eps,
        pgd_iterations=pgd_iterations,
        pgd_step=pgd_step,
        seed=seed,
    )
    return SyntheticReport(
        run=run,
        train_acc=float(run.train_accuracy().min()),
        test_acc=float(run.test_accuracy().min()),
        sup=sup.reshape(-1, int(run.repeat.max()) + 1),
        contrib=contributions(run.net, run.params)[0].cpu().numpy(),
        cosines=cosine_table(run.net, run.params, mix),
        alignment=summarize(run.net, run.params, mix),
        curves=curves,
        phases=phases(run.net, run.snapshots, mix),
        snapshots={e: cosine_table(run.net, prm, mix) for e, prm in run.snapshots},
    )


# ---------------------------------------------------------------------------------------------------------
# Min & Vidal's real data: a centred pReLU network trained by Adam on even vs odd digits


@dataclass(frozen=True)
class CentredScore:
    """Min & Vidal's real-data pReLU: f(x) = sum_j v_j sigma(<w_j, z>)^p / (||w_j||^(p-1) ||z||^(p-1)), z = x - c.

    Dividing also by ||z||^(p-1) makes each neuron ||z|| sigma(cos(w_j, z))^p: 1-homogeneous in z, like ReLU,
    so that p changes the angular selectivity and not the scale. For p = 1 it is the ReLU net on x - c.
    """

    net: TwoLayerNet
    params: Params
    centre: Tensor

    def __call__(self, X: Tensor) -> Tensor:
        Z = X - self.centre
        out = self.net.forward(self.params, Z)[0]
        if self.net.p != 1:
            out = out / Z.norm(dim=1).clamp_min(1e-12).pow(self.net.p - 1)
        return out

    def line(self, X: Tensor, U: Tensor) -> NetLine:
        """r, rows -> f(X[rows] + r U[rows]) from pre-activations computed once (``perturbations.net_line``)."""
        return net_line(self.net, self.params, X - self.centre, U, centred=True)

    def features(self, X: Tensor) -> Tensor:
        """Hidden features phi_j(x) (before the second layer), (n, m)."""
        Z = X - self.centre
        A = Z @ self.params["W"][0].T
        if self.net.p == 1:
            return A.clamp_min(0)
        scale = self.params["W"][0].norm(dim=1).clamp_min(1e-300)[None] * Z.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return A.clamp_min(0).pow(self.net.p) / scale.pow(self.net.p - 1)


def stable_rank(H: Tensor) -> float:
    """||H||_F^2 / ||H||_2^2: between 1 and rank(H), a noise-robust count of the directions H spans."""
    validate.tensor("H", H, dims=2)
    top = torch.linalg.matrix_norm(H, ord=2)
    return float(H.pow(2).sum() / top.pow(2)) if top > 0 else 0.0


@dataclass
class AdamResult:
    """Final network (R = 1) as a score, and per-record epoch, training loss, accuracies and stable rank."""

    score: CentredScore
    epoch: np.ndarray
    loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    stable_rank: np.ndarray


@torch.no_grad()
def _adam_record(score: CentredScore, data: EvenOdd, epoch: int) -> dict[str, float]:
    """One record of ``train_even_odd``: epoch, training loss, train and test accuracy, stable rank."""
    q = data.y_train * score(data.X_train)
    return {
        "epoch": epoch,
        "loss": float(torch.nn.functional.softplus(-q).mean()),
        "train_acc": 1 - float(error_rate(q)),
        "test_acc": 1 - float(error_rate(data.y_test * score(data.X_test))),
        "stable_rank": stable_rank(score.features(data.X_train)),
    }


def train_even_odd(
    p: float,
    data: EvenOdd,
    *,
    width: int = 200,
    epochs: int = 60,
    lr: float = 1e-3,
    batch_size: int = 100,
    init_scale: float = 1e-2,
    seed: int = 0,
    record_every: int = 5,
) -> AdamResult:
    """Min & Vidal's real-data protocol at any size: the centred pReLU net (no biases, both layers trained),
    Adam on the mean logistic loss log(1 + e^(-y f)) — cross-entropy on the two logits [-f/2, f/2] — in
    mini-batches; records the loss, accuracies and the stable rank of the training features."""
    epochs, record_every = validate.positive_int("epochs", epochs), validate.positive_int("record_every", record_every)
    batch_size = validate.positive_int("batch_size", batch_size)
    lr = validate.positive_real("lr", lr)
    n = data.X_train.shape[0]
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n_train={n}, got {batch_size}")
    net = polynomial_net(data.d, width, p, bias=False)
    init = net.init(runs=1, scale=init_scale, seed=seed, dtype=data.X_train.dtype)
    params = {k: t.requires_grad_(True) for k, t in init.items()}
    score = CentredScore(net, params, data.centre)
    opt = torch.optim.Adam(list(params.values()), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    rows = [_adam_record(score, data, 0)]
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = perm[start : start + batch_size]
            loss = torch.nn.functional.softplus(-data.y_train[idx] * score(data.X_train[idx])).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % record_every == 0 or epoch == epochs:
            rows.append(_adam_record(score, data, epoch))
    final = CentredScore(net, {k: t.detach() for k, t in params.items()}, data.centre)
    return AdamResult(score=final, **{k: np.asarray([r[k] for r in rows]) for k in rows[0]})


@dataclass
class DigitsReport:
    """One trained digits network and its robust-accuracy curves in the l-infinity and l2 norms."""

    fit: AdamResult
    linf: RobustCurves
    l2: RobustCurves


def digits_report(
    p: float,
    data: EvenOdd,
    *,
    linf_eps: Sequence[float],
    l2_eps: Sequence[float],
    apgd_iterations: int = 50,
    seed: int = 0,
    **train_kw,
) -> DigitsReport:
    """Train ``train_even_odd(p, data, **train_kw)`` and attack its test points in both norms (``digits_curves``)."""
    fit = train_even_odd(p, data, seed=seed, **train_kw)
    curves = {
        norm: digits_curves(fit.score, data.X_test, data.y_test, eps, norm=norm, max_iter=apgd_iterations, seed=seed)
        for norm, eps in (("linf", linf_eps), ("l2", l2_eps))
    }
    return DigitsReport(fit=fit, **curves)
