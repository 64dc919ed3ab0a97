"""Log-domain losses: agreement with the plain formulas, derivatives, and no underflow at large margins."""

import math

import pytest
import torch

from implicit_bias.loss import dual_weights, log_mean_loss, smoothed_margin


@pytest.mark.parametrize("loss", ["exp", "logistic"])
def test_log_mean_loss_and_dual_weights_match_autograd(loss):
    q = torch.tensor([[-1.0, 0.3, 2.0, 5.0], [0.1, 0.2, 45.0, 50.0]], requires_grad=True)
    plain = torch.exp(-q) if loss == "exp" else torch.log1p(torch.exp(-q))
    log_L = log_mean_loss(q, loss)
    assert torch.allclose(log_L, plain.mean(1).log(), rtol=1e-12)
    (grad,) = torch.autograd.grad(plain.mean(1).log().sum(), q)
    assert torch.allclose(dual_weights(q.detach(), loss), -grad, rtol=1e-10, atol=1e-300)


@pytest.mark.parametrize("loss", ["exp", "logistic"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_no_underflow_at_margins_in_the_thousands(loss, dtype):
    q = torch.tensor([[900.0, 1000.0, 2000.0]], dtype=dtype)
    log_L = log_mean_loss(q, loss)
    a = dual_weights(q, loss)
    assert torch.isfinite(log_L).all() and abs(log_L.item() + 900 + math.log(3)) < 1e-3
    assert a[0, 0] > 0.99  # the minimum-margin point carries the weight, it does not vanish


def test_smoothed_margin_is_below_normalized_margin():
    q = torch.tensor([[3.0, 4.0, 9.0]])
    norm = torch.tensor([2.0])
    for loss in ("exp", "logistic"):
        assert smoothed_margin(q, loss, norm, 2) < q.min() / 4
    # for the exponential loss it is -log sum e^-q / ||theta||^L
    expected = -torch.logsumexp(-q, 1) / 4
    assert torch.allclose(smoothed_margin(q, "exp", norm, 2), expected)
