"""Robust-accuracy curves: per-point radii to accuracies, several attacks together."""

import math

import numpy as np
import pytest
import torch

from implicit_bias import robustness


def test_robust_accuracy_counts_points_whose_radius_exceeds_eps():
    radius = torch.tensor([0.0, 0.5, 0.7, math.inf])
    np.testing.assert_allclose(robustness.robust_accuracy(radius, [0.0, 0.5, 0.6, 1.0]), [0.75, 0.5, 0.5, 0.25])
    curves = robustness.RobustCurves(
        eps=np.array([0.0, 1.0]),
        flipped={"a": np.array([[0, 0, 0], [1, 0, 0]], bool), "b": np.array([[0, 0, 0], [0, 1, 0]], bool)},
    )
    np.testing.assert_allclose(curves.accuracy(), [1, 1 / 3])
    np.testing.assert_allclose(curves.accuracy("a"), [1, 2 / 3])
    assert curves.at(0.9, "b") == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="name must be one of"):
        curves.accuracy("c")


def test_min_vidal_robustness_bad_inputs_name_the_parameter_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"eps must be strictly increasing"):
        robustness.robust_accuracy(torch.ones(3), [0.5, 0.1])


def test_best_radius_is_the_smallest_over_the_radius_finding_attacks():
    curves = robustness.RobustCurves(
        eps=np.array([0.0]),
        flipped={"a": np.zeros((1, 3), bool)},
        radius={"a": np.array([1.0, np.inf, 0.5]), "b": np.array([2.0, 3.0, 0.1])},
    )
    np.testing.assert_array_equal(curves.best_radius(), [1.0, 3.0, 0.1])
    with pytest.raises(ValueError, match="no radius-finding attack"):
        robustness.RobustCurves(eps=np.array([0.0]), flipped={}).best_radius()
