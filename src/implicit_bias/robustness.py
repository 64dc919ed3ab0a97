"""Robust accuracy: the fraction of points that no attack flips within a radius, per attack and for all together.

Min & Vidal measure robustness with one attack (l2 PGD on the exponential loss; APGD-CE on real data); the
book runs it next to its own attacks (cluster-directed paths, the universal direction, DeepFool + minimum-norm
PGD), so that an attack which over-reports robustness is visible. Every flip is confirmed in float64 on the
score itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from torch import Tensor

from . import _validate as validate
from .attacks import apgd, exp_loss_pgd, min_norm
from .data import ClusterMixture, Dataset
from .perturbations import (
    Score,
    against_label,
    cluster_path_radius,
    flip_radius,
    line_radii,
    min_vidal_direction,
)

# Names of the attacks in RobustCurves
PGD_NAME = "PGD on exp loss (theirs)"
CLUSTER_NAME = "cluster-directed"
UNIVERSAL_NAME = "universal direction"
MIN_NORM_NAME = "DeepFool + min-norm PGD"
APGD_NAME = "APGD-CE (ART)"


def robust_accuracy(radius: Tensor | np.ndarray, eps: Sequence[float] | Tensor | np.ndarray) -> np.ndarray:
    """Fraction of points whose flip radius exceeds each eps, (G,): robust accuracy from per-point radii
    (radius 0 = misclassified, never robust; inf = never flipped)."""
    grid = validate.radii(eps, "eps", allow_zero=True).numpy()
    r = np.asarray(radius.cpu() if isinstance(radius, Tensor) else radius, dtype=np.float64)
    if r.ndim != 1 or r.size == 0:
        raise ValueError(f"radius must be a non-empty 1-D array, got shape {r.shape}")
    return (r[None, :] > grid[:, None]).mean(1)


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

    def best_radius(self) -> np.ndarray:
        """Per point, the smallest radius any radius-finding attack flipped it at, (n,) (inf: none did)."""
        if not self.radius:
            raise ValueError("these curves hold no radius-finding attack")
        return np.minimum.reduce(list(self.radius.values()))

    def curves(self) -> dict[str, np.ndarray]:
        """Every attack's robust-accuracy curve, and the curve of all attacks together last."""
        return {**{k: self.accuracy(k) for k in self.flipped}, self.ANY: self.accuracy()}


def robust_curves(
    score: Score,
    data: Dataset,
    mixture: ClusterMixture,
    eps: Sequence[float] | np.ndarray,
    *,
    pgd_iterations: int = 100,
    pgd_step: float = 0.1,
    search_radii: Sequence[float] | None = None,
    generic: bool = True,
    seed: int = 0,
) -> RobustCurves:
    """Robust-accuracy curves of one network on labelled mixture data under four attacks:
    their PGD (``exp_loss_pgd``), the cluster-directed paths, the universal direction, and (``generic``) the
    book's DeepFool + minimum-norm PGD. Line searches run on ``search_radii`` (default: 0.01 to 2 by 0.01)."""
    grid = validate.radii(eps, "eps", allow_zero=True)
    radii = line_radii(2.0, 200) if search_radii is None else search_radii
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


def digits_curves(
    score: Score,
    X: Tensor,
    y: Tensor,
    eps: Sequence[float] | np.ndarray,
    *,
    norm: str = "linf",
    max_iter: int = 50,
    bounds: tuple[float, float] | None = None,
    seed: int = 0,
) -> RobustCurves:
    """Robust-accuracy curves of a real-data network under APGD-CE (``apgd``) and the book's DeepFool +
    minimum-norm PGD (no box), in the l-infinity or l2 norm."""
    grid = validate.radii(eps, "eps", allow_zero=True)
    flipped = {APGD_NAME: apgd(score, X, y, grid, norm=norm, max_iter=max_iter, bounds=bounds, seed=seed).cpu().numpy()}
    r = min_norm(score, X, y, norm=norm, seed=seed)["best"].radius
    flipped[MIN_NORM_NAME] = (r[None] <= grid.to(r)[:, None]).cpu().numpy()
    return RobustCurves(eps=grid.numpy(), flipped=flipped, radius={MIN_NORM_NAME: r.cpu().numpy()})
