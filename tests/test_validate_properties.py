"""Property-based tests (hypothesis) of the shared validators and of the numeric kernels on random valid shapes."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from implicit_bias import _validate as check
from implicit_bias.data import cluster_mixture, sphere_data
from implicit_bias.loss import dual_weights, log_mean_loss
from implicit_bias.network import TwoLayerNet

FEW = settings(max_examples=30, deadline=None, database=None)  # no .hypothesis folder in the repository
shapes = st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple)
dtypes = st.sampled_from([torch.float64, torch.float32])


def randn(shape: tuple, seed: int, dtype=torch.float64) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(dtype)


@FEW
@given(shape=shapes, dtype=dtypes, seed=st.integers(0, 1000))
def test_finite_float_tensors_pass_unchanged(shape, dtype, seed):
    t = randn(shape, seed, dtype)
    assert check.tensor("X", t, dims=len(shape)) is t


@FEW
@given(shape=shapes, seed=st.integers(0, 1000), bad=st.sampled_from([math.nan, math.inf, -math.inf]), data=st.data())
def test_a_single_non_finite_entry_is_refused_and_counted(shape, seed, bad, data):
    t = randn(shape, seed)
    t.view(-1)[data.draw(st.integers(0, t.numel() - 1))] = bad
    with pytest.raises(ValueError) as err:
        check.tensor("X", t)
    nan, inf = (1, 0) if math.isnan(bad) else (0, 1)
    assert (
        f"X must be a finite float tensor; got shape {shape} dtype torch.float64 with {nan} NaN and {inf} inf"
        == str(err.value)
    )


@FEW
@given(where=st.lists(st.integers(0, 300_000 - 1), min_size=1, max_size=3, unique=True), data=st.data())
def test_non_finite_entries_of_a_large_tensor_are_found_by_a_split_reduction(where, data):
    """all_finite reduces to the smallest and largest entries; on two threads the reduction is split into chunks,
    and a NaN or inf in any chunk, beside others, must still reach the result."""
    t = randn((300, 1000), 0)
    bad = [data.draw(st.sampled_from([math.nan, math.inf, -math.inf])) for _ in where]
    t.view(-1)[torch.tensor(where)] = torch.tensor(bad, dtype=t.dtype)
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(ValueError, match="must be a finite float tensor"):
            check.tensor("X", t)
        assert check.tensor("X", randn((300, 1000), 1)) is not None
    finally:
        torch.set_num_threads(threads)


def test_an_empty_tensor_passes_the_finite_check_when_allowed():
    empty = torch.zeros(0, 3, dtype=torch.float64)
    assert check.tensor("X", empty, nonempty=False) is empty


@FEW
@given(shape=shapes, dtype=st.sampled_from([torch.int64, torch.int32, torch.bool, torch.uint8]))
def test_non_float_tensors_are_refused_with_their_dtype(shape, dtype):
    with pytest.raises(TypeError, match=f"X must be a float tensor .*{dtype}"):
        check.tensor("X", torch.zeros(shape, dtype=dtype))


@FEW
@given(n=st.integers(1, 40), seed=st.integers(0, 1000))
def test_labels_pm1_pass_and_any_other_value_is_named(n, seed):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(2, (n,), generator=gen).to(torch.float64) * 2 - 1
    assert check.labels("y", y, n) is y
    other = float(torch.randint(-5, 6, (1,), generator=gen).item()) + 0.5  # never +-1
    y[int(torch.randint(n, (1,), generator=gen))] = other
    with pytest.raises(ValueError, match="y must hold labels -1 and \\+1 only") as err:
        check.labels("y", y, n)
    assert f"{other:g}" in str(err.value)


@FEW
@given(value=st.integers(-(2**70), 2**70))
def test_seed_range_is_exactly_0_to_2_63_minus_1(value):
    if 0 <= value <= 2**63 - 1:
        assert check.seed("seed", value) == value
        check.generator(value)
    else:
        with pytest.raises(ValueError, match="seed must be a non-negative integer <= 9223372036854775807"):
            check.generator(value)


@FEW
@given(value=st.floats(allow_nan=True, allow_infinity=True))
def test_init_scale_accepts_exactly_the_interval_0_to_1000(value):
    if 0 < value <= check.INIT_SCALE_MAX:
        assert check.init_scale("scale", value) == value
    else:
        with pytest.raises(ValueError, match="scale must be"):
            check.init_scale("scale", value)


@FEW
@given(numel=st.integers(0, 10**6), exponent=st.integers(15, 30))
def test_memory_check_passes_small_and_refuses_beyond_physical_memory(numel, exponent):
    check.fits_memory("small", numel)
    too_big = check.available_bytes(torch.device("cpu")) // 8 + 10**exponent
    with pytest.raises(ValueError, match=r"needs [0-9.e+]+ GiB"):
        check.fits_memory("huge", too_big)


@FEW
@given(device=st.sampled_from(["cpu", "auto", torch.device("cpu")]))
def test_cpu_devices_resolve_to_the_cpu_here(device):
    if torch.cuda.is_available() and device == "auto":
        assert check.resolve_device(device).type == "cuda"
    else:
        assert check.resolve_device(device) == torch.device("cpu")


@FEW
@given(
    d=st.integers(1, 6),
    m=st.integers(2, 6),
    n=st.integers(1, 7),
    runs=st.integers(1, 3),
    bias=st.booleans(),
    train_outer=st.booleans(),
    per_run=st.booleans(),
    seed=st.integers(0, 100),
)
def test_network_outputs_and_gradients_have_the_right_shapes_and_match_autograd(
    d, m, n, runs, bias, train_outer, per_run, seed
):
    net = TwoLayerNet(d=d, m=m, bias=bias, train_outer=train_outer)
    params = net.init(runs=runs, scale=0.5, seed=seed)
    X = randn((runs, n, d) if per_run else (n, d), seed + 1)
    coef = randn((runs, n), seed + 2)
    out, grads = net.value_and_vjp(params, X, lambda o: coef)
    assert out.shape == (runs, n) and bool(torch.isfinite(out).all())
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in params.items()}
    leaves = {k: p.clone().requires_grad_(True) for k, p in params.items()}
    auto = torch.autograd.grad((coef * net.forward(leaves, X)).sum(), list(leaves.values()))
    for g, a in zip(grads.values(), auto):
        assert torch.allclose(g, a, atol=1e-12)


@FEW
@given(
    n=st.integers(1, 30),
    scale=st.floats(0.01, 50.0),
    seed=st.integers(0, 1000),
    loss=st.sampled_from(["exp", "logistic"]),
)
def test_loss_weights_are_nonnegative_and_the_log_loss_is_the_direct_one(n, scale, seed, loss):
    q = scale * randn((2, n), seed)
    a = dual_weights(q, loss)
    assert a.shape == q.shape and bool((a >= 0).all())
    direct = torch.exp(-q) if loss == "exp" else torch.log1p(torch.exp(-q))
    assert torch.allclose(log_mean_loss(q, loss), direct.mean(-1).log(), rtol=1e-10, atol=1e-12)
    if loss == "exp":
        assert torch.allclose(a.sum(-1), torch.ones(2))
    assert bool((log_mean_loss(q + 1, loss) < log_mean_loss(q, loss)).all())  # larger margins, smaller loss


@FEW
@given(n=st.integers(1, 20), d=st.integers(1, 30), seed=st.integers(0, 2**63 - 1), dtype=dtypes)
def test_sphere_data_shapes_norms_and_labels(n, d, seed, dtype):
    data = sphere_data(n, d, seed=seed, dtype=dtype)
    assert data.X.shape == (n, d) and data.y.shape == (n,) and data.X.dtype == dtype == data.y.dtype
    tol = 1e-10 if dtype == torch.float64 else 1e-5
    assert torch.allclose(data.X.double().norm(dim=1), torch.full((n,), math.sqrt(d)), rtol=tol)
    assert bool(((data.y == 1) | (data.y == -1)).all())


@FEW
@given(d=st.integers(2, 12), n=st.integers(1, 20), seed=st.integers(0, 1000), data=st.data())
def test_cluster_mixture_shapes_and_sample(d, n, seed, data):
    k = data.draw(st.integers(2, d))
    mix = cluster_mixture(d, k, seed=seed)
    assert mix.means.shape == (k, d) and mix.labels.shape == (k,)
    assert torch.allclose(mix.means.norm(dim=1), torch.full((k,), math.sqrt(d)))
    sample = mix.sample(n, seed=seed)
    assert sample.X.shape == (n, d) and sample.y.shape == (n,) and sample.cluster.shape == (n,)
    assert torch.equal(sample.y, mix.labels[sample.cluster])
