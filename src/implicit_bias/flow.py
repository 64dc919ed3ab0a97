"""Gradient flow on homogeneous models, simulated fast enough to reach the max-margin KKT direction.

Two full-batch schedules trace the same trajectory: ``constant`` is the Euler discretization of
d theta/dt = -grad L; ``normalized`` is gradient descent on log L (Lyu & Li's loss-based learning rate), which
follows gradient flow under the time change d tau = L dt, with per-run accept/rollback and step growth. Both
record the gradient-flow time t they have covered. ``sgd`` is plain mini-batch SGD, Min & Vidal's protocol.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from . import _validate as check
from .loss import check_loss, log_sum_and_weights, neg_derivative, smoothed_margin_from
from .network import Model, Params, run_sum, sq_norm

SCHEDULES = ("normalized", "constant")
GROW, SHRINK = 2 ** (1 / 5), 2 ** (1 / 10)  # Lyu & Li's step growth after an accepted step and shrink after a rollback
CHECK_EVERY = 32  # constant schedule: steps between finiteness checks (and at every record)


class FlowDivergence(RuntimeError):
    """The flow produced a non-finite value; ``params`` holds the last finite state."""

    def __init__(self, step: int, step_size: float, params: Params):
        super().__init__(
            f"gradient flow diverged (NaN or inf) at step {step} with step size {step_size:.3g} from inputs checked "
            "finite, so the steps are too large; the last finite parameters are in .params — try a smaller lr"
        )
        self.step, self.step_size, self.params = step, step_size, params


@dataclass
class History:
    """Records taken every few steps; each field but ``step`` is a (T, R) array over records and runs."""

    step: np.ndarray
    log_time: np.ndarray  # log of the gradient-flow time covered (SGD: lr * steps); t itself overflows late
    loss: np.ndarray
    log_loss: np.ndarray
    min_margin: np.ndarray
    normalized_margin: np.ndarray  # min_i q_i / ||theta||^L
    smoothed_margin: np.ndarray  # Lyu & Li's gamma-tilde, <= normalized_margin
    norm: np.ndarray
    train_acc: np.ndarray
    kkt_proxy: np.ndarray  # 1 - cos(theta, -grad L); NaN for SGD records
    step_size: np.ndarray

    @property
    def time(self) -> np.ndarray:
        """Gradient-flow time covered, (T, R); inf where it exceeds float64."""
        with np.errstate(over="ignore"):
            return np.exp(self.log_time)

    def final(self, name: str) -> np.ndarray:
        """The last record of one field, (R,)."""
        return getattr(self, name)[-1]

    def to_frame(self):
        """A long pandas table: one row per record and run."""
        import pandas as pd

        T, R = self.loss.shape
        cols = {"step": np.repeat(self.step, R), "run": np.tile(np.arange(R), T)}
        cols |= {f.name: getattr(self, f.name).reshape(-1) for f in fields(self) if f.name != "step"}
        return pd.DataFrame(cols)


@dataclass
class FlowResult:
    """Final parameters, the records, the number of steps taken, and whether the stopping tolerance was met."""

    params: Params
    history: History
    steps: int
    converged: bool
    snapshots: list[Params] = field(default_factory=list)  # parameters at each record, when asked for


@dataclass
class _Recorder:
    """Accumulates records as rows of numpy arrays."""

    rows: dict[str, list] = field(default_factory=lambda: {f.name: [] for f in fields(History)})

    def add(self, **values: Tensor | float | int) -> None:
        for name, value in values.items():
            self.rows[name].append(value.detach().cpu().numpy() if isinstance(value, Tensor) else value)

    def history(self) -> History:
        return History(**{k: np.asarray(v) for k, v in self.rows.items()})


def _broadcast(scale: Tensor, t: Tensor) -> Tensor:
    """A per-run (R,) tensor shaped to multiply a parameter tensor with the run index first."""
    return scale.view(-1, *([1] * (t.dim() - 1)))


def _check_problem(model: Model, params: Params, X: Tensor, y: Tensor) -> Tensor:
    """Validate shapes and labels; return y as (n,) or (R, n) in X's dtype."""
    if not params:
        raise ValueError("params must be a non-empty dict of tensors")
    R = next(iter(params.values())).shape[0]
    n = X.shape[-2] if X.dim() >= 2 else -1
    if y.shape not in ((n,), (R, n)):
        raise ValueError(f"y must have shape (n,) = ({n},) or (R, n) = ({R}, {n}), got {tuple(y.shape)}")
    if not torch.all((y == 1) | (y == -1)):
        raise ValueError("y must hold labels -1 and +1 only")
    model.forward(params, X[..., :1, :])  # shape checks of the model itself
    return y.to(X.dtype)


