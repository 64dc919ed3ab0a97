"""Neuron alignment: cosines with the cluster means and class sums, and sorted neuron contributions."""

import math

import pytest
import torch

from implicit_bias import alignment, constructions
from implicit_bias.alignment import contributions, neuron_cosines, reference_directions
from implicit_bias.constructions import frei_network
from implicit_bias.data import cluster_mixture, orthonormal_mixture
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet


def test_frei_construction_neurons_are_the_cluster_means():
    mix = cluster_mixture(40, 6, seed=0)
    refs = reference_directions(mix)
    assert refs.shape == (8, 40)
    torch.testing.assert_close(refs[0], mix.class_sum(1))
    torch.testing.assert_close(refs[1], mix.class_sum(-1))
    net, params = frei_network(mix)
    cos = neuron_cosines(net, params, refs)
    torch.testing.assert_close(cos[:, 2:], torch.eye(6))  # each neuron is its own mean
    # Orthogonal means: a mean has cosine 1/sqrt(3) with the sum of the 3 means of its class, 0 with the other class.
    own = torch.where(mix.labels > 0, cos[:, 0], cos[:, 1])
    other = torch.where(mix.labels > 0, cos[:, 1], cos[:, 0])
    torch.testing.assert_close(own, torch.full((6,), 1 / math.sqrt(3)))
    torch.testing.assert_close(other, torch.zeros(6))
    values, order = contributions(net, params)
    torch.testing.assert_close(values, torch.full((6,), math.sqrt(40)))  # |v_j| ||w_j|| = 1 * sqrt(d)


def test_trained_neurons_align_with_their_class_sum():
    mix = cluster_mixture(100, 4, seed=0)
    train = mix.sample(40, seed=1, balanced=True)
    net = TwoLayerNet(d=100, m=16)
    res = gradient_flow(
        net, net.init(runs=1, scale=1e-3, seed=0), train.X, train.y, steps=1500, record_every=500, progress=False
    )
    cos = neuron_cosines(net, res.params, reference_directions(mix))
    values, order = contributions(net, res.params)
    v, W = res.params["v"][0], res.params["W"][0]
    torch.testing.assert_close(values, (v.abs() * W.norm(dim=1))[order])
    assert torch.all(values[1:] <= values[:-1])
    big = order[values > 0.1 * values[0]]  # neurons that matter
    own = torch.where(v[big] > 0, cos[big, 0], cos[big, 1])
    print(f"cos with own class sum over {len(big)} neurons: min {own.min():.3f}, median {own.median():.3f}")
    assert float(own.median()) > 0.8


def test_bad_reference_shape_is_refused():
    net = TwoLayerNet(d=5, m=3)
    with pytest.raises(ValueError, match=r"refs must have shape \(r, 5\)"):
        neuron_cosines(net, net.init(runs=1), torch.ones(2, 4))


def test_own_class_cosines_of_the_construction_and_the_share_filter():
    from implicit_bias.alignment import own_class_cosines

    mix = cluster_mixture(40, 8, seed=0)
    net, params = frei_network(mix)
    # Each neuron is one mean: cosine 1/sqrt(k/2) with the sum of the k/2 orthogonal means of its class.
    torch.testing.assert_close(own_class_cosines(net, params, mix), torch.full((8,), 1 / math.sqrt(4)))
    # Shrink one neuron's output weight: below the share it is left out, above it is kept.
    params["v"][0, 3] = 0.05
    assert len(own_class_cosines(net, params, mix, fraction=0.1)) == 7
    assert len(own_class_cosines(net, params, mix, fraction=0.0)) == 8
    # A neuron voting for the other class is compared with the other class sum.
    params["v"][0, 3] = -1.0 if mix.labels[3] > 0 else 1.0
    cos = own_class_cosines(net, params, mix).sort().values
    torch.testing.assert_close(cos[:1], torch.zeros(1))
    torch.testing.assert_close(cos[1:], torch.full((7,), 0.5))
    with pytest.raises(ValueError, match=r"fraction must be a number in \[0, 1\]"):
        own_class_cosines(net, params, mix, fraction=2)


def test_min_vidal_alignment_bad_inputs_name_the_parameter_value_and_what_is_allowed():
    mix = orthonormal_mixture(10, 4, 2, alpha=0.1)
    with pytest.raises(ValueError, match=r"fraction must be a number in \(0, 1\], got 0"):
        net, params = constructions.idealized(mix, 3)
        alignment.summarize(net, params, mix, fraction=0)


def test_significant_neurons_are_those_above_a_fraction_of_the_largest_contribution():
    from implicit_bias.alignment import significant

    net = TwoLayerNet(d=3, m=3, bias=False)
    params = {"W": torch.eye(3, dtype=torch.float64)[None], "v": torch.tensor([[1.0, -0.05, 0.5]], dtype=torch.float64)}
    keep, size = significant(net, params, fraction=0.1)
    assert keep.tolist() == [0, 2] and size.tolist() == [1.0, 0.5]
    assert significant(net, params, fraction=0.0)[0].tolist() == [0, 2, 1]
    assert significant(net, {**params, "v": torch.zeros(1, 3, dtype=torch.float64)}, fraction=0.1)[0].numel() == 0
