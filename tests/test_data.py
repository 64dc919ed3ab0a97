"""The data models: geometry, determinism and argument checks."""

import math

import numpy as np
import pytest
import torch

from implicit_bias.data import cluster_mixture, even_odd, orthonormal_mixture, sphere_data


@pytest.mark.parametrize("means", ["orthogonal", "gaussian"])
def test_cluster_means_have_norm_sqrt_d_and_small_correlations(means):
    mix = cluster_mixture(400, 16, means=means, seed=3)
    assert torch.allclose(mix.means.norm(dim=1), torch.full((16,), 20.0))
    cos = (mix.means @ mix.means.T) / 400 - torch.eye(16)
    bound = 1e-12 if means == "orthogonal" else 4 / math.sqrt(400)
    assert cos.abs().max() < bound


def test_samples_lie_around_their_cluster_mean():
    mix = cluster_mixture(400, 8, sigma=1.0, seed=0)
    data = mix.sample(2000, seed=1)
    noise = data.X - mix.means[data.cluster]
    assert abs(noise.std().item() - 1.0) < 0.01
    assert torch.equal(data.y, mix.labels[data.cluster])
    # ||x||^2 ~ (1 + sigma^2) d
    assert abs(data.X.pow(2).sum(1).mean().item() / 800 - 1) < 0.01


def test_balanced_sample_covers_every_cluster():
    mix = cluster_mixture(50, 10, seed=0)
    data = mix.sample(23, seed=2, balanced=True)
    assert torch.bincount(data.cluster, minlength=10).min() >= 2


def test_labels_alternate_or_are_random_with_both_classes():
    assert cluster_mixture(10, 6, labels="alternating", seed=0).labels.tolist() == [1, -1, 1, -1, 1, -1]
    for seed in range(20):
        lab = cluster_mixture(10, 2, labels="random", seed=seed).labels
        assert set(lab.tolist()) == {-1.0, 1.0}


def test_same_seed_same_bits_different_seed_different_data():
    a = cluster_mixture(30, 3, seed=5).sample(40, seed=7)
    b = cluster_mixture(30, 3, seed=5).sample(40, seed=7)
    c = cluster_mixture(30, 3, seed=5).sample(40, seed=8)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)
    assert not torch.equal(a.X, c.X)
    s1, s2 = sphere_data(20, 50, seed=1), sphere_data(20, 50, seed=1)
    assert torch.equal(s1.X, s2.X) and not torch.equal(s1.X, sphere_data(20, 50, seed=2).X)


def test_generator_argument_is_used_as_given():
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    mix = cluster_mixture(20, 2, seed=0)
    assert torch.equal(mix.sample(10, seed=g1).X, mix.sample(10, seed=g2).X)


def test_float32_data_matches_float64_draws():
    mix64 = cluster_mixture(30, 3, seed=5)
    mix32 = cluster_mixture(30, 3, seed=5, dtype=torch.float32)
    assert mix32.means.dtype == torch.float32
    assert torch.allclose(mix32.sample(10, seed=1).X.double(), mix64.sample(10, seed=1).X, atol=1e-5)


def test_sphere_data_radius_and_labels():
    data = sphere_data(100, 1000, seed=0)
    assert torch.allclose(data.X.norm(dim=1), torch.full((100,), math.sqrt(1000)))
    assert set(data.y.tolist()) == {-1.0, 1.0}
    gram = data.X @ data.X.T / 1000 - torch.eye(100)
    assert gram.abs().max() < 0.2  # nearly orthogonal


def test_orthonormal_mixture_of_min_and_vidal():
    mix = orthonormal_mixture(100, 10, 6, alpha=0.3)
    assert torch.equal(mix.means, torch.eye(10, 100))
    assert mix.labels.tolist() == [1.0] * 6 + [-1.0] * 4
    assert mix.sigma == pytest.approx(0.03)
    assert torch.equal(mix.class_sum(1), torch.eye(10, 100)[:6].sum(0))
    x = mix.sample(4000, seed=0).X
    assert abs(x.norm(dim=1).pow(2).mean().item() - (1 + 0.09)) < 0.01


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: cluster_mixture(0, 2), "d must be a positive integer, got 0"),
        (lambda: cluster_mixture(10, 2.5), "k must be a positive integer, got 2.5"),
        (lambda: cluster_mixture(10, 20), "k must be <= d=10 for orthogonal means, got 20"),
        (lambda: cluster_mixture(10, 1), "k must be >= 2"),
        (lambda: cluster_mixture(10, 2, sigma=-1), "sigma must be a finite number >= 0, got -1"),
        (lambda: cluster_mixture(10, 2, means="random"), "means must be one of 'orthogonal', 'gaussian', got 'random'"),
        (lambda: cluster_mixture(10, 2, labels="x"), "labels must be one of"),
        (lambda: cluster_mixture(10, 2, seed=-3), "seed must be a non-negative integer"),
        (lambda: cluster_mixture(10, 2, dtype=torch.int64), "dtype must be a floating torch dtype"),
        (lambda: cluster_mixture(10, 2, device="gpu0"), "device must be 'auto'"),
        (lambda: cluster_mixture(10, 4).sample(3, seed=0, balanced=True), "n must be >= k=4"),
        (lambda: cluster_mixture(10, 4).sample(-1, seed=0), "n must be a positive integer, got -1"),
        (lambda: orthonormal_mixture(10, 4, 4, 0.1), "K1 must be < K=4"),
        (lambda: orthonormal_mixture(3, 4, 2, 0.1), "K must be <= D=3"),
        (lambda: sphere_data(5, True), "d must be a positive integer, got True"),
    ],
)
def test_bad_input_names_parameter_value_and_allowed(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_orthogonal_means_do_not_depend_on_the_thread_count():
    """A blocked QR on 2 threads rounds differently from 1 thread; the means are computed on one."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = cluster_mixture(800, 50, seed=0).means
        torch.set_num_threads(2)
        two = cluster_mixture(800, 50, seed=0).means
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    assert torch.get_num_threads() == threads  # restored


def test_even_odd_digits_are_scaled_split_by_digit_and_centred():
    digits_data = even_odd("digits", test_fraction=0.25, seed=1)
    n_train, n_test = digits_data.X_train.shape[0], digits_data.X_test.shape[0]
    assert n_train + n_test == 1797 and digits_data.d == 64 and abs(n_test / 1797 - 0.25) < 0.01
    assert float(digits_data.X_train.min()) >= 0 and float(digits_data.X_train.max()) <= 1
    assert set(digits_data.y_train.unique().tolist()) == {-1.0, 1.0}
    from sklearn.datasets import load_digits

    raw = load_digits()
    # Every training image is one of scikit-learn's, labelled +1 exactly when its digit is even.
    index = {tuple((row / 16).tolist()): int(t) for row, t in zip(raw.data, raw.target)}
    digits = np.array([index[tuple(x.tolist())] for x in digits_data.X_train])
    np.testing.assert_array_equal(digits_data.y_train.numpy(), np.where(digits % 2 == 0, 1.0, -1.0))
    torch.testing.assert_close(digits_data.centre, digits_data.X_train.mean(0))
    assert float((digits_data.X_train - digits_data.centre).mean(0).abs().max()) < 1e-12


def test_min_vidal_data_bad_inputs_name_the_parameter_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"name must be one of 'digits', 'mnist', got 'cifar'"):
        even_odd("cifar")
    with pytest.raises(ValueError, match=r"test_fraction must be a number in \(0, 1\), got 1.5"):
        even_odd("digits", test_fraction=1.5)