class _State:
    """Parameters with their margins, log-loss and gradient of log L: what one step needs.

    Norms and the smoothed margin are computed on first use: the constant schedule needs them only at records.
    """

    def __init__(self, model: Model, params: Params, X: Tensor, y: Tensor, loss: str):
        self.params, self._degree, self._loss = params, model.degree, loss
        box: dict[str, Tensor] = {}

        def coef(out: Tensor) -> Tensor:  # grad log L = -sum_i a_i y_i grad f_i
            box["q"] = y * out
            box["log_sum"], a = log_sum_and_weights(box["q"], loss)
            return -a * y

        _, self.grad_log = model.value_and_vjp(params, X, coef)
        self.q, self.log_sum = box["q"], box["log_sum"]
        self.log_loss = self.log_sum - math.log(self.q.shape[-1])

    @cached_property
    def norm(self) -> Tensor:
        return sq_norm(self.params).sqrt()

    @cached_property
    def grad_norm(self) -> Tensor:
        return sq_norm(self.grad_log).sqrt()

    @cached_property
    def smoothed(self) -> Tensor:
        return smoothed_margin_from(self.log_sum, self._loss, self.norm, self._degree)

    def finite(self) -> Tensor:
        """Per run: are the log-loss and the gradient finite? (A NaN or inf entry makes the norm one.)"""
        return torch.isfinite(self.log_loss) & torch.isfinite(self.grad_norm)


def _kkt_proxy(st: _State) -> Tensor:
    """1 - cos(theta, -grad log L) per run, from the norms the state has or needs anyway."""
    dot = sum(run_sum(p * st.grad_log[k]) for k, p in st.params.items())
    return 1 + dot / (st.norm * st.grad_norm).clamp_min(torch.finfo(dot.dtype).tiny)


def _record(rec: _Recorder, model: Model, st: _State, step: int, log_time: Tensor, loss: str, step_size: Tensor) -> None:
    norm = st.norm
    min_q = st.q.min(-1).values
    rec.add(
        step=step,
        log_time=log_time,
        loss=st.log_loss.exp(),
        log_loss=st.log_loss,
        min_margin=min_q,
        normalized_margin=min_q / norm.pow(model.degree),
        smoothed_margin=st.smoothed,
        norm=norm,
        train_acc=(st.q > 0).to(st.q.dtype).mean(-1),
        kkt_proxy=_kkt_proxy(st),
        step_size=step_size,
    )


def _stop_rule(tol_kkt: float | None, tol_margin: float | None) -> Callable[[_Recorder], bool]:
    """True once every run fits the data and meets each given tolerance (KKT proxy; relative change of gamma-bar)."""

    def done(rec: _Recorder) -> bool:
        rows = rec.rows
        if tol_kkt is None and tol_margin is None:
            return False
        if not np.all(rows["min_margin"][-1] > 0):
            return False
        if tol_kkt is not None and not np.all(rows["kkt_proxy"][-1] < tol_kkt):
            return False
        if tol_margin is not None:
            if len(rows["normalized_margin"]) < 2:
                return False
            new, old = rows["normalized_margin"][-1], rows["normalized_margin"][-2]
            if not np.all(np.abs(new - old) <= tol_margin * np.abs(new)):
                return False
        return True

    return done


