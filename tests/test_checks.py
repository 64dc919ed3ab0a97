"""Every claim a chapter checks can fail: each chapter's claims (implicit_bias.checks) are fed the measurements
of a plausible mistake (a corrupted network, a wrong radius, a shifted exponent) and the claim it should break
FAILS; NaN never holds; every claim of every chapter has such a case (the completeness test)."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    network,
    perturbations,
    robustness,
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
    """r50 / sqrt(d/k), the test error and the median exact distance / sqrt(d/k) (6 test points) of a width-16
    network at d = k = 16 (d/k = 1: outside the scaling regime)."""
    t = experiments.train_cluster_network(16, 16, 16, n_per_cluster=8, steps=300, n_test=300, seed=0)
    report = exact.robustness_report(t.net, t.params, t.test.X[:6], t.test.y[:6])
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


CASES = _cases() | _robustness_cases() | {"polynomial_relu": _prelu_case()}
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


def test_bracket_fails_on_an_attack_below_the_exact_distance_or_an_overstated_certificate():
    good = CASES["nonrobustness"].good
    assert checks.bracket_fraction(good["lower"], good["exact"], good["best_attack"]) == 1.0
    short = good["best_attack"].clone()
    short[0] = 0.9 * good["exact"][0]  # one attack radius inside the boundary
    assert checks.bracket_fraction(good["lower"], good["exact"], short) == pytest.approx(5 / 6)
    over = good["lower"].clone()
    over[1] = 1.1 * good["exact"][1]  # one certificate beyond the exact distance
    assert checks.bracket_fraction(over, good["exact"], good["best_attack"]) == pytest.approx(5 / 6)
    assert math.isnan(checks.bracket_fraction(good["lower"], torch.full_like(good["exact"], math.nan), short))


def test_the_exact_distance_not_computed_is_not_applicable_and_says_why():
    good = CASES["nearly_orthogonal"].good
    skipped = claims.verdicts(checks.nearly_orthogonal(**(good | {"n_exact_max": 5, "exact_over_half": math.nan})))
    assert skipped["N* median exact distance / (sqrt(d)/2), smallest n"] == (
        "not applicable: not computed: every n > n_exact_max = 5"
    )
    computed = claims.verdicts(checks.nearly_orthogonal(**(good | {"exact_over_half": math.nan})))
    assert computed["N* median exact distance / (sqrt(d)/2), smallest n"] == "FAILS"


def test_claims_about_a_degree_not_trained_do_not_apply_and_say_why():
    good = CASES["polynomial_relu"].good
    only_relu = claims.verdicts(checks.polynomial_relu(**(good | {"ps": [1], "digits_p": (1, 1)})))
    assert only_relu["p=3: single-centre alignment (min over significant neurons)"] == (
        "not applicable: p = 3 not among ps = [1]"
    )
    assert only_relu["digits: l_inf robust accuracy, p=1 minus p=1"] == "not applicable: one degree only (ps = [1])"
    assert only_relu["p=1: median flip radius / (1/sqrt(K))"] == "holds"
