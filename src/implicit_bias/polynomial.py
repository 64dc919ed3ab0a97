"""Min & Vidal's polynomial ReLU (pReLU): the idealized classifiers, their §5.1 experiment, and real digits.

Four parts, each usable on its own:

* **Idealized classifiers.** F (class sums, ReLU) and F^(p) (one neuron per centre, sigma^p) on the
  orthonormal mixture: the book's closed forms for their critical radii, and per-point radii on noisy data.
* **Robust-accuracy curves.** The fraction of test points that *no* attack flips within an l2 radius, for
  Min & Vidal's own attack (l2 PGD on the exponential loss with normalized-gradient steps) and the book's
  attacks (cluster-directed paths, the universal direction, DeepFool + minimum-norm PGD), side by side, so
  that the attack which over-reports robustness is visible.
* **The §5.1 pipeline.** Plain SGD on the mean exponential loss from a tiny initialization, runs batched over
  the noise levels alpha and repeats, with parameter snapshots along training (alignment, then growth).
* **Real data.** Even-vs-odd digits (scikit-learn's 8x8 ``load_digits``; full MNIST through ``fetch_openml``
  for users who are online), a pReLU network on centred and normalized input, Adam on the logistic loss,
  stable rank of the hidden features, and APGD-CE from the Adversarial Robustness Toolbox.

Every attack reports a flip only after checking the sign of y f(x + delta) <= 0 in float64 on the book's own
score, within the stated radius.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch import Tensor

from . import _validate as check
from .alignment import contributions, neuron_cosines, reference_directions
from .attacks import _margin_and_grad, _project, min_norm
from .constructions import SupDistance, min_vidal_F, min_vidal_Fp, sup_distance
from .data import ClusterMixture, Dataset, orthonormal_mixture
from .flow import History, sgd
from .network import Params, TwoLayerNet
from .perturbations import (Score, against_label, check_radii, cluster_path_radius, flip_radius, min_vidal_direction,
                            net_score, select_run)

SQRT2_HALF = math.sqrt(2) / 2
# Names of the attacks in RobustCurves
PGD_NAME = "PGD on exp loss (theirs)"
CLUSTER_NAME = "cluster-directed"
UNIVERSAL_NAME = "universal direction"
MIN_NORM_NAME = "DeepFool + min-norm PGD"
APGD_NAME = "APGD-CE (ART)"


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 1 <= p < math.inf:
        raise ValueError(f"p must be a number >= 1, got {p!r}")
    return float(p)


def _check_orthonormal(mixture: ClusterMixture) -> None:
    """Raise unless the centres are orthonormal (Min & Vidal's mixture): the closed forms assume it."""
    M = mixture.means
    gram = M @ M.T
    if not torch.allclose(gram, torch.eye(mixture.k, dtype=M.dtype, device=M.device), atol=1e-9):
        raise ValueError("mixture must have orthonormal centres (orthonormal_mixture), got centres with Gram "
                         f"matrix off the identity by {float((gram - torch.eye(mixture.k).to(M)).abs().max()):.3g}")


# ---------------------------------------------------------------------------------------------------------
# Idealized classifiers and their closed forms


def idealized(mixture: ClusterMixture, p: float) -> tuple[TwoLayerNet, Params]:
    """The classifier gradient flow is conjectured to approach: F (class sums) for p = 1, F^(p) for p > 1."""
    p = _check_p(p)
    return min_vidal_F(mixture) if p == 1 else min_vidal_Fp(mixture, p)


def centre_radius_F(K: int) -> float:
    """Flip radius of F along the universal direction from a noiseless centre: exactly 1/sqrt(K) (any K1).

    From x = mu_k with label +1, x - r u (u = (mu-bar-plus - mu-bar-minus)/sqrt(K)) has <x, mu-bar-plus> =
    1 - r K1/sqrt(K) and <x, mu-bar-minus> = r K2/sqrt(K); they meet at r = 1/sqrt(K). It is also F's exact
    l2 distance: the universal direction is the normal of F's linear piece -sigma(...) + sigma(...).
    """
    return 1 / math.sqrt(check.positive_int("K", K))


def centre_distance_Fp(p: float, K_other: int) -> float:
    """Exact l2 distance from a noiseless centre to the decision boundary of F^(p) (the book's derivation).

    Lower the own coordinate by a and raise s other-class coordinates by b_j: the sign flips once
    (1 - a)^p <= sum_j b_j^p. For fixed sum_j b_j^2 the sum of p-th powers is largest on one coordinate
    when p > 2 and spread evenly when p < 2, so with c = s^(1 - 2/p) (s = 1 for p >= 2, s = K_other for
    p < 2) the distance is min_a sqrt(a^2 + c (1-a)^2) = sqrt(c / (1 + c)): sqrt(2)/2 for every p >= 2
    (reached along the cluster-directed path), 1/sqrt(K_other + 1) for p = 1.
    """
    p = _check_p(p)
    K_other = check.positive_int("K_other", K_other)
    c = min(s ** (1 - 2 / p) for s in (1, K_other))
    return math.sqrt(c / (1 + c))


@torch.no_grad()
def universal_radius_F(mixture: ClusterMixture, X: Tensor, y: Tensor) -> Tensor:
    """Per-point flip radius of F along -y u in closed form (the book's), (n,); 0 for misclassified points.

    With a_own, a_oth the projections of x on its own and the other class sum and K_own the size of its
    class, F's margin is sigma(a_own - r K_own/sqrt(K)) - sigma(a_oth + r (K - K_own)/sqrt(K)): it reaches 0
    when the two arguments meet, r = (a_own - a_oth)/sqrt(K), or when the first reaches 0,
    r = a_own sqrt(K)/K_own, whichever comes first. Noiseless centres give 1/sqrt(K).
    """
    _check_orthonormal(mixture)
    if X.dim() != 2 or X.shape[1] != mixture.d or y.shape != (X.shape[0],):
        raise ValueError(f"X must have shape (n, {mixture.d}) and y shape (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    K = mixture.k
    pos, neg = X @ mixture.class_sum(1), X @ mixture.class_sum(-1)
    own = torch.where(y > 0, pos, neg)
    oth = torch.where(y > 0, neg, pos)
    k_own = torch.where(y > 0, (mixture.labels > 0).sum(), (mixture.labels < 0).sum()).to(X)
    r = torch.minimum((own - oth) / math.sqrt(K), own * math.sqrt(K) / k_own)
    return r.clamp_min(0)


def idealized_radius(mixture: ClusterMixture, data: Dataset, p: float,
                     radii: Sequence[float] | Tensor = tuple(np.linspace(0.01, 2.0, 200)), iters: int = 40) -> Tensor:
    """Per-point critical radius of the idealized classifier, (n,): F along the universal direction (closed
    form) for p = 1, F^(p) along the best cluster-directed path (bisection) for p > 1."""
    p = _check_p(p)
    if p == 1:
        return universal_radius_F(mixture, data.X, data.y)
    return cluster_path_radius(net_score(*idealized(mixture, p)), data, mixture, radii, iters)


def robust_accuracy(radius: Tensor | np.ndarray, eps: Sequence[float] | Tensor | np.ndarray) -> np.ndarray:
    """Fraction of points whose flip radius exceeds each eps, (G,): robust accuracy from per-point radii
    (radius 0 = misclassified, never robust; inf = never flipped)."""
    grid = check_radii(eps, "eps", allow_zero=True).numpy()
    r = np.asarray(radius.cpu() if isinstance(radius, Tensor) else radius, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"radius must be a non-empty 1-D array, got shape {r.shape}")
    return (r[None, :] > grid[:, None]).mean(1)


# ---------------------------------------------------------------------------------------------------------
# Attacks at fixed radii and robust-accuracy curves


def exp_loss_pgd(score: Score, X: Tensor, y: Tensor, eps: Sequence[float] | Tensor | np.ndarray, *,
                 step: float = 0.1, iterations: int = 100, chunk: int = 20_000) -> Tensor:
    """Min & Vidal's attack: l2 PGD on the exponential loss exp(-y f(x + delta)) with normalized-gradient steps.

    For every radius eps_g and point, delta starts at 0, moves by ``step`` along the normalized gradient of
    the loss (the paper: 0.1, 2000 iterations) and is projected back onto the l2 ball of radius eps_g. The
    normalized gradient of e^(-q) is that of -q, so the margin's gradient is used (no underflow). A point
    counts as flipped at eps_g if any iterate has margin <= 0 (checked in float64; at least as strong as
    looking at the last iterate only). Returns flipped, (G, n) bool. All radii run as one batch of G n
    points, in chunks of at most ``chunk`` points.
    """
    grid = check_radii(eps, "eps", allow_zero=True).to(X)
    step = check.positive_real("step", step)
    iterations = check.positive_int("iterations", iterations)
    chunk = check.positive_int("chunk", chunk)
    G, n = grid.numel(), X.shape[0]
    Xs, ys, E = X.repeat(G, 1), y.repeat(G), grid.repeat_interleave(n)
    flipped = torch.zeros(G * n, dtype=torch.bool, device=X.device)
    for start in range(0, G * n, chunk):
        sl = slice(start, start + chunk)
        Xc, yc, Ec = Xs[sl], ys[sl], E[sl]
        delta = torch.zeros_like(Xc)
        hit = torch.zeros(Xc.shape[0], dtype=torch.bool, device=X.device)
        for t in range(iterations + 1):
            margin, grad = _margin_and_grad(score, Xc + delta, yc)
            hit |= margin <= 0
            if t == iterations:
                break
            size = grad.norm(dim=1, keepdim=True)
            direction = torch.where(size > 0, grad / size.clamp_min(1e-300), 0.0)
            delta = _project(delta - step * direction, Ec, "l2")
        flipped[sl] = hit
    return flipped.view(G, n)


@dataclass
class RobustCurves:
    """Which points each attack flips within each radius: ``flipped[name]`` is (G, n) bool over ``eps`` (G,).

    ``radius`` holds the per-point radii of the attacks that search for a minimal radius (inf: no flip found).
    """

    eps: np.ndarray
    flipped: dict[str, np.ndarray]
    radius: dict[str, np.ndarray] = field(default_factory=dict)

    ANY = "any attack"

    def accuracy(self, name: str | None = None) -> np.ndarray:
        """Robust accuracy under one attack, or under all of them together (a point must survive every one)."""
        if name is None or name == self.ANY:
            hit = np.logical_or.reduce(list(self.flipped.values()))
        elif name in self.flipped:
            hit = self.flipped[name]
        else:
            raise ValueError(f"name must be one of {[*self.flipped, self.ANY]!r}, got {name!r}")
        return 1 - hit.mean(1)

    def at(self, eps: float, name: str | None = None) -> float:
        """Robust accuracy at the grid radius nearest to eps."""
        return float(self.accuracy(name)[int(np.argmin(np.abs(self.eps - eps)))])

    def curves(self) -> dict[str, np.ndarray]:
        """Every attack's robust-accuracy curve, and the curve of all attacks together last."""
        return {**{k: self.accuracy(k) for k in self.flipped}, self.ANY: self.accuracy()}



def robust_curves(score: Score, data: Dataset, mixture: ClusterMixture, eps: Sequence[float] | np.ndarray, *,
                  pgd_iterations: int = 100, pgd_step: float = 0.1, line_radii: Sequence[float] | None = None,
                  generic: bool = True, seed: int = 0) -> RobustCurves:
    """Robust-accuracy curves of one network on labelled mixture data under four attacks:
    their PGD (``exp_loss_pgd``), the cluster-directed paths, the universal direction, and (``generic``) the
    book's DeepFool + minimum-norm PGD. Line searches run on ``line_radii`` (default: 0.01 to 2 by 0.01)."""
    grid = check_radii(eps, "eps", allow_zero=True)
    radii = line_radii if line_radii is not None else np.linspace(0.01, 2.0, 200)
    X, y = data.X, data.y
    out: dict[str, Tensor] = {}
    out[CLUSTER_NAME] = cluster_path_radius(score, data, mixture, radii)
    out[UNIVERSAL_NAME] = flip_radius(score, X, y, against_label(min_vidal_direction(mixture), y), radii)
    if generic:
        out[MIN_NORM_NAME] = min_norm(score, X, y, seed=seed)["best"].radius
    g = grid.to(X)[:, None]
    flipped = {PGD_NAME: exp_loss_pgd(score, X, y, grid, step=pgd_step, iterations=pgd_iterations).cpu().numpy()}
    flipped |= {k: (r[None] <= g).cpu().numpy() for k, r in out.items()}
    return RobustCurves(eps=grid.numpy(), flipped=flipped, radius={k: r.cpu().numpy() for k, r in out.items()})


# ---------------------------------------------------------------------------------------------------------
# The §5.1 training pipeline


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
        return net_score(self.net, self.params, run)

    def train_accuracy(self) -> np.ndarray:
        return self.history.train_acc[-1]

    def test_accuracy(self) -> np.ndarray:
        """Clean test accuracy of every run, (R,)."""
        return np.array([float((t.y * self.net.forward(select_run(self.params, r), t.X)[0] > 0).double().mean())
                         for r, t in enumerate(self.test)])


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
    the only difference. Training runs in chunks ending at ``snapshot_epochs`` (each chunk reshuffles with
    its own seed), keeping the parameters at each of them and at epoch 0.
    """
    p = _check_p(p)
    alphas = [check.nonneg_real("alpha", a) for a in alphas]
    if not alphas:
        raise ValueError("alphas must hold at least one noise level, got []")
    repeats, epochs = check.positive_int("repeats", repeats), check.positive_int("epochs", epochs)
    n, n_test = check.positive_int("n", n), check.positive_int("n_test", n_test)
    stops = sorted({check.positive_int("snapshot_epochs entry", e) for e in snapshot_epochs} | {epochs})
    if stops[-1] > epochs:
        raise ValueError(f"snapshot_epochs must be <= epochs={epochs}, got {max(stops)}")
    net = TwoLayerNet(d=D, m=width, bias=False, activation="relu" if p == 1 else "prelu", p=p)
    mixtures, train, test, alpha, rep, inits = [], [], [], [], [], []
    for a in alphas:
        for j in range(repeats):
            mix = orthonormal_mixture(D, K, K1, a, dtype=dtype, device=device)
            mixtures.append(mix)
            train.append(mix.sample(n, seed=seed + 1000 * j + 1))
            test.append(mix.sample(n_test, seed=seed + 1000 * j + 2))
            alpha.append(a)
            rep.append(j)
            inits.append(net.init(runs=1, scale=init_scale, seed=seed + j, dtype=dtype, device=device))
    params = {k: torch.cat([i[k] for i in inits]) for k in inits[0]}
    X, y = torch.stack([t.X for t in train]), torch.stack([t.y for t in train])
    snapshots, histories, done = [(0, params)], [], 0
    for i, stop in enumerate(stops):
        res = sgd(net, params, X, y, loss="exp", lr=lr, batch_size=batch_size, epochs=stop - done,
                  seed=seed + 7919 * i, record_every=max(1, (stop - done) // 10), progress=progress)
        params, done = res.params, stop
        histories.append(res.history)
        snapshots.append((stop, params))
    return SyntheticRun(p=p, net=net, mixtures=mixtures, train=train, test=test, alpha=np.array(alpha),
                        repeat=np.array(rep), params=params, history=_concat(histories, lr), snapshots=snapshots)


def sup_distance_to_idealized(run: SyntheticRun, r: int = 0, *, samples: int = 10_000, seed: int = 0) -> SupDistance:
    """Estimated sup-distance between c f (run r) and F (p = 1) or F^(p) on the unit sphere (Min & Vidal's
    panel (a), in the book's normalization ``SupDistance.relative``); the sphere is sampled on the CPU."""
    device = run.params["W"].device
    f = run.score(r)
    F = net_score(*idealized(run.mixtures[r], run.p))
    return sup_distance(lambda U: f(U.to(device)).cpu(), lambda U: F(U.to(device)).cpu(), run.net.d,
                        samples=samples, seed=seed)


def subset(data: Dataset, n: int) -> Dataset:
    """The first n points of a data set (all of them if it has fewer)."""
    n = check.positive_int("n", n)
    return Dataset(X=data.X[:n], y=data.y[:n], cluster=None if data.cluster is None else data.cluster[:n])


@dataclass(frozen=True)
class Alignment:
    """Over the significant neurons (contribution >= fraction of the largest): the smallest best cosine with a
    single centre and with a class sum; and the contribution-weighted means of both."""

    centre_min: float
    class_sum_min: float
    centre_mean: float
    class_sum_mean: float
    significant: int


def alignment(net: TwoLayerNet, params: Params, mixture: ClusterMixture, *, run: int = 0,
              fraction: float = 0.1) -> Alignment:
    """How single-centre-like and how class-sum-like the neurons that matter are (Min & Vidal's heat maps)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    C = neuron_cosines(net, params, reference_directions(mixture), run=run)
    size, order = contributions(net, params, run=run)
    keep = order[size >= fraction * size[0]]
    w = size[size >= fraction * size[0]]
    best_sum, best_centre = C[keep, :2].amax(1), C[keep, 2:].amax(1)
    mean = lambda t: float((w * t).sum() / w.sum())  # noqa: E731
    return Alignment(centre_min=float(best_centre.min()), class_sum_min=float(best_sum.min()),
                     centre_mean=mean(best_centre), class_sum_mean=mean(best_sum), significant=int(keep.numel()))


def cosine_table(net: TwoLayerNet, params: Params, mixture: ClusterMixture, *, run: int = 0,
                 top: int = 40) -> np.ndarray:
    """Cosines of the ``top`` neurons of largest contribution (rows, largest first) with
    [mu-bar-plus, mu-bar-minus, mu_1, ..., mu_K] (columns): one heat map of Min & Vidal's figure, (top, K + 2)."""
    top = check.positive_int("top", top)
    C = neuron_cosines(net, params, reference_directions(mixture), run=run)
    order = contributions(net, params, run=run)[1][:top]
    return C[order].cpu().numpy()


def cosine_columns(mixture: ClusterMixture) -> list[str]:
    """Column labels of ``cosine_table``: the class sums, then the centres numbered from 1."""
    return [r"$\hat\mu_+$", r"$\hat\mu_-$", *[str(k + 1) for k in range(mixture.k)]]


@dataclass(frozen=True)
class Phases:
    """Along training: epoch of each snapshot, the norm of the first layer ||W||_F, and the
    contribution-weighted best cosine of the neurons with a single centre and with a class sum, (S,) each."""

    epoch: np.ndarray
    norm: np.ndarray
    centre: np.ndarray
    class_sum: np.ndarray

    def milestones(self, kind: str = "centre") -> list[int]:
        """Snapshot indices: the start, the first with weighted cosine >= 0.5 and >= 0.95 (of ``kind``:
        "centre" or "class_sum"), and the end; without repeats."""
        values = getattr(self, check.choice("kind", kind, ("centre", "class_sum")))
        picks = [0, *(int(np.argmax(values >= t)) for t in (0.5, 0.95) if np.any(values >= t)), len(values) - 1]
        return sorted(set(picks))


def phases(run: SyntheticRun, r: int = 0) -> Phases:
    """The alignment phase (directions settle while the norm stays at its initial size) and the growth phase
    (the norm grows by orders of magnitude), read off the snapshots of run r."""
    rows = []
    for epoch, params in run.snapshots:
        a = alignment(run.net, params, run.mixtures[r], run=r, fraction=1e-3)
        rows.append((epoch, float(params["W"][r].norm()), a.centre_mean, a.class_sum_mean))
    return Phases(*map(np.array, zip(*rows)))


# ---------------------------------------------------------------------------------------------------------
# Real data: even vs odd digits


@dataclass(frozen=True)
class EvenOdd:
    """Images as rows with pixels in [0, 1], labels +1 (even digit) / -1 (odd), and the training mean."""

    name: str
    X_train: Tensor
    y_train: Tensor
    X_test: Tensor
    y_test: Tensor

    @property
    def centre(self) -> Tensor:
        """The mean training image: the network sees x - centre."""
        return self.X_train.mean(0)

    @property
    def d(self) -> int:
        return self.X_train.shape[1]


DATASETS = ("digits", "mnist")


def even_odd(name: str = "digits", *, test_fraction: float = 0.3, seed: int = 0, data_home: str | None = None,
             dtype: torch.dtype = torch.float64) -> EvenOdd:
    """Even-vs-odd digits: ``"digits"`` is scikit-learn's bundled 8x8 set (1797 images, split stratified by
    digit with ``test_fraction`` and ``seed``); ``"mnist"`` downloads MNIST (70000 28x28 images) with
    ``fetch_openml`` into ``data_home`` and keeps its standard 60000/10000 split (needs the network)."""
    check.choice("name", name, DATASETS)
    dtype = check.float_dtype(dtype)
    if name == "digits":
        if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float)) or not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must be a number in (0, 1), got {test_fraction!r}")
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        raw = load_digits()
        X, digit = raw.data / 16.0, raw.target
        X_tr, X_te, d_tr, d_te = train_test_split(X, digit, test_size=test_fraction, random_state=seed,
                                                  stratify=digit)
    else:
        from sklearn.datasets import fetch_openml

        raw = fetch_openml("mnist_784", version=1, as_frame=False, data_home=data_home, parser="auto")
        X, digit = raw.data / 255.0, raw.target.astype(int)
        X_tr, X_te, d_tr, d_te = X[:60000], X[60000:], digit[:60000], digit[60000:]
    as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64)).to(dtype)  # noqa: E731
    label = lambda d: as_t(np.where(np.asarray(d) % 2 == 0, 1.0, -1.0))  # noqa: E731
    return EvenOdd(name=name, X_train=as_t(X_tr), y_train=label(d_tr), X_test=as_t(X_te), y_test=label(d_te))


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
    if H.dim() != 2 or H.numel() == 0:
        raise ValueError(f"H must be a non-empty matrix, got shape {tuple(H.shape)}")
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
    p = _check_p(p)
    epochs, record_every = check.positive_int("epochs", epochs), check.positive_int("record_every", record_every)
    batch_size = check.positive_int("batch_size", batch_size)
    lr = check.positive_real("lr", lr)
    n = data.X_train.shape[0]
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n_train={n}, got {batch_size}")
    dtype = data.X_train.dtype
    net = TwoLayerNet(d=data.d, m=width, bias=False, activation="relu" if p == 1 else "prelu", p=p)
    params = {k: t.requires_grad_(True) for k, t in net.init(runs=1, scale=init_scale, seed=seed, dtype=dtype).items()}
    score = CentredScore(net, params, data.centre)
    opt = torch.optim.Adam(list(params.values()), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    rows: dict[str, list] = {k: [] for k in ("epoch", "loss", "train_acc", "test_acc", "stable_rank")}

    @torch.no_grad()
    def record(epoch: int) -> None:
        q = data.y_train * score(data.X_train)
        rows["epoch"].append(epoch)
        rows["loss"].append(float(torch.nn.functional.softplus(-q).mean()))
        rows["train_acc"].append(float((q > 0).double().mean()))
        rows["test_acc"].append(float((data.y_test * score(data.X_test) > 0).double().mean()))
        rows["stable_rank"].append(stable_rank(score.features(data.X_train)))

    record(0)
    for epoch in range(1, epochs + 1):
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = perm[start:start + batch_size]
            q = data.y_train[idx] * score(data.X_train[idx])
            loss = torch.nn.functional.softplus(-q).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch % record_every == 0 or epoch == epochs:
            record(epoch)
    final = CentredScore(net, {k: t.detach() for k, t in params.items()}, data.centre)
    return AdamResult(score=final, **{k: np.asarray(v) for k, v in rows.items()})


NORMS = ("linf", "l2")


class _TwoLogits(torch.nn.Module):
    """A one-logit score as two logits [-f/2, f/2] (their difference is f), for libraries that want classes."""

    def __init__(self, score: Score):
        super().__init__()
        self.score = score

    def forward(self, x: Tensor) -> Tensor:
        f = self.score(x.reshape(x.shape[0], -1).to(torch.float64))
        return torch.stack([-f / 2, f / 2], dim=1)  # float64: a float32 cross-entropy saturates at large margins


def apgd(score: Score, X: Tensor, y: Tensor, eps: Sequence[float] | np.ndarray, *, norm: str = "linf",
         max_iter: int = 50, restarts: int = 1, bounds: tuple[float, float] | None = None, temperature: float = 1.0,
         seed: int = 0, batch_size: int = 1000) -> Tensor:
    """APGD-CE (Croce & Hein) from the Adversarial Robustness Toolbox on the two-logit wrapper of a score.

    For each eps > 0 of the grid: ART's ``AutoProjectedGradientDescent`` with the cross-entropy loss on the
    logits [-f/2, f/2] / ``temperature``; inputs clipped to ``bounds`` when given (the paper kept MNIST pixels
    in [0, 1]; None: no box, the threat model of the book's own attacks). ART computes in float32; each
    adversarial example is projected back onto the eps-ball (and the box) in float64, and a flip counts only if
    y f(x + delta) <= 0 there. Radius 0 counts misclassified points. ART draws its random starts from numpy's
    global generator, seeded here with ``seed``. Returns flipped, (G, n) bool.

    Pitfall: at margins of a few tens the cross-entropy gradient is ~e^(-margin), below the tolerance that ART
    adds to the l2 norm when it normalizes the gradient, so l2 APGD-CE stalls on confidently classified points
    and over-reports robustness at large radii; a temperature > 1 (or the book's margin-based attacks) fixes it.
    """
    from art.attacks.evasion import AutoProjectedGradientDescent
    from art.estimators.classification import PyTorchClassifier

    grid = check_radii(eps, "eps", allow_zero=True)
    check.choice("norm", norm, NORMS)
    max_iter, restarts = check.positive_int("max_iter", max_iter), check.positive_int("restarts", restarts)
    temperature = check.positive_real("temperature", temperature)
    batch_size = check.positive_int("batch_size", batch_size)
    if bounds is not None and not (len(bounds) == 2 and bounds[0] < bounds[1]):
        raise ValueError(f"bounds must be None or (low, high) with low < high, got {bounds!r}")
    model = _TwoLogits(lambda Z: score(Z) / temperature)
    clip = None if bounds is None else (float(bounds[0]), float(bounds[1]))
    clf = PyTorchClassifier(model=model, loss=torch.nn.CrossEntropyLoss(), input_shape=(X.shape[1],), nb_classes=2,
                            clip_values=clip, device_type="cpu")
    onehot = np.eye(2, dtype=np.float32)[(y > 0).long().cpu().numpy()]
    x32 = X.detach().cpu().numpy().astype(np.float32)
    with torch.no_grad():
        clean = y * score(X) <= 0
    out = []
    for e in grid.tolist():
        if e == 0:
            out.append(clean)
            continue
        np.random.seed(seed)
        attack = AutoProjectedGradientDescent(clf, norm=np.inf if norm == "linf" else 2, eps=e, eps_step=2 * e,
                                              max_iter=max_iter, nb_random_init=restarts, batch_size=batch_size,
                                              loss_type="cross_entropy", verbose=False)
        adv = torch.as_tensor(attack.generate(x=x32, y=onehot)).to(X)
        adv = X + _project(adv - X, torch.full((X.shape[0],), e).to(X), norm)
        if bounds is not None:
            adv = adv.clamp(*clip)
        with torch.no_grad():
            out.append(clean | (y * score(adv) <= 0))
    return torch.stack(out)



def even_odd_curves(score: Score, X: Tensor, y: Tensor, eps: Sequence[float] | np.ndarray, *, norm: str = "linf",
                    max_iter: int = 50, bounds: tuple[float, float] | None = None, seed: int = 0) -> RobustCurves:
    """Robust-accuracy curves of a real-data network under APGD-CE (``apgd``) and the book's DeepFool +
    minimum-norm PGD (no box), in the l-infinity or l2 norm."""
    grid = check_radii(eps, "eps", allow_zero=True)
    flipped = {APGD_NAME: apgd(score, X, y, grid, norm=norm, max_iter=max_iter, bounds=bounds, seed=seed).cpu().numpy()}
    r = min_norm(score, X, y, norm=norm, seed=seed)["best"].radius
    flipped[MIN_NORM_NAME] = (r[None] <= grid.to(r)[:, None]).cpu().numpy()
    return RobustCurves(eps=grid.numpy(), flipped=flipped, radius={MIN_NORM_NAME: r.cpu().numpy()})
