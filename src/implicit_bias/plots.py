"""Figures shared by the chapters: each function draws one kind of panel and returns its axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from cycler import cycler
from matplotlib.axes import Axes

from .alignment import Phases
from .flow import History
from .kkt import KKTReport

LOG10 = np.log(10.0)

# Okabe & Ito's colour-blind-safe palette (blue, orange, bluish green, vermillion, reddish purple, sky blue,
# yellow, black): no red/brown or red/green pair that a reader cannot tell apart.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

# The book's one figure style. The HTML shows a figure at the text column's width (about 7.5 in at 96 px
# per inch), so a panel of about 5 in keeps 11-pt labels above 8 pt as shown; 150 dpi keeps them sharp.
BOOK_STYLE = {
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "figure.figsize": (5.0, 3.4),
    "font.size": 11,
    "axes.titlesize": 11,
    "axes.labelsize": 11,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 9.5,
    "legend.title_fontsize": 9.5,
    "legend.framealpha": 0.85,
    "legend.loc": "best",
    "axes.prop_cycle": cycler(color=PALETTE),
    "lines.linewidth": 1.6,
}
# A legend with more entries than this goes right of its axes instead of over the curves.
MAX_LEGEND_INSIDE = 4


def use_book_style() -> None:
    """Apply the book's figure style (every chapter gets it by importing this module)."""
    mpl.rcParams.update(BOOK_STYLE)


use_book_style()


def _legend(ax: Axes, outside: bool | None = None, **kwargs) -> None:
    """The axes' legend in the book's style: inside where it covers least data, or right of the axes when
    ``outside`` (by default: when it has more than MAX_LEGEND_INSIDE entries)."""
    if outside is None:
        outside = len(ax.get_legend_handles_labels()[1]) > MAX_LEGEND_INSIDE
    if outside:
        kwargs |= {"loc": "center left", "bbox_to_anchor": (1.02, 0.5)}
    ax.legend(**kwargs)


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
        (line,) = ax.plot(
            x[keep, r], history.normalized_margin[keep, r], lw=1.5, label=r"normalized $\bar\gamma$" if r == 0 else None
        )
        ax.plot(
            x[keep, r],
            history.smoothed_margin[keep, r],
            "--",
            color=line.get_color(),
            lw=1,
            label=r"smoothed $\tilde\gamma$" if r == 0 else None,
        )
    ax.set_xlabel(r"$\log_{10}$ gradient-flow time $t$")
    ax.set_ylabel("margin / $\\|\\theta\\|^L$")
    _legend(ax, title="one colour per run")
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
    _legend(ax)
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
    _legend(ax)
    return ax


def cluster_projection(
    X: np.ndarray, y: np.ndarray, directions: np.ndarray, labels: Sequence[str], ax: Axes | None = None
) -> Axes:
    """Points projected on two unit directions (e.g. two cluster means), coloured by label."""
    ax = _axes(ax, (4.2, 4.0))
    P = X @ directions.T
    for lab, colour in ((1, "C0"), (-1, "C3")):
        sel = y == lab
        ax.scatter(P[sel, 0], P[sel, 1], s=6, alpha=0.6, color=colour, label=f"y = {lab:+d}")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    _legend(ax)
    return ax


def gram_heatmap(G: np.ndarray, title: str, ax: Axes | None = None) -> Axes:
    """A cosine Gram matrix as an image with a shared colour scale of [-1, 1]."""
    ax = _axes(ax, (3.4, 3.0))
    im = ax.imshow(G, vmin=-1, vmax=1, cmap="RdBu_r", interpolation="nearest")
    ax.set_title(title)
    ax.set_xlabel("point")
    ax.set_ylabel("point")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, label="cosine")
    return ax


