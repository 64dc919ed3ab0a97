"""The data of the three papers: cluster mixtures (Frei et al.; Min & Vidal), nearly orthogonal points (Vardi
et al.), and Min & Vidal's real images (even vs odd digits).

Everything random is drawn on the CPU from an explicit ``torch.Generator`` and then moved to the device, so
the same seed gives the same data on a CPU or a GPU; like every result of the book, its last bits may differ
between CPUs or libraries (README: "What is reproducible").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from . import _validate as validate


@dataclass(frozen=True)
class Dataset:
    """Points ``X`` (n, d), labels ``y`` (n,) in {-1, +1} with X's dtype, and the cluster of each point (or None)."""

    X: Tensor
    y: Tensor
    cluster: Tensor | None = None

    def __post_init__(self) -> None:
        validate.tensor("X", self.X, dims=2, finite=False)  # metadata only: values are checked where they are used
        validate.is_tensor("y", self.y)
        if tuple(self.y.shape) != (self.X.shape[0],):
            raise ValueError(
                f"y must have shape ({self.X.shape[0]},) (one label per point); got {validate.describe(self.y)}"
            )

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]


@dataclass(frozen=True)
class ClusterMixture:
    """Gaussian clusters x = means[l] + N(0, sigma^2 I), label labels[l], cluster l uniform over the k clusters."""

    means: Tensor  # (k, d)
    labels: Tensor  # (k,) in {-1, +1}
    sigma: float

    @property
    def k(self) -> int:
        return self.means.shape[0]

    @property
    def d(self) -> int:
        return self.means.shape[1]

    def class_sum(self, label: int) -> Tensor:
        """Sum of the cluster means of one class (Min & Vidal's mu-bar-plus or mu-bar-minus)."""
        if isinstance(label, bool) or label not in (1, -1):
            raise ValueError(f"label must be -1 or +1, got {label!r}")
        return self.means[self.labels == label].sum(0)

    def sample(self, n: int, seed: int | torch.Generator, balanced: bool = False) -> Dataset:
        """Draw n labelled points; ``balanced`` assigns clusters round-robin so every cluster appears (needs n >= k)."""
        n = validate.positive_int("n", n)
        gen = validate.generator(seed)
        validate.fits_memory(f"sample(n={n}) in d={self.d}", 2 * n * self.d, torch.float64, self.means.device)
        if balanced:
            if n < self.k:
                raise ValueError(f"n must be >= k={self.k} when balanced=True, got {n}")
            cluster = torch.arange(n) % self.k
            cluster = cluster[torch.randperm(n, generator=gen)]
        else:
            cluster = torch.randint(self.k, (n,), generator=gen)
        noise = torch.randn(n, self.d, generator=gen, dtype=torch.float64)
        cluster = cluster.to(self.means.device)
        X = self.means[cluster] + self.sigma * noise.to(self.means)
        return Dataset(X=X, y=self.labels[cluster].clone(), cluster=cluster)


def _labels(k: int, labels: str, gen: torch.Generator) -> Tensor:
    """Cluster labels: alternating +1, -1, ... or uniformly random with both classes present."""
    if labels == "alternating":
        return torch.where(torch.arange(k) % 2 == 0, 1.0, -1.0).to(torch.float64)
    while True:  # rejection keeps the law uniform over labelings with both classes
        lab = torch.randint(2, (k,), generator=gen).to(torch.float64) * 2 - 1
        if lab.min() < 0 < lab.max():
            return lab


