"""Figures shared by the chapters: each function draws one kind of panel and returns its axes."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from .flow import History
from .kkt import KKTReport

LOG10 = np.log(10.0)


def _axes(ax: Axes | None, size: tuple[float, float] = (5.0, 3.4)) -> Axes:
    return ax if ax is not None else plt.subplots(figsize=size)[1]


def log10_time(history: History) -> np.ndarray:
    """log10 of the gradient-flow time of every record, (T, R); -inf at t = 0."""
    return history.log_time / LOG10


def margins_over_time(history: History, ax: Axes | None = None) -> Axes:
    """Normalized margin (solid) and smoothed margin (dashed) of every run against log10 of gradient-flow time."""
    ax = _axes(ax)
    x = log10_time(history)
    fitted = history.min_margin > 0
    for r in range(history.loss.shape[1]):
        keep = fitted[:, r]
        line, = ax.plot(x[keep, r], history.normalized_margin[keep, r], lw=1.5,
                        label=r"normalized $\bar\gamma$" if r == 0 else None)
        ax.plot(x[keep, r], history.smoothed_margin[keep, r], "--", color=line.get_color(), lw=1,
                label=r"smoothed $\tilde\gamma$" if r == 0 else None)
    ax.set_xlabel(r"$\log_{10}$ gradient-flow time $t$")
    ax.set_ylabel("margin / $\\|\\theta\\|^L$")
    ax.legend(title="one colour per run", fontsize=8, title_fontsize=8)
    return ax


def loss_over_time(history: History, ax: Axes | None = None) -> Axes:
    """log10 of the training loss of every run against log10 of gradient-flow time."""
    ax = _axes(ax)
    ax.plot(log10_time(history), history.log_loss / LOG10, lw=1.2)
    ax.set_xlabel(r"$\log_{10}$ gradient-flow time $t$")
    ax.set_ylabel(r"$\log_{10} L(\theta(t))$")
    return ax


def kkt_over_time(log10_t: Sequence[float], reports: Sequence[KKTReport], ax: Axes | None = None) -> Axes:
    """Stationarity, |complementary slackness| and the alignment proxy along a path, on log axes."""
    ax = _axes(ax)
    series = {
        r"stationarity $\varepsilon$ (kink-aware)": [r.stationarity for r in reports],
        r"$|\delta|$ (complementary slackness)": [abs(r.complementary_slackness) for r in reports],
        r"proxy $1-\cos\angle(\theta, -\nabla L)$": [r.alignment_proxy for r in reports],
    }
    for label, values in series.items():
        ax.semilogy(log10_t, values, "o-", ms=3, label=label)
    ax.set_xlabel(r"$\log_{10}$ gradient-flow time $t$")
    ax.set_ylabel("residual")
    ax.legend(fontsize=8)
    return ax


def schedules_over_time(histories: dict[str, History], run: int = 0, ax: Axes | None = None) -> Axes:
    """The normalized margin of one run under several schedules against the gradient-flow time each covered."""
    ax = _axes(ax)
    for (name, h), style in zip(histories.items(), ["-", "o", "s"]):
        keep = h.min_margin[:, run] > 0
        x, y = log10_time(h)[keep, run], h.normalized_margin[keep, run]
        ax.plot(x, y, style, ms=3, markevery=max(1, len(x) // 40), label=name)
    ax.set_xlabel(r"$\log_{10}$ gradient-flow time $t$")
    ax.set_ylabel(r"normalized margin $\bar\gamma$")
    ax.legend(fontsize=8)
    return ax


def cluster_projection(X: np.ndarray, y: np.ndarray, directions: np.ndarray, labels: Sequence[str],
                       ax: Axes | None = None) -> Axes:
    """Points projected on two unit directions (e.g. two cluster means), coloured by label."""
    ax = _axes(ax, (4.2, 4.0))
    P = X @ directions.T
    for lab, colour in ((1, "C0"), (-1, "C3")):
        sel = y == lab
        ax.scatter(P[sel, 0], P[sel, 1], s=6, alpha=0.6, color=colour, label=f"y = {lab:+d}")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.legend(fontsize=8)
    return ax


def gram_heatmap(G: np.ndarray, title: str, ax: Axes | None = None) -> Axes:
    """A cosine Gram matrix as an image with a shared colour scale of [-1, 1]."""
    ax = _axes(ax, (3.4, 3.0))
    im = ax.imshow(G, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("point")
    ax.set_ylabel("point")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, label="cosine")
    return ax


def radius_histogram(values: np.ndarray, references: dict[str, float], xlabel: str, ax: Axes | None = None,
                     label: str | None = None) -> Axes:
    """Histogram of per-point radii with the theory's reference radii as labelled vertical lines."""
    ax = _axes(ax, (6.4, 3.2))
    ax.hist(values, bins=40, color="0.6", label=label)
    for i, (name, x) in enumerate(references.items()):
        ax.axvline(x, color=f"C{(3 + i) % 10}", linestyle=["-", "--", ":", "-."][i % 4], label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test points")
    ax.set_ylim(top=1.4 * ax.get_ylim()[1])
    ax.legend(loc="upper right", fontsize=8)
    return ax


def error_curve(x: np.ndarray, errors: np.ndarray, trials: int, label: str, ax: Axes | None = None,
                marker: str = "o", floor: float = 1e-4) -> Axes:
    """Test error against a parameter with 95% Wilson intervals over ``trials`` test predictions; zero errors
    are drawn as open markers at ``floor`` so that a log axis can show them."""
    from .experiments import wilson_interval

    ax = _axes(ax)
    lo, hi = wilson_interval(np.round(errors * trials), trials)
    shown = np.maximum(errors, floor)
    line = ax.errorbar(x, shown, yerr=[np.maximum(shown - lo, 0), np.maximum(hi - shown, 0)], fmt=marker + "-",
                       ms=4, capsize=2, label=label)
    zero = errors == 0
    ax.plot(np.asarray(x)[zero], shown[zero], marker, ms=8, mfc="white", color=line[0].get_color())
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 2)
    ax.set_ylabel(f"test error (open: none seen, drawn at {floor:g})")
    return ax