def radius_histogram(
    values: np.ndarray, references: dict[str, float], xlabel: str, ax: Axes | None = None, label: str | None = None
) -> Axes:
    """Histogram of per-point radii with the theory's reference radii as labelled vertical lines."""
    ax = _axes(ax, (6.4, 3.2))
    ax.hist(values, bins=40, color="0.6", label=label)
    for i, (name, x) in enumerate(references.items()):
        ax.axvline(x, color=f"C{(3 + i) % 10}", linestyle=["-", "--", ":", "-."][i % 4], label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("test points")
    ax.set_ylim(top=1.4 * ax.get_ylim()[1])
    _legend(ax)
    return ax


def error_curve(
    x: np.ndarray,
    errors: np.ndarray,
    trials: int,
    label: str,
    ax: Axes | None = None,
    marker: str = "o",
    floor: float = 1e-4,
) -> Axes:
    """Test error against a parameter with 95% Wilson intervals over ``trials`` test predictions; zero errors
    are drawn as open markers at ``floor`` so that a log axis can show them."""
    from .experiments import wilson_interval

    ax = _axes(ax)
    lo, hi = wilson_interval(np.round(errors * trials), trials)
    shown = np.maximum(errors, floor)
    line = ax.errorbar(
        x,
        shown,
        yerr=[np.maximum(shown - lo, 0), np.maximum(hi - shown, 0)],
        fmt=marker + "-",
        ms=4,
        capsize=2,
        label=label,
    )
    zero = errors == 0
    ax.plot(np.asarray(x)[zero], shown[zero], marker, ms=8, mfc="white", color=line[0].get_color())
    ax.set_yscale("log")
    ax.set_ylim(bottom=floor / 2)
    ax.set_ylabel(f"test error (open: none seen, drawn at {floor:g})")
    return ax


def power_law(
    table, x: str, y: str, law, theory_exponent: float, xlabel: str, ylabel: str, ax: Axes | None = None
) -> Axes:
    """Measured points (one per run) on log-log axes, the fitted power law with its exponent interval, and the
    theory's exponent drawn through the same geometric mean for comparison."""
    ax = _axes(ax)
    ax.loglog(table[x], table[y], "o", ms=4, alpha=0.6, label="runs")
    grid = np.geomspace(table[x].min(), table[x].max(), 50)
    ax.loglog(grid, law(grid), "-", label=f"fit: exponent {law.exponent:.3f} [{law.low:.3f}, {law.high:.3f}]")
    anchor = np.exp(np.mean(np.log(table[y]) - theory_exponent * np.log(table[x])))
    ax.loglog(grid, anchor * grid**theory_exponent, "k--", lw=1, label=f"theory: exponent {theory_exponent:g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    return ax


def robust_accuracy_curves(
    eps: np.ndarray,
    curves: dict[str, np.ndarray],
    references: dict[str, float] | None = None,
    ax: Axes | None = None,
    styles: dict[str, dict] | None = None,
    xlabel: str = r"$\ell_2$ radius $\varepsilon$",
) -> Axes:
    """Robust accuracy (fraction of points no attack flips within eps) against eps, one line per curve, with the
    theory's radii as labelled vertical lines; ``styles`` maps a curve's label to matplotlib keywords."""
    ax = _axes(ax)
    for label, acc in curves.items():
        ax.plot(eps, acc, **({"marker": "o", "ms": 3} | (styles or {}).get(label, {})), label=label)
    for i, (name, x) in enumerate((references or {}).items()):
        ax.axvline(x, color="0.3", linestyle=["--", ":", "-."][i % 3], lw=1, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("robust accuracy")
    ax.set_ylim(-0.03, 1.03)
    _legend(ax)
    return ax


def cosine_heatmap(
    C: np.ndarray, columns: Sequence[str], title: str, ax: Axes | None = None, colorbar: bool = True
) -> Axes:
    """Cosines of neurons (rows, e.g. sorted by contribution) with reference directions (columns), on [-1, 1]."""
    ax = _axes(ax, (3.4, 4.0))
    im = ax.imshow(C, vmin=-1, vmax=1, cmap="RdBu_r", aspect="auto", interpolation="nearest")
    ax.set_xticks(range(len(columns)), columns, fontsize="small")
    ax.set_ylabel("neuron (largest contribution first)")
    ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.05, label="cosine")
    return ax


def cosine_heatmaps(Cs: dict[str, np.ndarray], columns: Sequence[str], height: float = 3.6) -> np.ndarray:
    """A row of cosine heat maps, one per title, sharing one colour bar: one figure of its own."""
    fig, axes = plt.subplots(1, len(Cs), figsize=(2.9 * len(Cs), height), squeeze=False)
    for ax, (title, C) in zip(axes[0], Cs.items()):
        cosine_heatmap(C, columns, title, ax=ax, colorbar=False)
    fig.tight_layout()
    fig.colorbar(axes[0, -1].images[0], ax=list(axes[0]), fraction=0.02, label="cosine")
    return axes[0]


def alignment_milestones(
    phases: Phases, snapshots: dict[int, np.ndarray], columns: Sequence[str], kind: str, label: str
) -> np.ndarray:
    """The neurons' cosine heat maps at the milestones of the alignment (``Phases.milestones(kind)``): the
    start, the first weighted cosine above 0.5 and above 0.95, and the end, each titled with epoch and norm."""
    epochs = {int(phases.epoch[i]): phases.norm[i] for i in phases.milestones(kind)}
    return cosine_heatmaps(
        {f"{label}, epoch {e}, ‖W‖ = {norm:.0e}": snapshots[e] for e, norm in epochs.items()}, columns
    )


def contribution_profile(contributions: dict[str, np.ndarray], ax: Axes | None = None, top: int = 60) -> Axes:
    """Neuron contributions |v_j| ||w_j|| in decreasing order, each divided by its largest, on a log axis."""
    ax = _axes(ax)
    for label, c in contributions.items():
        c = np.sort(np.asarray(c))[::-1][:top]
        ax.semilogy(np.arange(1, len(c) + 1), c / c[0], "o-", ms=2.5, lw=1, label=label)
    ax.set_xlabel("neuron rank")
    ax.set_ylabel(r"$|v_j|\,\|w_j\|$ / largest")
    ax.set_ylim(bottom=1e-6)
    _legend(ax)
    return ax


def labelled_series(
    x: np.ndarray | dict[str, np.ndarray],
    ys: dict[str, np.ndarray],
    xlabel: str,
    ylabel: str,
    ax: Axes | None = None,
    logy: bool = False,
    marker: str = "o",
    references: dict[str, float] | None = None,
) -> Axes:
    """One line per label against a shared x (or an x per label); a (T, R) value draws its mean with the
    range over the R columns as error bars. ``references`` adds the theory's values as labelled horizontal lines."""
    ax = _axes(ax)
    for i, (name, value) in enumerate((references or {}).items()):
        ax.axhline(value, color="k", linestyle=["--", ":", "-."][i % 3], lw=1, label=name)
    for label, y in ys.items():
        xs = np.asarray(x[label] if isinstance(x, dict) else x)
        y = np.asarray(y, dtype=float)
        if y.ndim == 2:
            mid = y.mean(1)
            ax.errorbar(xs, mid, yerr=[mid - y.min(1), y.max(1) - mid], fmt=marker + "-", ms=3, capsize=2, label=label)
        else:
            ax.plot(xs, y, marker + "-", ms=3, label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    return ax


def benchmark_panels(rows: list[dict], axes: Sequence[Axes]) -> Sequence[Axes]:
    """Engine against per-seed PyTorch code: steps per second by problem, and the speed-up against the runs R."""
    names = [r["name"] for r in rows if not r["name"].startswith("small-R")]
    by = {r["name"]: r for r in rows}
    x = np.arange(len(names))
    axes[0].bar(x - 0.2, [by[n]["engine_steps_per_s"] for n in names], 0.4, label="engine (all runs batched)")
    axes[0].bar(x + 0.2, [by[n]["baseline_steps_per_s"] for n in names], 0.4, label="per-seed nn.Module + SGD")
    axes[0].set_xticks(x, names, fontsize=8)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("training steps per second (all runs)")
    axes[0].legend(fontsize=8)
    sweep = sorted((r for r in rows if r["name"] == "small" or r["name"].startswith("small-R")), key=lambda r: r["R"])
    axes[1].semilogx([r["R"] for r in sweep], [r["baseline_over_engine"] for r in sweep], "o-", base=2)
    axes[1].axhline(1, color="0.5", lw=1, ls="--")
    axes[1].set_xlabel("runs R trained together (small problem)")
    axes[1].set_ylabel("baseline time / engine time")
    return axes


def radius_cdfs(
    series: dict[str, np.ndarray],
    references: dict[str, float],
    xlabel: str,
    ax: Axes | None = None,
    ylabel: str = "fraction of points flipped",
    styles: dict[str, dict] | None = None,
    legend_outside: bool = False,
) -> Axes:
    """Empirical distribution functions of per-point radii (one step curve per label; inf, never flipped, stays
    out of the curve but counts in the denominator), with the theory's radii as labelled vertical lines; the
    legend goes right of the axes with ``legend_outside``."""
    ax = _axes(ax)
    for label, values in series.items():
        values = np.sort(np.asarray(values, dtype=float))
        finite = values[np.isfinite(values)]
        frac = np.arange(1, len(finite) + 1) / len(values)
        ax.step(
            np.concatenate([[0.0], finite]),
            np.concatenate([[0.0], frac]),
            where="post",
            **({"lw": 1.5} | (styles or {}).get(label, {})),
            label=label,
        )
    for i, (name, x) in enumerate(references.items()):
        ax.axvline(x, color="k", linestyle=["--", ":", "-.", (0, (5, 1, 1, 1))][i % 4], lw=1, label=name)
    ax.set_xlim(left=0)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax, outside=True if legend_outside else None)
    return ax


def distance_brackets(
    exact: np.ndarray, others: dict[str, np.ndarray], xlabel: str, ylabel: str, ax: Axes | None = None
) -> Axes:
    """Each measurement of a point's distance (certificate, attacks, structured directions) against its exact
    distance, with the diagonal: above it an upper bound, below it a lower bound."""
    ax = _axes(ax, (4.6, 4.0))
    exact = np.asarray(exact, dtype=float)
    markers = ["v", "o", "s", "^", "D", "x"]
    for i, (label, values) in enumerate(others.items()):
        ax.plot(
            exact, np.asarray(values, dtype=float), markers[i % len(markers)], ms=4, alpha=0.7, mfc="none", label=label
        )
    top = np.nanmax([np.nanmax(exact)] + [np.nanmax(np.where(np.isfinite(v), v, np.nan)) for v in others.values()])
    ax.plot([0, 1.05 * top], [0, 1.05 * top], "k-", lw=0.8, label="exact (diagonal)")
    ax.set_xlim(0, 1.05 * top)
    ax.set_ylim(0, 1.05 * top)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    return ax


def margin_paths(
    radii: np.ndarray,
    curves: dict[str, np.ndarray],
    xlabel: str,
    ax: Axes | None = None,
    ylabel: str = r"margin $y f(x + rU)$ / $y f(x)$",
    references: dict[str, float] | None = None,
) -> Axes:
    """Relative margins along perturbation paths: for each label a (G, n) array of y f(x + r U) over radii,
    divided by each point's margin at r = 0, drawn as the median with the interquartile band; 0 is the flip.
    ``references`` adds the theory's radii as labelled vertical lines."""
    ax = _axes(ax)
    radii = np.asarray(radii, dtype=float)
    if radii.ndim != 1 or radii.size == 0 or radii[0] != 0:
        raise ValueError(
            f"radii must be a 1-D grid starting at 0 (the margins are divided by their value there), got {radii[:3]}"
        )
    for label, margins in curves.items():
        rel = np.asarray(margins, dtype=float) / np.asarray(margins, dtype=float)[:1]
        lo, mid, hi = np.quantile(rel, [0.25, 0.5, 0.75], axis=1)
        (line,) = ax.plot(radii, mid, lw=1.5, label=label)
        ax.fill_between(radii, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    ax.axhline(0, color="k", lw=0.8)
    for i, (name, x) in enumerate((references or {}).items()):
        ax.axvline(x, color="0.4", linestyle=["--", ":", "-."][i % 3], lw=1, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    return ax


def measured_vs_theory(
    x: np.ndarray,
    measured: dict[str, np.ndarray],
    theory,
    theory_label: str,
    xlabel: str,
    ylabel: str,
    ax: Axes | None = None,
    log: bool = False,
) -> Axes:
    """Measured values (markers, one series per label) against a parameter, with the theory's prediction
    ``theory(x)`` drawn as a smooth dashed line over the same range; log-log axes with ``log``."""
    ax = _axes(ax)
    x = np.asarray(x, dtype=float)
    for (label, values), marker in zip(measured.items(), ["o", "s", "^", "D", "v"]):
        ax.plot(x, np.asarray(values, dtype=float), marker + "-", ms=5, lw=1, label=label)
    grid = np.geomspace(x.min(), x.max(), 100) if log else np.linspace(x.min(), x.max(), 100)
    ax.plot(grid, theory(grid), "k--", lw=1.2, label=theory_label)
    if log:
        from matplotlib.ticker import LogFormatter

        ax.set_xscale("log")
        ax.set_yscale("log")
        for axis in (ax.xaxis, ax.yaxis):  # plain numbers (6, not 6 x 10^0), minor ticks labelled on short ranges
            axis.set_major_formatter(LogFormatter(labelOnlyBase=False))
            axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _legend(ax)
    return ax
