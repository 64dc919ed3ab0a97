"""Certified radii: each is a radius within which no perturbation changes the sign, exact for a linear piece."""

import math

import pytest
import torch

from implicit_bias.certificates import certified_radius, lipschitz_bound, relu_layers
from implicit_bias.network import TwoLayerNet


def _one_neuron_net():
    """f(x) = relu(x_1) - relu(-x_1) = x_1 on R^2, as two neurons without bias."""
    net = TwoLayerNet(d=2, m=2, bias=False)
    W = torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]], dtype=torch.float64)
    return net, {"W": W, "v": torch.tensor([[1.0, -1.0]], dtype=torch.float64)}


def test_both_certificates_are_the_distance_to_the_hyperplane_of_a_linear_function():
    net, params = _one_neuron_net()
    X = torch.tensor([[0.5, 3.0], [-2.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(certified_radius(net, params, X, y), torch.tensor([0.5, 2.0], dtype=torch.float64))
    # The Lipschitz constant sum |v_j| ||w_j|| = 2 is twice the true slope: half the distance.
    torch.testing.assert_close(lipschitz_bound(net, params, X, y), torch.tensor([0.25, 1.0], dtype=torch.float64))
    assert certified_radius(net, params, X, -y).tolist() == [0.0, 0.0]  # misclassified: nothing certified


def test_relu_layers_refuse_prelu_networks():
    net = TwoLayerNet(d=2, m=2, bias=False, activation="prelu", p=3.0)
    with pytest.raises(ValueError, match=r"net must be a ReLU TwoLayerNet"):
        relu_layers(net, net.init(runs=1, seed=0), 0)
    assert math.isfinite(
        float(
            certified_radius(
                net, net.init(runs=1, seed=0), torch.ones(1, 2, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
            )
        )
    )
