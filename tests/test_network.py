"""The batched two-layer network: hand-written gradients against autograd, homogeneity, invariants, checks."""

import pytest
import torch

from implicit_bias.network import LinearModel, TwoLayerNet, flatten, power, scratch_buffer

CONFIGS = [
    dict(bias=True, train_outer=True),
    dict(bias=False, train_outer=True),
    dict(bias=True, train_outer=False),
    dict(bias=False, train_outer=True, activation="prelu", p=3.0),
    dict(bias=True, train_outer=True, activation="prelu", p=1.5),
    dict(bias=True, train_outer=True, activation="prelu", p=2.0),
    dict(bias=True, train_outer=False, activation="prelu", p=3.0),
]


def reference_output(net, W, b, v, x):
    """Unbatched network written plainly, differentiated by autograd."""
    z = W @ x + (b if b is not None else 0)
    if net.p == 1:
        h = torch.relu(z)
    else:
        norm = (W.pow(2).sum(1) + (b.pow(2) if b is not None else 0)).sqrt()
        h = torch.relu(z).pow(net.p) / norm.pow(net.p - 1)
    return (v * h).sum()


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("shared", [True, False])
def test_vjp_matches_autograd_on_unbatched_reference(cfg, shared):
    net = TwoLayerNet(d=7, m=6, **cfg)
    R, n = 3, 5
    params = net.init(runs=R, scale=0.5, seed=1)
    gen = torch.Generator().manual_seed(0)
    X = torch.randn((n, 7) if shared else (R, n, 7), generator=gen)
    coef = torch.randn(R, n, generator=gen)
    out, grads = net.value_and_vjp(params, X, lambda o: coef)
    v_all = net.outer(params)
    for r in range(R):
        W = params["W"][r].clone().requires_grad_()
        b = params["b"][r].clone().requires_grad_() if net.bias else None
        v = params["v"][r].clone().requires_grad_() if net.train_outer else v_all[r]
        Xr = X if shared else X[r]
        total = 0
        for i in range(n):
            f = reference_output(net, W, b, v, Xr[i])
            assert abs(f.item() - out[r, i].item()) < 1e-12
            total = total + coef[r, i] * f
        total.backward()
        assert torch.allclose(grads["W"][r], W.grad, atol=1e-10, rtol=0)
        if net.bias:
            assert torch.allclose(grads["b"][r], b.grad, atol=1e-10, rtol=0)
        if net.train_outer:
            assert torch.allclose(grads["v"][r], v.grad, atol=1e-10, rtol=0)
        else:
            assert "v" not in grads


@pytest.mark.parametrize("cfg", CONFIGS)
def test_forward_stays_differentiable_by_autograd(cfg):
    """The activation works in place, yet autograd through forward (attacks, Adam training) matches the vjp."""
    net = TwoLayerNet(d=5, m=4, **cfg)
    params = {k: t.requires_grad_() for k, t in net.init(runs=2, scale=1.0, seed=0).items()}
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    coef = torch.randn(2, 6, generator=gen, dtype=torch.float64)
    (coef * net.forward(params, X)).sum().backward()
    grads = net.vjp({k: t.detach() for k, t in params.items()}, X, coef)
    assert all(torch.allclose(params[k].grad, grads[k], rtol=1e-12, atol=1e-14) for k in params)


@pytest.mark.parametrize("cfg", CONFIGS)
def test_homogeneity_degree(cfg):
    net = TwoLayerNet(d=5, m=4, **cfg)
    params = net.init(runs=2, scale=1.0, seed=0)
    X = torch.randn(6, 5, generator=torch.Generator().manual_seed(1))
    c = 2.7
    scaled = {k: c * t for k, t in params.items()}
    assert net.degree == (2 if net.train_outer else 1)
    assert torch.allclose(net.forward(scaled, X), c**net.degree * net.forward(params, X), rtol=1e-12)


def test_per_sample_grads_are_rows_of_the_vjp():
    net = TwoLayerNet(d=4, m=3)
    params = net.init(runs=2, scale=1.0, seed=0)
    X = torch.randn(5, 4, generator=torch.Generator().manual_seed(2))
    G = net.per_sample_grads(params, X, run=1)
    coef = torch.zeros(2, 5)
    coef[1, 3] = 1
    assert torch.allclose(G[3], flatten(net.vjp(params, X, coef))[1])
    assert G.shape == (5, flatten(params).shape[1])