def gradient_flow(
    model: Model,
    params: Params,
    X: Tensor,
    y: Tensor,
    *,
    loss: str = "exp",
    schedule: str = "normalized",
    lr: float = 0.1,
    steps: int = 10_000,
    record_every: int = 100,
    tol_kkt: float | None = None,
    tol_margin: float | None = None,
    max_rel_step: float = 0.1,
    snapshots: bool = False,
    progress: bool = True,
) -> FlowResult:
    """Full-batch gradient flow from ``params`` on data (X, y), shared by all runs or one batch per run.

    ``lr`` is the Euler step for ``schedule="constant"`` and the initial step on log L for ``"normalized"``,
    whose steps also never move theta by more than ``max_rel_step * ||theta||``, and which restores the flow's
    conserved quantities (balancedness) after each step by a rescaling that leaves the network unchanged.
    With ``snapshots`` the result keeps the parameters at every record (for diagnostics along the path).
    Stops after ``steps`` steps, or at a record where every run fits the data with KKT proxy below
    ``tol_kkt`` and/or relative change of the normalized margin below ``tol_margin``.
    """
    check.problem(params, X, y)  # finite float tensors of one dtype (numpy arrays are refused), labels ±1
    check.initial_outputs(model, params, X, y)
    check_loss(loss)
    check.choice("schedule", schedule, SCHEDULES)
    lr = check.positive_real("lr", lr)
    steps = check.positive_int("steps", steps)
    record_every = check.positive_int("record_every", record_every)
    max_rel_step = check.positive_real("max_rel_step", max_rel_step)
    for name, tol in (("tol_kkt", tol_kkt), ("tol_margin", tol_margin)):
        if tol is not None:
            check.positive_real(name, tol)
    y = _check_problem(model, params, X, y)

    st = _State(model, params, X, y, loss)
    if not bool(st.finite().all()):
        raise FlowDivergence(0, lr, params)
    if schedule == "constant":
        flow = _Constant(model, X, y, loss, lr, st)
    else:
        flow = _Normalized(model, X, y, loss, lr, max_rel_step, st)
    rec, done = _Recorder(), _stop_rule(tol_kkt, tol_margin)
    _record(rec, model, st, 0, flow.log_time(0), loss, flow.eta)
    kept = [st.params] if snapshots else []
    converged, step = False, 0
    bar = tqdm(total=steps, disable=not progress, desc=f"gradient flow ({schedule})", leave=False)
    try:
        for step in range(1, steps + 1):
            st = flow.step(st)
            recording = step % record_every == 0 or step == steps
            if recording or step % CHECK_EVERY == 0:
                flow.check(step, st)
            if recording:
                _record(rec, model, st, step, flow.log_time(step), loss, flow.eta)
                if snapshots:
                    kept.append(st.params)
                bar.update(step - bar.n)
                bar.set_postfix(log_loss=f"{rec.rows['log_loss'][-1].max():.3g}",
                                margin=f"{rec.rows['normalized_margin'][-1].min():.4g}")
                if done(rec):
                    converged = True
                    break
    finally:
        bar.close()
    return FlowResult(params=st.params, history=rec.history(), steps=step, converged=converged, snapshots=kept)


class _Constant:
    """Euler steps theta <- theta - lr grad L, each covering gradient-flow time lr.

    Finiteness is checked every few steps rather than at each: a check waits for the device to finish.
    """

    def __init__(self, model: Model, X: Tensor, y: Tensor, loss: str, lr: float, st: _State):
        self._state_of = lambda params: _State(model, params, X, y, loss)
        self.lr, self.eta = lr, torch.full_like(st.log_loss, lr)
        self._checked, self._pending = (0, st.params), []

    def _advance(self, st: _State) -> _State:
        # grad L = L grad log L; L may underflow to 0 and stall the flow, as plain GD does.
        scale = -self.eta * st.log_loss.exp()
        return self._state_of({k: torch.addcmul(p, _broadcast(scale, p), st.grad_log[k]) for k, p in st.params.items()})

    def step(self, st: _State) -> _State:
        st = self._advance(st)
        self._pending.append(st.log_loss)
        return st

    def check(self, step: int, st: _State) -> None:
        """Raise FlowDivergence at the first step since the last check whose loss is not finite, with the state
        before it, found by replaying the steps from the last checked parameters."""
        # A NaN or inf anywhere reaches the loss at the latest one step later.
        finite = torch.isfinite(torch.stack(self._pending)).all(-1)
        if not bool(finite.all()):
            start, params = self._checked
            stayed_finite = int(finite.logical_not().nonzero()[0])
            last = self._state_of(params)
            for _ in range(stayed_finite):
                last = self._advance(last)
            raise FlowDivergence(start + stayed_finite + 1, self.lr, last.params)
        self._checked, self._pending = (step, st.params), []

    def log_time(self, step: int) -> Tensor:
        """log(lr * step) for every run, -inf at step 0; never overflows."""
        return torch.full_like(self.eta, float(step)).log() + math.log(self.lr)


