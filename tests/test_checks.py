"""Every claim a chapter checks can fail: each chapter's claims (implicit_bias.checks) are fed the measurements
of a plausible mistake (a corrupted network, a wrong radius, a shifted exponent) and the claim it should break
FAILS; NaN never holds; every claim of every chapter has such a case (the completeness test)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch

from implicit_bias import checks, claims, data, network


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