def test_restoring_conserved_quantities_keeps_the_function():
    net = TwoLayerNet(d=6, m=5, activation="prelu", p=2.0)
    params = net.init(runs=2, scale=1.0, seed=3)
    X = torch.randn(8, 6, generator=torch.Generator().manual_seed(4))
    target = torch.linspace(-0.5, 0.5, 10).view(2, 5)
    fixed = net.restore_conserved(params, target)
    assert torch.allclose(net.conserved(fixed), target, atol=1e-12)
    assert torch.allclose(net.forward(fixed, X), net.forward(params, X), rtol=1e-12)


def test_run_r_does_not_depend_on_the_number_of_runs():
    net = TwoLayerNet(d=5, m=4)
    many = net.init(runs=3, seed=10)
    one = net.init(runs=1, seed=12)
    assert torch.equal(many["W"][2], one["W"][0])


def test_fixed_outer_layer_has_both_signs():
    v = TwoLayerNet(d=3, m=4, train_outer=False).fixed_outer()
    assert v.tolist() == [0.5, 0.5, -0.5, -0.5]


def test_linear_model_vjp():
    lin = LinearModel(d=3)
    params = lin.init(runs=2, scale=1.0, seed=0)
    X = torch.randn(4, 3, generator=torch.Generator().manual_seed(0))
    coef = torch.randn(2, 4, generator=torch.Generator().manual_seed(1))
    assert torch.allclose(lin.value_and_vjp(params, X, lambda o: coef)[1]["w"], coef @ X)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: TwoLayerNet(d=0, m=3), "d must be a positive integer, got 0"),
        (lambda: TwoLayerNet(d=3, m=-1), "m must be a positive integer, got -1"),
        (lambda: TwoLayerNet(d=3, m=3, activation="tanh"), "activation must be one of 'relu', 'prelu', got 'tanh'"),
        (lambda: TwoLayerNet(d=3, m=3, activation="prelu", p=0.5), "p must be a number >= 1, got 0.5"),
        (lambda: TwoLayerNet(d=3, m=3, p=2), "p must be 1 for activation='relu'"),
        (lambda: TwoLayerNet(d=3, m=1, train_outer=False), "m must be >= 2 with a fixed second layer"),
        (lambda: TwoLayerNet(d=3, m=2).init(runs=0), "runs must be a positive integer, got 0"),
        (lambda: TwoLayerNet(d=3, m=2).init(scale=0), "scale must be a finite number > 0, got 0"),
        (
            lambda: TwoLayerNet(d=3, m=2).forward(TwoLayerNet(d=3, m=2).init(), torch.zeros(4, 5)),
            r"X must have shape \(n, 3\) or \(R, n, 3\), got \(4, 5\)",
        ),
        (
            lambda: TwoLayerNet(d=3, m=2).forward(TwoLayerNet(d=4, m=2).init(), torch.zeros(4, 3)),
            r"params\['W'\] must have shape \(R, 2, 3\), got \(1, 2, 4\)",
        ),
        (
            lambda: TwoLayerNet(d=3, m=2).forward(TwoLayerNet(d=3, m=2).init(runs=2), torch.zeros(3, 4, 3)),
            "X has 3 runs",
        ),
        (
            lambda: TwoLayerNet(d=3, m=2).vjp(TwoLayerNet(d=3, m=2).init(), torch.zeros(4, 3), torch.zeros(1, 5)),
            r"coef must have shape \(R, n\) = \(1, 4\)",
        ),
    ],
)
def test_bad_input_names_parameter_value_and_allowed(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_run_sum_is_the_sum_and_does_not_depend_on_the_thread_count():
    from implicit_bias.network import SUM_BLOCK, run_sum

    t = torch.randn(2, 7, 5 * SUM_BLOCK // 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = run_sum(t)
        torch.set_num_threads(2)
        two = run_sum(t)
        plain = t.flatten(1).sum(1)  # torch splits this sum across the 2 threads
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
    torch.testing.assert_close(one, plain, rtol=1e-12, atol=0)
    assert torch.equal(run_sum(t[:, :1, :10]), t[:, 0, :10].sum(-1))  # short rows: one plain sum


def test_run_sum_adds_in_the_order_of_zero_padded_blocks():
    """The order the committed outputs were computed in: blocks of SUM_BLOCK, the last one zero-padded."""
    from implicit_bias.network import SUM_BLOCK, run_sum

    for size in (SUM_BLOCK + 1, 3 * SUM_BLOCK, 5 * SUM_BLOCK // 3):
        t = torch.randn(3, size, generator=torch.Generator().manual_seed(size), dtype=torch.float64)
        blocks = -(-size // SUM_BLOCK)
        padded = torch.nn.functional.pad(t, (0, blocks * SUM_BLOCK - size)).view(3, blocks, SUM_BLOCK)
        assert torch.equal(run_sum(t), padded.sum(-1).sum(-1))


def test_polynomial_net_is_the_relu_for_p_1_and_homogeneous_of_its_degree():
    from implicit_bias.network import homogeneity_error, polynomial_net

    assert polynomial_net(5, 3, 1, bias=True).activation == "relu"
    net = polynomial_net(5, 3, 2.5, bias=False)
    assert net.activation == "prelu" and net.p == 2.5
    X = torch.randn(7, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for model in (net, polynomial_net(5, 3, 1, bias=True)):
        assert homogeneity_error(model, model.init(runs=1, scale=0.5, seed=1), X) < 1e-12
    with pytest.raises(ValueError, match=r"p must be a number >= 1, got 0.5"):
        polynomial_net(5, 3, 0.5, bias=False)


def test_packed_layout_gives_the_same_outputs_and_gradients():
    """The training loop's layout ([W b] as one matrix, X with a column of ones) computes what the usual one does,
    and unpack returns the parameters as they went in."""
    net = TwoLayerNet(d=5, m=4)
    params, X = net.init(runs=3, scale=0.5, seed=1), torch.randn(7, 5, dtype=torch.float64)
    coef = torch.randn(3, 7, dtype=torch.float64)
    packed, X1 = net.pack(params, X)
    assert all(torch.equal(net.unpack(packed)[k], params[k]) for k in params)
    values, grads = net.value_and_vjp(params, X, lambda out: coef)
    values_p, grads_p = net.value_and_vjp(packed, X1, lambda out: coef)
    torch.testing.assert_close(values_p, values, rtol=1e-12, atol=1e-14)
    for k, g in net.unpack(grads_p).items():
        torch.testing.assert_close(g, grads[k], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("shared", [True, False])
def test_scratch_buffer_gives_the_same_bits_and_is_allocated_once(cfg, shared):
    """value_and_vjp with a scratch dict (the training loop's) returns exactly what it returns without one, for
    calls of several run counts sharing the dict; the buffer is allocated for the largest and reused after."""
    net = TwoLayerNet(d=6, m=4, **cfg)
    gen = torch.Generator().manual_seed(2)
    scratch, buffers = {}, []
    for R in (3, 5, 2, 5):
        params = net.init(runs=R, scale=0.5, seed=R)
        X = torch.randn((7, 6) if shared else (R, 7, 6), generator=gen, dtype=torch.float64)
        coef = torch.randn(R, 7, generator=gen, dtype=torch.float64)
        values, grads = net.value_and_vjp(params, X, lambda out: coef)  # noqa: B023
        values_s, grads_s = net.value_and_vjp(params, X, lambda out: coef, scratch=scratch)  # noqa: B023
        assert torch.equal(values_s, values) and all(torch.equal(grads_s[k], g) for k, g in grads.items())
        buffers.append(scratch["preactivations"])
    assert buffers[1] is buffers[2] is buffers[3] and buffers[1].numel() == 5 * 4 * 7 > buffers[0].numel()


def test_scratch_buffer_is_reused_at_any_shape_of_its_size_and_renewed_for_another_dtype():
    like, scratch = torch.zeros(1, dtype=torch.float64), {}
    c = scratch_buffer(scratch, "z", (2, 3), like)
    assert scratch_buffer(scratch, "z", (3, 2), like).data_ptr() == c.data_ptr()  # same size: the same memory
    assert scratch_buffer(scratch, "z", (2, 3), like.float()).dtype == torch.float32  # another dtype: a new buffer


@pytest.mark.parametrize("p", [1, 2, 3, 4, 5, 7, 8, 2.5])
def test_power_agrees_with_pow_to_rounding_and_keeps_autograd(p):
    x = torch.rand(500, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    got = power(x, p)
    assert torch.allclose(got, x.detach().pow(p), rtol=4 * p * torch.finfo(x.dtype).eps, atol=0)
    (grad,) = torch.autograd.grad(got.sum(), x)
    assert torch.allclose(grad, p * x.detach().pow(p - 1), rtol=1e-13, atol=0)
