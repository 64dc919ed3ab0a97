"""Exponential and logistic losses on margins q = y f(x), computed in the log domain.

Everything the engine needs is a function of log L and of the dual weights a_i = -d log L / d q_i >= 0,
which stay finite in float64 at margins in the thousands, long after e^(-q) underflows.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.nn.functional import logsigmoid

from . import _validate as validate

LOSSES = ("exp", "logistic")

# Above this margin log(log(1 + e^-q)) = -q to float64 precision, and the direct formula underflows.
_LOGISTIC_ASYMPTOTE = 40.0


def log_terms(q: Tensor, loss: str) -> Tensor:
    """log l(q) elementwise: -q for the exponential loss, log log(1 + e^-q) for the logistic loss."""
    validate.choice("loss", loss, LOSSES)
    if loss == "exp":
        return -q
    direct = torch.log(torch.nn.functional.softplus(-q.clamp_max(_LOGISTIC_ASYMPTOTE)))
    return torch.where(q > _LOGISTIC_ASYMPTOTE, -q, direct)


def log_sum_and_weights(q: Tensor, loss: str) -> tuple[Tensor, Tensor]:
    """log(n L) = log sum_i l(q_i) and the dual weights a_i = -d log L / d q_i, from one logsumexp."""
    validate.choice("loss", loss, LOSSES)
    if loss == "exp":  # by hand, shifted by the smallest margin: a third of logsumexp's operations
        q_min = q.amin(-1, keepdim=True)
        shifted = torch.sub(q_min, q).exp_()  # <= 1, with 1 at the smallest margin, so the sum is >= 1
        total = shifted.sum(-1, keepdim=True)
        return total.log().sub_(q_min).squeeze(-1), shifted.div_(total)
    terms = log_terms(q, loss)
    log_sum = torch.logsumexp(terms, dim=-1)
    return log_sum, torch.exp(logsigmoid(-q) - log_sum[..., None])


def log_mean_loss(q: Tensor, loss: str) -> Tensor:
    """log of L = (1/n) sum_i l(q_i) over the last dimension, by logsumexp."""
    validate.tensor("q", q, finite=False)  # inf margins are meaningful (L = 0); NaN is refused below
    validate.margins(q)
    return torch.logsumexp(log_terms(q, loss), dim=-1) - math.log(q.shape[-1])


def dual_weights(q: Tensor, loss: str) -> Tensor:
    """a_i = -d log L / d q_i = -l'(q_i) / sum_k l(q_k): non-negative, summing to 1 for the exponential loss."""
    validate.tensor("q", q)
    return log_sum_and_weights(q, loss)[1]


def neg_derivative(q: Tensor, loss: str) -> Tensor:
    """-l'(q) elementwise: e^-q for the exponential loss, sigmoid(-q) for the logistic loss."""
    validate.choice("loss", loss, LOSSES)
    return torch.exp(-q) if loss == "exp" else torch.sigmoid(-q)


def smoothed_margin(q: Tensor, loss: str, norm: Tensor, degree: int) -> Tensor:
    """Lyu & Li's smoothed normalized margin: log(1 / (e^(nL) - 1)) / ||theta||^L (-log(nL)/||theta||^L for exp)."""
    validate.tensor("q", q)
    validate.tensor("norm", norm, like=q, nonempty=False)
    validate.positive_int("degree", degree)
    return smoothed_margin_from(torch.logsumexp(log_terms(q, loss), dim=-1), loss, norm, degree)


def smoothed_margin_from(log_nL: Tensor, loss: str, norm: Tensor, degree: int) -> Tensor:
    """The smoothed margin from log(n L), when that is already computed."""
    validate.choice("loss", loss, LOSSES)
    if loss == "exp":
        numer = -log_nL
    else:  # -log(expm1(nL)) = -log(nL) to float64 precision once nL < e^-30
        numer = torch.where(log_nL < -30, -log_nL, -torch.log(torch.expm1(log_nL.clamp_min(-30).exp())))
    return numer / norm.pow(degree)
