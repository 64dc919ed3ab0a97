"""Every claim a chapter checks can fail: each chapter's claims (implicit_bias.checks) are fed the measurements
of a plausible mistake (a corrupted network, a wrong radius, a shifted exponent) and the claim it should break
FAILS; NaN never holds; every claim of every chapter has such a case (the completeness test)."""

from __future__ import annotations

import csv
import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from implicit_bias import (
    alignment,
    checks,
    claims,
    constructions,
    data,
    exact,
    experiments,
    flow,
    kkt,
    network,
    perturbations,
    robustness,
    scaling,
    trajectories,
)


@dataclass(frozen=True)
class Case:
    """A chapter's claims, the measurements at its defaults, and per claim the measurements of a mistake."""

    build: Callable[..., list[claims.Claim]]
    good: dict[str, Any]
    mistakes: dict[str, dict[str, Any]] = field(default_factory=dict)


def _setting_good(sigma: float = 1.0, assumed_sigma: float = 1.0, means: str = "orthogonal") -> dict[str, Any]:
    """The setting chapter's measurements at small size; a wrong assumed sigma or Gaussian means are mistakes."""
    d, k = 200, 8
    mix = data.cluster_mixture(d, k, sigma, means=means, seed=0)
    X = mix.sample(400, seed=1, balanced=True).X
    geo = data.mean_geometry(mix)
    net = network.TwoLayerNet(d=d, m=16)
    return {
        "sq_norm_ratio": (X.pow(2).sum(1) / ((1 + assumed_sigma**2) * d)).mean().item(),
        "max_abs_cos": geo.max_abs_cos,
        "min_distance_over_sqrt_2d": geo.min_distance / math.sqrt(2 * d),
        "homogeneity": network.homogeneity_error(net, net.init(runs=1, scale=0.1, seed=0), X, c=3.0),
    }


