"""Every claim a chapter checks can fail: each chapter's claims (implicit_bias.checks) are fed the measurements
of a plausible mistake (a corrupted network, a wrong radius, a shifted exponent) and the claim it should break
FAILS; NaN never holds; every claim of every chapter has such a case (the completeness test)."""

from __future__ import annotations

import math
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
    experiments,
    flow,
    kkt,
    network,
    perturbations,
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


CASES = _cases()
MISTAKES = [(chapter, statement) for chapter, case in CASES.items() for statement in case.mistakes]


@pytest.mark.parametrize("chapter", CASES)
def test_claims_hold_at_good_measurements(chapter):
    case = CASES[chapter]
    assert claims.failed(case.build(**case.good)) == []


@pytest.mark.parametrize("chapter", CASES)
def test_every_claim_has_a_mistake_that_breaks_it(chapter):
    case = CASES[chapter]
    assert {c.statement for c in case.build(**case.good)} == set(case.mistakes)


@pytest.mark.parametrize(("chapter", "statement"), MISTAKES)
def test_the_mistake_fails_its_claim(chapter, statement):
    case = CASES[chapter]
    assert claims.verdicts(case.build(**case.mistakes[statement]))[statement] == "FAILS"


@pytest.mark.parametrize("chapter", CASES)
def test_nan_never_holds(chapter):
    case = CASES[chapter]
    for name, value in case.good.items():
        if isinstance(value, float):
            built = case.build(**(case.good | {name: math.nan}))
            assert claims.failed(built), f"{chapter}: {name} = nan passed every claim"


def test_the_error_bound_says_why_it_does_not_apply_outside_its_regime():
    case = CASES["generalization"]
    verdicts = claims.verdicts(case.build(**(case.good | {"d": 32, "ks": [8, 32]})))
    assert verdicts["max test error at d/k >= 16"] == "not applicable: every d/k < 16, outside the regime of the bound"
    assert verdicts["max test error over widths"].startswith("not applicable: the widths' d/k < 16")