class _Normalized:
    """Steps on log L with per-run accept/rollback and step growth: gradient flow under the time change d tau = L dt."""

    def __init__(self, model: Model, X: Tensor, y: Tensor, loss: str, lr: float, max_rel_step: float, st: _State):
        self._state_of = lambda params: _State(model, params, X, y, loss)
        self._model, self._max_rel_step = model, max_rel_step
        # Gradient flow conserves v_j^2 - ||w_j||^2 - b_j^2; the schedule restores it after each step.
        self._invariant = model.conserved(st.params) if hasattr(model, "conserved") else None
        self.eta = torch.full_like(st.log_loss, lr)
        self._log_time = torch.full_like(st.log_loss, -math.inf)

    def step(self, st: _State) -> _State:
        # The step on log L is capped relative to ||theta||: beyond that the discrete path leaves the flow.
        tiny = torch.finfo(st.norm.dtype).tiny
        step_size = torch.minimum(self.eta, self._max_rel_step * st.norm / st.grad_norm.clamp_min(tiny))
        new = {k: p - _broadcast(step_size, p) * st.grad_log[k] for k, p in st.params.items()}
        if self._invariant is not None:
            new = self._model.restore_conserved(new, self._invariant)
        cand = self._state_of(new)
        # Along the flow log L decreases and, once the data is fitted, the smoothed margin never does.
        fitted = st.q.min(-1).values > 0
        keeps_margin = ~fitted | (cand.smoothed >= st.smoothed * (1 - 1e-12))
        accept = (cand.log_loss < st.log_loss) & keeps_margin & cand.finite()
        self._log_time = torch.where(accept, torch.logaddexp(self._log_time, step_size.log() - st.log_loss),
                                     self._log_time)
        self.eta = torch.where(accept, step_size * GROW, step_size / SHRINK)
        return _merge(st, cand, accept)

    def check(self, step: int, st: _State) -> None:
        """Nothing to check: a step with a non-finite value is rolled back."""

    def log_time(self, step: int) -> Tensor:
        """log of the gradient-flow time covered by the accepted steps, per run."""
        return self._log_time


def _merge(old: _State, new: _State, accept: Tensor) -> _State:
    """Per run, keep the new state where accepted and roll back elsewhere."""
    out = object.__new__(_State)
    out._degree, out._loss = old._degree, old._loss
    out.params = {k: torch.where(_broadcast(accept, p), new.params[k], p) for k, p in old.params.items()}
    out.grad_log = {k: torch.where(_broadcast(accept, g), new.grad_log[k], g) for k, g in old.grad_log.items()}
    out.q = torch.where(accept[:, None], new.q, old.q)
    for name in ("log_sum", "log_loss", "norm", "grad_norm", "smoothed"):
        setattr(out, name, torch.where(accept, getattr(new, name), getattr(old, name)))
    return out


def sgd(
    model: Model,
    params: Params,
    X: Tensor,
    y: Tensor,
    *,
    loss: str = "exp",
    lr: float = 0.2,
    batch_size: int = 100,
    epochs: int = 10,
    seed: int | torch.Generator = 0,
    record_every: int = 1,
    progress: bool = True,
) -> FlowResult:
    """Plain mini-batch SGD on the mean loss (Min & Vidal's protocol); records on the full data every few epochs."""
    check.problem(params, X, y)  # finite float tensors of one dtype (numpy arrays are refused), labels ±1
    check.initial_outputs(model, params, X, y)
    check_loss(loss)
    lr = check.positive_real("lr", lr)
    batch_size = check.positive_int("batch_size", batch_size)
    epochs = check.positive_int("epochs", epochs)
    record_every = check.positive_int("record_every", record_every)
    y = _check_problem(model, params, X, y)
    gen = check.generator(seed)
    n = X.shape[-2]
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n={n}, got {batch_size}")
    R = next(iter(params.values())).shape[0]
    step_size = torch.full((R,), lr, dtype=X.dtype, device=X.device)
    rec = _Recorder()

    def record(st_params: Params, epoch_steps: int) -> None:
        st = _State(model, st_params, X, y, loss)
        if not bool(st.finite().all()):
            raise FlowDivergence(epoch_steps, lr, st_params)
        time = torch.full((R,), lr * epoch_steps, dtype=X.dtype, device=X.device)
        _record(rec, model, st, epoch_steps, time.log(), loss, step_size)
        rec.rows["kkt_proxy"][-1] = np.full(R, np.nan)  # a full-batch quantity; not what SGD follows

    record(params, 0)
    step = 0
    for epoch in tqdm(range(1, epochs + 1), disable=not progress, desc="SGD", leave=False):
        perm = torch.randperm(n, generator=gen).to(X.device)
        for start in range(0, n - batch_size + 1, batch_size):
            idx = perm[start : start + batch_size]
            Xb, yb = X[..., idx, :], y[..., idx]
            _, g = model.value_and_vjp(params, Xb, lambda out: -neg_derivative(yb * out, loss) * yb / batch_size)  # noqa: B023
            params = {k: torch.add(p, g[k], alpha=-lr) for k, p in params.items()}
            step += 1
        if epoch % record_every == 0 or epoch == epochs:
            record(params, step)
    return FlowResult(params=params, history=rec.history(), steps=step, converged=False)
