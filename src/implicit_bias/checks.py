"""The claims each chapter checks, as functions of what the chapter measured.

The chapters call these in their Check cell; tests/test_checks.py feeds each one plausible wrong measurements (a
corrupted network, a wrong radius, a shifted exponent) and shows every claim can fail. Each tolerance is stated
here once, with where it comes from.
"""

from __future__ import annotations

from .claims import Claim, at_most, equals, within

# E|x|^2 = (1 + sigma^2) d; the mean over n points has relative spread about sqrt(2 / (n d)) (< 0.5% at the
# chapter's sizes): 5% leaves room for small n and d without accepting a wrong variance (sigma^2 off by 10% at
# sigma = 1 moves the ratio by 5%).
SQ_NORM_REL = 0.05
# Gram-Schmidt means are orthogonal up to round-off: 1e-10 is far above float64's 1e-16 and far below the
# 1/sqrt(d) cosine of random means.
ORTHOGONAL_ATOL = 1e-10
# Homogeneity is an identity; 1e-13 is round-off of a float64 forward pass.
HOMOGENEITY_ATOL = 1e-13


def setting(
    sq_norm_ratio: float, max_abs_cos: float, min_distance_over_sqrt_2d: float, homogeneity: float
) -> list[Claim]:
    """The data model's geometry and the networks' homogeneity (chapter setting)."""
    return [
        Claim("mean |x|^2 / ((1 + sigma^2) d)", sq_norm_ratio, within(1.0, SQ_NORM_REL)),
        Claim("max |cos| between means", max_abs_cos, at_most(ORTHOGONAL_ATOL, "<= 1e-10 (orthogonal)")),
        Claim("closest means / sqrt(2d)", min_distance_over_sqrt_2d, equals(1.0, ORTHOGONAL_ATOL)),
        Claim("worst homogeneity error", homogeneity, at_most(HOMOGENEITY_ATOL)),
    ]