def _softplus_homogeneity() -> float:
    """Homogeneity error of a network whose ReLU was replaced by softplus (not homogeneous): a corrupted model."""
    net = network.TwoLayerNet(d=20, m=8)
    params = net.init(runs=1, scale=1.0, seed=0)
    X = torch.randn(50, 20, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def soft(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.nn.functional.softplus(X @ p["W"][0].T + p["b"][0]) @ p["v"][0]

    scaled = soft({key: 3 * t for key, t in params.items()})
    return ((scaled - 9 * soft(params)).abs().max() / scaled.abs().max()).item()


# ----- implicit_bias, mechanism, generalization, scaling: measured at small size, or read from the sweeps -----

ROOT = Path(__file__).resolve().parents[1]


def _smallest_step(h: Any, name: str) -> float:
    """Smallest relative step of a recorded margin over the records after the data is fitted (run 0)."""
    s = getattr(h, name)[h.min_margin[:, 0] > 0, 0]
    return float((np.diff(s) / np.abs(s[1:])).min())


def _implicit_bias_case() -> Case:
    """The chapter's measurements on a small problem; a kink-unaware or premature KKT diagnostic, a corrupted
    output layer, the normalized margin in place of the smoothed one and a 4x larger Euler step are mistakes."""
    mix = data.cluster_mixture(40, 4, seed=0)
    train = mix.sample(16, seed=1, balanced=True)
    net = network.TwoLayerNet(d=40, m=8)
    theta0 = net.init(runs=1, scale=1e-3, seed=0)

    def run(steps: int, **kw: Any) -> flow.FlowResult:
        return flow.gradient_flow(net, theta0, train.X, train.y, steps=steps, progress=False, **kw)

    done, early, fitting = run(1000, record_every=25), run(100), run(3)
    fine = run(2000, lr=0.01, max_rel_step=0.003, record_every=1)
    euler = {lr: run(int(40 / lr), schedule="constant", lr=lr, record_every=4) for lr in (0.1, 0.4)}
    report = kkt.kkt_residuals(net, done.params, train.X, train.y, tau=1e-3)
    noisy = done.params | {"v": done.params["v"] * 1.01}
    good = {
        "train_accuracy": float(done.history.train_acc[-1].min()),
        "stationarity": report.stationarity,
        "complementary_slackness": abs(report.complementary_slackness),
        "balancedness": report.balancedness,
        "smoothed_margin_step": _smallest_step(done.history, "smoothed_margin"),
        "schedule_gap": trajectories.matched_gap(euler[0.1].history, fine.history, since=10.0),
    }
    premature = kkt.kkt_residuals(net, early.params, train.X, train.y, tau=1e-3)
    return Case(
        checks.implicit_bias,
        good,
        {
            "min train accuracy": good | {"train_accuracy": float(fitting.history.train_acc[-1].min())},
            "max stationarity eps (kink-aware)": good
            | {"stationarity": kkt.kkt_residuals(net, done.params, train.X, train.y, tau=0.0).stationarity},
            "max |complementary slackness|": good | {"complementary_slackness": abs(premature.complementary_slackness)},
            "max balancedness": good
            | {"balancedness": kkt.kkt_residuals(net, noisy, train.X, train.y, tau=1e-3).balancedness},
            "smallest relative step of smoothed margin": good
            | {"smoothed_margin_step": _smallest_step(done.history, "normalized_margin")},
            "schedule gap at equal t": good
            | {"schedule_gap": trajectories.matched_gap(euler[0.4].history, fine.history, since=10.0)},
        },
    )


def _rate_ratio(score: Any, mix: data.ClusterMixture, test: data.Dataset) -> float:
    """Median ratio of the margin's rates along the universal direction and away from the own mean."""
    universal = perturbations.against_label(perturbations.frei_direction(mix), test.y)
    away = perturbations.own_mean_direction(mix, test.cluster)
    rates = [perturbations.directional_derivative(score, test.X, test.y, U) for U in (universal, away)]
    return (rates[0] / rates[1]).median().item()


def _mechanism_case() -> Case:
    """The chapter's measurements on a small network (d = 200, k = 8); a network with negated output weights, N*
    in place of the trained network, the network pruned to its largest neuron and N* on Gaussian means are
    mistakes."""
    k, n_per_cluster = 8, 8
    t = experiments.train_cluster_network(200, k, 32, n_per_cluster=n_per_cluster, steps=500, n_test=200, seed=0)
    mix, robust = t.mixture, constructions.frei_network(t.mixture)
    top = alignment.contributions(t.net, t.params)[1][:1]
    pruned = {key: value[:, top] for key, value in t.params.items()}
    gaussian = data.cluster_mixture(200, k, means="gaussian", seed=0)
    good = {
        "test_error": float(t.test_error()[0]),
        "own_class_cosine": float(alignment.own_class_cosines(t.net, t.params, mix).median()),
        "neurons_that_matter": len(alignment.own_class_cosines(t.net, t.params, mix)),
        "rate_ratio": _rate_ratio(perturbations.net_score(t.net, t.params), mix, t.test),
        "rate_ratio_robust": _rate_ratio(perturbations.net_score(*robust), mix, t.test),
        "k": k,
        "n_per_cluster": n_per_cluster,
    }
    negated = t.params | {"v": -t.params["v"]}
    return Case(
        checks.mechanism,
        good,
        {
            "test error": good | {"test_error": float(experiments.test_error(t.net, negated, t.test)[0])},
            "median cos(neuron, own class sum), neurons that matter": good
            | {"own_class_cosine": float(alignment.own_class_cosines(*robust, mix).median())},
            "neurons that matter": good
            | {"neurons_that_matter": len(alignment.own_class_cosines(network.TwoLayerNet(d=200, m=1), pruned, mix))},
            "trained: rate ratio universal / own mean": good | {"rate_ratio": good["rate_ratio_robust"]},
            "N*: rate ratio universal / own mean": good
            | {
                "rate_ratio_robust": _rate_ratio(
                    perturbations.net_score(*constructions.frei_network(gaussian)),
                    gaussian,
                    gaussian.sample(200, seed=2),
                )
            },
        },
    )


def _trained(d: int, k: int, m: int = 16, steps: int = 500) -> tuple[float, float]:
    """Test error (1000 points) and train accuracy of a network trained at (d, k, m)."""
    t = experiments.train_cluster_network(d, k, m, steps=steps, n_test=1000, seed=0)
    return float(t.test_error()[0]), float(t.result.history.train_acc[-1].min())


def _generalization_case() -> Case:
    """The chapter's measurements at d = 100 (d/k = 25 and 4; widths 8 and 32 at d/k = 25); under-trained
    networks (5 steps) and a grid outside the regime (d = 32, d/k = 4 and 1) are mistakes."""
    by_k = np.array([_trained(100, k) for k in (4, 25)])  # columns: error, train accuracy
    by_m = np.array([_trained(100, 4, m) for m in (8, 32)])
    under = np.array([_trained(100, k, steps=5) for k in (4, 25)])
    good = {
        "train_accuracy": float(min(by_k[:, 1].min(), by_m[:, 1].min())),
        "d": 100,
        "ks": [4, 25],
        "errors": by_k[:, 0],
        "k_for_widths": 4,
        "width_errors": by_m[:, 0],
        "test_points": 1000,
    }
    return Case(
        checks.generalization,
        good,
        {
            "min train accuracy (all configurations)": good | {"train_accuracy": float(under[:, 1].min())},
            "max test error at d/k >= 16": good | {"errors": under[:, 0]},
            "max test error over widths": good | {"width_errors": under[:, 0]},
            "error at smallest d/k over error at largest": good
            | {"d": 32, "ks": [8, 32], "errors": np.array([_trained(32, k)[0] for k in (8, 32)])},
        },
    )


def _interval(table: pd.DataFrame, x: str) -> tuple[float, float]:
    """The 95% bootstrap interval over seeds of the exponent of r50 in ``x``, as the chapter fits it."""
    law = scaling.fit_power_law(table, x, "r50", boot=500)
    return law.low, law.high


def _outside(d_and_size: list[tuple[int, int]], sphere: bool) -> pd.DataFrame:
    """r50 of small networks at (d, k) on clusters or (d, n) on the sphere, seeds 0 and 1: outside the regime."""
    rows = []
    for d, size in d_and_size:
        for seed in (0, 1):
            if sphere:
                r50 = experiments.vardi_flip_profile(
                    experiments.train_sphere_network(size, d, 32, steps=300, seed=seed)
                ).r50
            else:
                t = experiments.train_cluster_network(d, size, 16, steps=300, n_test=400, seed=seed)
                r50 = experiments.universal_flip_profile(t).r50
            rows.append({"ratio": d / size, "seed": seed, "r50": r50})
    return pd.DataFrame(rows)


def _robust_gain(prelu: pd.DataFrame, column: str) -> float:
    """Robust accuracy in ``column``, p = 3 minus p = 1, each the mean over seeds."""
    mean = prelu.groupby("p")[column].mean()
    return float(mean.loc[3] - mean.loc[1])


def _scaling_measurements(
    frei: pd.DataFrame, width: pd.DataFrame, vardi: pd.DataFrame, prelu: pd.DataFrame
) -> dict[str, Any]:
    """The scaling chapter's measurements from sweep tables (width: every run; the chapter sets unfit ones aside)."""
    fitted = width[width.train_accuracy == 1]
    relu, high = prelu[prelu.p == 1].median_radius_times_sqrt_K, prelu[prelu.p >= 3].median_radius_over_sqrt2_half
    return {
        "frei_interval": _interval(frei.assign(ratio=frei.d / frei.k), "ratio"),
        "width_interval": _interval(fitted, "m"),
        "vardi_interval": _interval(vardi.assign(ratio=vardi.d / vardi.n), "ratio"),
        "width_test_error": float(fitted.test_error.max()),
        "unfit_wide_runs": int(((width.train_accuracy < 1) & (width.m >= 16)).sum()),
        "robust_gain": _robust_gain(prelu, "robust_0.5"),
        "relu_radius": (relu.min(), relu.max()),
        "prelu_radius": (high.min(), high.max()),
    }


def _scaling_case() -> Case:
    """The committed sweeps; sweeps outside the regime (d/k and d/n from 1 to 4, computed here), an exponent shifted
    by 0.05, the unfit run kept, unfit runs counted at every width, the wrong radius and p = 2 are mistakes."""
    tables = {name: scaling.load_table(name, str(ROOT)) for name in ("frei_dk", "frei_width", "vardi_dn", "minvidal_p")}
    frei, width, vardi, prelu = tables.values()
    good = _scaling_measurements(frei, width, vardi, prelu)
    p2 = prelu[prelu.p == 2]
    return Case(
        checks.scaling,
        good,
        {
            "Frei exponent in d/k (theory 1/2)": good
            | {"frei_interval": _interval(_outside([(16, 16), (32, 16), (64, 16)], sphere=False), "ratio")},
            "exponent of r50 in the width (theory 0)": good
            | {
                "width_interval": _interval(width.assign(r50=width.r50 * width.m**0.05)[width.train_accuracy == 1], "m")
            },
            "Vardi exponent in d/n (theory 1/2)": good
            | {"vardi_interval": _interval(_outside([(40, 40), (40, 20), (40, 10)], sphere=True), "ratio")},
            "max test error over widths (fitted runs)": good | {"width_test_error": float(width.test_error.max())},
            "runs that did not fit, at widths >= 16": good | {"unfit_wide_runs": int((width.train_accuracy < 1).sum())},
            "pReLU: robust accuracy at 0.5, p=3 minus p=1": good | {"robust_gain": _robust_gain(prelu, "robust_0.25")},
            "pReLU p=1: median radius * sqrt(K), seeds": good
            | {"relu_radius": (p2.median_radius_times_sqrt_K.min(), p2.median_radius_times_sqrt_K.max())},
            "pReLU p>=3: median radius / (sqrt(2)/2), seeds": good
            | {"prelu_radius": (p2.median_radius_over_sqrt2_half.min(), p2.median_radius_over_sqrt2_half.max())},
        },
    )


def _cases() -> dict[str, Case]:
    """One Case per chapter with a Check cell."""
    good = _setting_good()
    gaussian = _setting_good(means="gaussian")
    return {
        "setting": Case(
            checks.setting,
            good,
            {
                "mean |x|^2 / ((1 + sigma^2) d)": good | {"sq_norm_ratio": _setting_good(0.5)["sq_norm_ratio"]},
                "max |cos| between means": good | {"max_abs_cos": gaussian["max_abs_cos"]},
                "closest means / sqrt(2d)": good | {"min_distance_over_sqrt_2d": gaussian["min_distance_over_sqrt_2d"]},
                "worst homogeneity error": good | {"homogeneity": _softplus_homogeneity()},
            },
        ),
        "implicit_bias": _implicit_bias_case(),
        "mechanism": _mechanism_case(),
        "generalization": _generalization_case(),
        "scaling": _scaling_case(),
    }


# Chapters nearly_orthogonal, nonrobustness, robust_networks and polynomial_relu. ------------------------------


def _vardi_r50(d: int, n: int) -> float:
    """r50 / sqrt(d/n) along z-hat of a small network trained on n sphere points in R^d."""
    t = experiments.train_sphere_network(n, d, 32, steps=300, seed=0)
    return experiments.vardi_flip_profile(t).r50 / math.sqrt(d / n)


def _nearly_orthogonal_good() -> dict[str, Any]:
    """The nearly_orthogonal chapter's measurements at d = 200, n = 10, 20 (d/n >= 10: the regime)."""
    d, ns = 200, [10, 20]
    runs = {n: experiments.vardi_robustness(n, d, 32, steps=300, seed=0) for n in ns}
    report = exact.robustness_report(*runs[10].robust, runs[10].trained.train.X, runs[10].trained.train.y)
    half = math.sqrt(d) / 2
    return {
        "d": d,
        "ns": ns,
        "r50_over_scale": [runs[n].along_z.r50 / math.sqrt(d / n) for n in ns],
        "fit_acc": min(float(runs[n].trained.result.history.train_acc[-1].min()) for n in ns),
        "certified_over_half": [float(runs[n].certified.median()) / half for n in ns],
        "robust_attacked": torch.cat([runs[n].robust_attacked for n in ns]),
        "certified": torch.cat([runs[n].certified for n in ns]),
        "exact_over_half": float(report.exact.nanmedian()) / half,
        "n_exact_max": 16,
        "exact_lower_over_half": float(report.lower.median()) / half,
    }


def _undertrained_accuracy() -> float:
    """Training accuracy of a network stopped after one step of gradient flow: it has not fitted the labels."""
    t = experiments.train_sphere_network(40, 200, 32, steps=1, seed=0)
    return float(t.result.history.train_acc[-1].min())


def _frei_good() -> dict[str, Any]:
    """The nonrobustness chapter's measurements at d = 100, k = 4 (d/k = 25), with the exact bracket of a width-16
    network on 6 test points."""
    t = experiments.train_cluster_network(100, 4, 32, n_per_cluster=8, steps=1000, n_test=200, seed=0)
    small = experiments.train_cluster_network(100, 4, 16, n_per_cluster=8, steps=1000, n_test=6, seed=0)
    report = exact.robustness_report(small.net, small.params, small.test.X, small.test.y)
    return {
        "r50_over_scale": [experiments.universal_flip_profile(t).r50 / experiments.sqrt_d_over_k(100, 4)],
        "fit_acc": float(t.result.history.train_acc[-1].min()),
        "test_error": float(t.test_error().max()),
        "lower": report.lower,
        "exact": report.exact,
        "best_attack": report.upper["best"],
        "exact_over_scale": float(report.exact.nanmedian()) / experiments.sqrt_d_over_k(100, 4),
    }


def _frei_out_of_regime() -> dict[str, float]:
    """r50 / sqrt(d/k), the test error and the median exact distance / sqrt(d/k) (6 test points, their own draw as
    in ``_frei_good``: the first 6 of the 300 took 28 s to solve) of a width-16 network at d = k = 16 (d/k = 1:
    outside the scaling regime)."""
    t = experiments.train_cluster_network(16, 16, 16, n_per_cluster=8, steps=300, n_test=300, seed=0)
    small = experiments.train_cluster_network(16, 16, 16, n_per_cluster=8, steps=300, n_test=6, seed=0)
    report = exact.robustness_report(small.net, small.params, small.test.X, small.test.y)
    scale = experiments.sqrt_d_over_k(16, 16)
    return {
        "r50_over_scale": [experiments.universal_flip_profile(t).r50 / scale],
        "test_error": float(t.test_error().max()),
        "exact_over_scale": float(report.exact.nanmedian()) / scale,
    }


def _robust_good() -> dict[str, Any]:
    """The robust_networks chapter's measurements at d = 400, k = 16 (100 test points), with N*'s exact bracket
    taken on the k = 4 mixture (width 4: fast to solve); also the certificate-based gap, a mistake."""
    d, k = 400, 16
    fr = experiments.frei_robustness(d, k, 16, steps=300, n_test=100, n_attack=100, seed=0)
    mix, test = fr.trained.mixture, fr.trained.test
    reach = perturbations.line_radii(2 * math.sqrt(d), 200, like=test.X)
    sub = data.Dataset(test.X[:20], test.y[:20], test.cluster[:20])
    nearest = perturbations.cluster_path_radius(constructions.nearest_mean(mix), sub, mix, reach)
    small = data.cluster_mixture(100, 4, 1.0, seed=0)
    pts = small.sample(6, seed=1)
    report = exact.robustness_report(*constructions.frei_network(small), pts.X, pts.y)
    theory = experiments.construction_over_flip_scale(k)
    return {
        "d": d,
        "k": k,
        "error": fr.error,
        "certified": fr.certified,
        "attacked": fr.attacked["best"].radius,
        "report_bounds": (report.lower, report.exact, report.upper["best"]),
        "gap_over_theory": [float(fr.attacked["best"].radius.median()) / fr.universal.r50 / theory],
        "nearest_over_optimum": float(nearest.median()) / math.sqrt(d / 2),
        "cert_gap_over_theory": [float(fr.certified.median()) / fr.universal.r50 / theory],
        "nearest_over_sqrt_d": float(nearest.median()) / math.sqrt(d),
        "wrong_means_error": experiments.score_error(
            perturbations.net_score(*constructions.frei_network(data.cluster_mixture(d, k, 1.0, seed=1))), test
        ),
    }


def _robustness_cases() -> dict[str, Case]:
    """The Cases of nearly_orthogonal, nonrobustness and robust_networks (pieces only the mistakes use are
    split off the measurements first)."""
    no = _nearly_orthogonal_good()
    no_lower = no.pop("exact_lower_over_half")
    fr = _frei_good()
    fr_out = _frei_out_of_regime()
    rn = _robust_good()
    rn_extra = {key: rn.pop(key) for key in ("cert_gap_over_theory", "nearest_over_sqrt_d", "wrong_means_error")}
    return {
        "nearly_orthogonal": Case(
            checks.nearly_orthogonal,
            no,
            {
                # d/n = 1: the points are no longer nearly orthogonal
                "r50 / sqrt(d/n), every n (min, max)": no | {"r50_over_scale": [_vardi_r50(200, 200)]},
                "min train accuracy": no | {"fit_acc": _undertrained_accuracy()},
                # N*'s certificate with the Lipschitz constant 1/sqrt(d) instead of 2/sqrt(d): twice too large
                "N* median certified radius / (sqrt(d)/2), every n (min, max)": no
                | {"certified_over_half": [2 * c for c in no["certified_over_half"]]},
                "min attack / certificate on N*": no | {"certified": 2 * no["certified"]},
                # an exact solver that returned the certificate
                "N* median exact distance / (sqrt(d)/2), smallest n": no | {"exact_over_half": no_lower},
            },
        ),
        "nonrobustness": Case(
            checks.nonrobustness,
            fr,
            {
                # d/k = 1: outside the scaling regime
                "r50 / sqrt(d/k), every configuration (min, max)": fr | {"r50_over_scale": fr_out["r50_over_scale"]},
                "min train accuracy (all configurations)": fr | {"fit_acc": _undertrained_accuracy()},
                "max test error (all configurations)": fr | {"test_error": fr_out["test_error"]},
                # a solver that gave up on every point
                "fraction of points solved exactly": fr | {"exact": torch.full_like(fr["exact"], math.nan)},
                # an attack radius 5% short of the boundary (the last unflipped step reported as the flip)
                "certificate <= exact <= best attack (fraction of solved points)": fr
                | {"best_attack": 0.95 * fr["best_attack"]},
                # d/k = 1: half the test points are misclassified (exact distance 0)
                "median exact / sqrt(d/k)": fr | {"exact_over_scale": fr_out["exact_over_scale"]},
            },
        ),
        "robust_networks": Case(
            checks.robust_networks,
            rn,
            {
                # N* built on another mixture's means
                "N* test error": rn | {"error": rn_extra["wrong_means_error"]},
                "median certified radius / (sqrt(d)/2)": rn | {"certified": 2 * rn["certified"]},
                "min attack / certificate on N*": rn | {"certified": 2 * rn["certified"]},
                # an overstated certificate: the Lipschitz constant halved
                "certificate <= exact <= best attack on N* (fraction of solved points)": rn
                | {"report_bounds": (2 * rn["report_bounds"][0], *rn["report_bounds"][1:])},
                # the gap measured with the certificate (a lower bound) instead of the attack
                "max |gap / (sqrt(k)/2) - 1| at k >= 16": rn | {"gap_over_theory": rn_extra["cert_gap_over_theory"]},
                # the nearest mean's radius in units of sqrt(d) instead of sqrt(d/2)
                "nearest mean, cluster paths / sqrt(d/2)": rn
                | {"nearest_over_optimum": rn_extra["nearest_over_sqrt_d"]},
            },
        ),
    }


def _sweep_row(sweep: str, **where: float) -> dict[str, str]:
    """The first row of a committed sweep table matching ``where`` (its measured values, never typed numbers)."""
    with open(Path(__file__).parents[1] / "sweeps" / "results" / sweep / "table.csv", newline="") as f:
        return next(r for r in csv.DictReader(f) if all(float(r[key]) == value for key, value in where.items()))


def _idealized_prelu(p: float) -> tuple[float, float, float]:
    """Min & Vidal's idealized F (p = 1) or F^(p): class-sum and single-centre alignment, and their PGD's robust
    accuracy minus every attack's at radius 0.8 on 20 points (K = 10, K1 = 6, D = 100, alpha = 0.01)."""
    mix = data.orthonormal_mixture(100, 10, 6, 0.01)
    net = constructions.idealized(mix, p)
    summary = alignment.summarize(*net, mix)
    curves = robustness.robust_curves(
        perturbations.net_score(*net), mix.sample(20, seed=4), mix, [0.0, 0.8], pgd_iterations=50, pgd_step=0.1
    )
    return summary.class_sum_min, summary.centre_min, curves.at(0.8, robustness.PGD_NAME) - curves.at(0.8)


def _digits_gain() -> tuple[float, int]:
    """l_inf robust accuracy at 0.1 of a small p = 3 network minus a p = 1 one on the 8x8 digits, and the number
    of test digits it is measured on."""
    digits = data.even_odd("digits", seed=0)
    rob = {
        p: experiments.digits_report(
            p, digits, linf_eps=[0.1], l2_eps=[0.0], apgd_iterations=5, width=16, epochs=3, lr=1e-3, init_scale=1e-2
        ).linf.at(0.1)
        for p in (1, 3)
    }
    return rob[3] - rob[1], digits.X_test.shape[0]


def _prelu_case() -> Case:
    """The polynomial_relu chapter's claims: radii and train accuracy from the committed minvidal_p sweep (K = 10),
    alignments and PGD's over-report from the idealized classifiers, the digits gain from small networks."""
    relu, quadratic, cubic = (_sweep_row("minvidal_p", p=p, seed=0) for p in (1, 2, 3))
    F_sum, F_centre, F_over = _idealized_prelu(1)
    F3_sum, F3_centre, F3_over = _idealized_prelu(3)
    gain, n_digits = _digits_gain()
    good = {
        "ps": [1, 2, 3, 4],
        "K": int(relu["K"]),
        "relu_radius": float(relu["median_radius"]),
        "relu_class_sum": F_sum,
        "prelu_radius": float(cubic["median_radius"]),
        "prelu_centre": F3_centre,
        "pgd_over_report": F3_over,
        "train_acc": min(float(r["train_accuracy"]) for r in (relu, quadratic, cubic)),
        "digits_p": (1, 3),
        "digits_gain": gain,
        "n_digits": n_digits,
    }
    # a run whose width-4 network collapsed to one class (committed frei_width record)
    collapsed = float(_sweep_row("frei_width", m=4, seed=2)["train_accuracy"])
    return Case(
        checks.polynomial_relu,
        good,
        {
            # the p = 2 network's radius for the ReLU's: not the 1/sqrt(K) scale
            "p=1: median flip radius / (1/sqrt(K))": good | {"relu_radius": float(quadratic["median_radius"])},
            # a ReLU network that had found F^(3)'s single-centre neurons
            "p=1: class-sum alignment (min over significant neurons)": good | {"relu_class_sum": F3_sum},
            "p=3: median cluster-directed radius / (sqrt(2)/2)": good
            | {"prelu_radius": float(quadratic["median_radius"])},
            # a p = 3 network that had found F's class-sum neurons
            "p=3: single-centre alignment (min over significant neurons)": good | {"prelu_centre": F_centre},
            # PGD on the ReLU's F, where it does not over-report
            "p=3: their PGD minus every attack, robust accuracy at 0.8": good | {"pgd_over_report": F_over},
            "min train accuracy over p and alpha": good | {"train_acc": collapsed},
            # the ReLU compared with itself
            "digits: l_inf robust accuracy, p=3 minus p=1": good | {"digits_gain": 0.0},
        },
    )


# Every chapter with a Check cell; the measurements are made once, when a test first asks (not at collection, which
# each parallel test process repeats).
CHAPTERS = (
    "setting",
    "implicit_bias",
    "mechanism",
    "generalization",
    "scaling",
    "nearly_orthogonal",
    "nonrobustness",
    "robust_networks",
    "polynomial_relu",
)


@functools.cache
def cases() -> dict[str, Case]:
    """Each chapter's Case, built once per test process."""
    return _cases() | _robustness_cases() | {"polynomial_relu": _prelu_case()}


@pytest.mark.first  # builds every case (cases() is cached): most of this file's time
def test_every_chapter_that_checks_claims_has_a_case():
    checking = {
        md.stem for md in (ROOT / "chapters").glob("*.md") if re.search(r"book\.check\(\s*checks\.", md.read_text())
    }
    assert checking == set(CHAPTERS) == set(cases())


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_claims_hold_at_good_measurements(chapter):
    case = cases()[chapter]
    assert claims.failed(case.build(**case.good)) == []


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_claim_has_a_mistake_that_breaks_it(chapter):
    case = cases()[chapter]
    assert {c.statement for c in case.build(**case.good)} == set(case.mistakes)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_mistake_fails_its_claim(chapter):
    case = cases()[chapter]
    survived = {
        statement: verdict
        for statement, mistake in case.mistakes.items()
        if (verdict := claims.verdicts(case.build(**mistake))[statement]) != "FAILS"
    }
    assert not survived, f"{chapter}: these claims did not fail on their mistakes: {survived}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nan_never_holds(chapter):
    case = cases()[chapter]
    for name, value in case.good.items():
        if isinstance(value, float):
            built = case.build(**(case.good | {name: math.nan}))
            assert claims.failed(built), f"{chapter}: {name} = nan passed every claim"


def test_bracket_fails_on_an_attack_below_the_exact_distance_or_an_overstated_certificate():
    good = cases()["nonrobustness"].good
    assert checks.bracket_fraction(good["lower"], good["exact"], good["best_attack"]) == 1.0
    short = good["best_attack"].clone()
    short[0] = 0.9 * good["exact"][0]  # one attack radius inside the boundary
    assert checks.bracket_fraction(good["lower"], good["exact"], short) == pytest.approx(5 / 6)
    over = good["lower"].clone()
    over[1] = 1.1 * good["exact"][1]  # one certificate beyond the exact distance
    assert checks.bracket_fraction(over, good["exact"], good["best_attack"]) == pytest.approx(5 / 6)
    assert math.isnan(checks.bracket_fraction(good["lower"], torch.full_like(good["exact"], math.nan), short))


def test_the_exact_distance_not_computed_is_not_applicable_and_says_why():
    good = cases()["nearly_orthogonal"].good
    skipped = claims.verdicts(checks.nearly_orthogonal(**(good | {"n_exact_max": 5, "exact_over_half": math.nan})))
    assert skipped["N* median exact distance / (sqrt(d)/2), smallest n"] == (
        "not applicable: not computed: every n > n_exact_max = 5"
    )
    computed = claims.verdicts(checks.nearly_orthogonal(**(good | {"exact_over_half": math.nan})))
    assert computed["N* median exact distance / (sqrt(d)/2), smallest n"] == "FAILS"


def test_claims_about_a_degree_not_trained_do_not_apply_and_say_why():
    good = cases()["polynomial_relu"].good
    only_relu = claims.verdicts(checks.polynomial_relu(**(good | {"ps": [1], "digits_p": (1, 1)})))
    assert only_relu["p=3: single-centre alignment (min over significant neurons)"] == (
        "not applicable: p = 3 not among ps = [1]"
    )
    assert only_relu["digits: l_inf robust accuracy, p=1 minus p=1"] == "not applicable: one degree only (ps = [1])"
    assert only_relu["p=1: median flip radius / (1/sqrt(K))"] == "holds"


def test_the_error_bound_says_why_it_does_not_apply_outside_its_regime():
    case = cases()["generalization"]
    verdicts = claims.verdicts(case.build(**(case.good | {"d": 32, "ks": [8, 32]})))
    assert verdicts["max test error at d/k >= 16"] == "not applicable: every d/k < 16, outside the regime of the bound"
    assert verdicts["max test error over widths"].startswith("not applicable: the widths' d/k < 16")