def cluster_mixture(
    d: int,
    k: int,
    sigma: float = 1.0,
    *,
    means: str = "orthogonal",
    labels: str = "alternating",
    seed: int | torch.Generator = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> ClusterMixture:
    """Frei et al.'s mixture: k means of norm sqrt(d), exactly orthogonal (QR) or Gaussian (nearly orthogonal)."""
    d, k = validate.positive_int("d", d), validate.positive_int("k", k)
    sigma = validate.nonneg_real("sigma", sigma)
    validate.choice("means", means, ("orthogonal", "gaussian"))
    validate.choice("labels", labels, ("alternating", "random"))
    dtype, device = validate.float_dtype(dtype), validate.resolve_device(device)
    if k < 2:
        raise ValueError(f"k must be >= 2 so that both labels are present, got {k}")
    if means == "orthogonal" and k > d:
        raise ValueError(f"k must be <= d={d} for orthogonal means, got {k}")
    gen = validate.generator(seed)
    validate.fits_memory(f"cluster_mixture(d={d}, k={k})", 3 * d * k, torch.float64, device)
    G = torch.randn(d, k, generator=gen, dtype=torch.float64)
    if means == "orthogonal":
        M = _orthonormal_columns(G).T
    else:
        M = G.T / G.norm(dim=0)[:, None]
    lab = _labels(k, labels, gen)
    return ClusterMixture(means=(math.sqrt(d) * M).to(device, dtype), labels=lab.to(device, dtype), sigma=sigma)


def _orthonormal_columns(G: Tensor) -> Tensor:
    """Q of the QR decomposition of G, computed on one thread: LAPACK's blocked QR rounds differently with
    another thread count, and the means feed every later number (the data is the same on any machine size)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return torch.linalg.qr(G)[0]
    finally:
        torch.set_num_threads(threads)


def orthonormal_mixture(
    D: int,
    K: int,
    K1: int,
    alpha: float,
    *,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> ClusterMixture:
    """Min & Vidal's mixture: centres e_1..e_K in R^D, the first K1 positive, noise std alpha/sqrt(D) per coordinate."""
    D, K, K1 = validate.positive_int("D", D), validate.positive_int("K", K), validate.positive_int("K1", K1)
    alpha = validate.nonneg_real("alpha", alpha)
    dtype, device = validate.float_dtype(dtype), validate.resolve_device(device)
    if K > D:
        raise ValueError(f"K must be <= D={D}, got {K}")
    if K1 >= K:
        raise ValueError(f"K1 must be < K={K} so that both labels are present, got {K1}")
    validate.fits_memory(f"orthonormal_mixture(D={D}, K={K})", K * D, dtype, device)
    means = torch.eye(K, D, dtype=dtype, device=device)
    lab = torch.where(torch.arange(K, device=device) < K1, 1.0, -1.0).to(dtype)
    return ClusterMixture(means=means, labels=lab, sigma=alpha / math.sqrt(D))


def sphere_data(
    n: int,
    d: int,
    *,
    seed: int | torch.Generator = 0,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
) -> Dataset:
    """Vardi et al.'s nearly orthogonal data: n points uniform on the sphere of radius sqrt(d), random labels."""
    n, d = validate.positive_int("n", n), validate.positive_int("d", d)
    dtype, device = validate.float_dtype(dtype), validate.resolve_device(device)
    gen = validate.generator(seed)
    validate.fits_memory(f"sphere_data(n={n}, d={d})", 3 * n * d, torch.float64, device)
    G = torch.randn(n, d, generator=gen, dtype=torch.float64)
    X = math.sqrt(d) * G / G.norm(dim=1, keepdim=True)
    y = torch.randint(2, (n,), generator=gen).to(torch.float64) * 2 - 1
    return Dataset(X=X.to(device, dtype), y=y.to(device, dtype))


@dataclass(frozen=True)
class MeanGeometry:
    """Norms of the cluster means relative to sqrt(d), their largest |cos|, and their smallest distance."""

    norm_over_sqrt_d_min: float
    norm_over_sqrt_d_max: float
    max_abs_cos: float
    min_distance: float


def mean_geometry(mix: ClusterMixture) -> MeanGeometry:
    """How close a mixture's means are to the orthogonal, norm-sqrt(d) ideal of Frei et al."""
    if not isinstance(mix, ClusterMixture):
        raise TypeError(f"mix must be a ClusterMixture; got {type(mix).__name__}")
    M = mix.means
    norms = M.norm(dim=1)
    cos = (M @ M.T) / (norms[:, None] * norms[None, :])
    off = (cos - torch.diag(torch.diag(cos))).abs().max()
    dist = torch.cdist(M, M) + torch.diag(torch.full((mix.k,), math.inf, dtype=M.dtype, device=M.device))
    return MeanGeometry(
        norm_over_sqrt_d_min=float(norms.min() / math.sqrt(mix.d)),
        norm_over_sqrt_d_max=float(norms.max() / math.sqrt(mix.d)),
        max_abs_cos=float(off),
        min_distance=float(dist.min()),
    )


def cosine_gram(X: Tensor) -> Tensor:
    """Cosines between every pair of points, (n, n): block structure for clusters, near identity for Vardi et al.
    X must be a finite float tensor (numpy arrays are refused) with no zero row."""
    validate.tensor("X", X, dims=2)
    validate.fits_memory(f"cosine_gram of {X.shape[0]} points", X.shape[0] ** 2, X.dtype, X.device)
    if bool((X.norm(dim=1) == 0).any()):
        raise ValueError("X must have no zero row: a zero point has no direction (its cosines would be NaN)")
    U = X / X.norm(dim=1, keepdim=True)
    return U @ U.T


def subset(data: Dataset, n: int) -> Dataset:
    """The first n points of a data set (all of them if it has fewer)."""
    n = validate.positive_int("n", n)
    return Dataset(X=data.X[:n], y=data.y[:n], cluster=None if data.cluster is None else data.cluster[:n])


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


def even_odd(
    name: str = "digits",
    *,
    test_fraction: float = 0.3,
    seed: int = 0,
    data_home: str | None = None,
    dtype: torch.dtype = torch.float64,
) -> EvenOdd:
    """Even-vs-odd digits: ``"digits"`` is scikit-learn's bundled 8x8 set (1797 images, split stratified by
    digit with ``test_fraction`` and ``seed``); ``"mnist"`` downloads MNIST (70000 28x28 images) with
    ``fetch_openml`` into ``data_home`` and keeps its standard 60000/10000 split (needs the network)."""
    validate.choice("name", name, DATASETS)
    dtype = validate.float_dtype(dtype)
    if name == "digits":
        validate.fraction("test_fraction", test_fraction, "(0, 1)")
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        raw = load_digits()
        X, digit = raw.data / 16.0, raw.target
        X_tr, X_te, d_tr, d_te = train_test_split(X, digit, test_size=test_fraction, random_state=seed, stratify=digit)
    else:
        from sklearn.datasets import fetch_openml

        raw = fetch_openml("mnist_784", version=1, as_frame=False, data_home=data_home, parser="auto")
        X, digit = raw.data / 255.0, raw.target.astype(int)
        X_tr, X_te, d_tr, d_te = X[:60000], X[60000:], digit[:60000], digit[60000:]
    as_t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64)).to(dtype)  # noqa: E731
    label = lambda d: as_t(np.where(np.asarray(d) % 2 == 0, 1.0, -1.0))  # noqa: E731
    return EvenOdd(name=name, X_train=as_t(X_tr), y_train=label(d_tr), X_test=as_t(X_te), y_test=label(d_te))
