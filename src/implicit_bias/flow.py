"""Gradient flow on homogeneous models, simulated fast enough to reach the max-margin KKT direction.

Two full-batch schedules trace the same trajectory: ``constant`` is the Euler discretization of
d theta/dt = -grad L; ``normalized`` is gradient descent on log L (Lyu & Li's loss-based learning rate), which
follows gradient flow under the time change d tau = L dt, with per-run accept/rollback and step growth. Both
record the gradient-flow time t they have covered. ``sgd`` is plain mini-batch SGD, Min & Vidal's protocol.

The engine computes in the dtype of the parameters and data: float64 by default (the book's numbers), float32
as a fast mode for exploration (``benchmarks/`` reports its speed-up; ``tests/test_float32.py`` runs chapters in
it with their checks holding). The loop updates three parameter-sized buffers in place (parameters, gradient,
and the parameters at the last finiteness check; the normalized schedule's third holds its candidate), in the
model's packed layout (for the two-layer network [W b] is one matrix, so each pass is one matrix product), and
keeps the model's (runs, m, n) pre-activations in one buffer from step to step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import partial

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from . import _validate as validate
from .loss import LOSSES, log_sum_and_weights, neg_derivative, smoothed_margin_from
from .network import Model, Params, alignment_gap, sq_norm

SCHEDULES = ("normalized", "constant")
GROW, SHRINK = 2 ** (1 / 5), 2 ** (1 / 10)  # Lyu & Li's step growth after an accepted step and shrink after a rollback
CHECK_EVERY = 32  # constant schedule: steps between finiteness checks (and at every record)


def rejected_fraction_at_equilibrium() -> float:
    """The fraction of its steps a run of the normalized schedule rejects once its step size has stopped growing:
    accepted steps multiply the step by GROW and rejected ones divide it by SHRINK, and the two balance there."""
    return math.log(GROW) / (math.log(GROW) + math.log(SHRINK))


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

    def stalled(self) -> np.ndarray:
        """(T - 1, R): True where no flow time was covered between consecutive records. With a record at every step
        of the normalized schedule, these are the steps each run rejected (an accepted step always covers time)."""
        return np.diff(self.log_time, axis=0) == 0

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


def _validate_problem(model: Model, params: Params, X: Tensor, y: Tensor) -> Tensor:
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


@dataclass
class _State:
    """Parameters with their margins, log-loss and gradient of log L: what one step needs.

    Norms and the smoothed margin are computed on first use (the constant schedule needs them only at records)
    and kept in the underscored fields. In the training loop the tensors of ``params`` and ``grad_log`` are
    buffers that the next step overwrites: a state is valid until the next step.
    """

    params: Params
    grad_log: Params
    q: Tensor
    log_sum: Tensor
    log_loss: Tensor
    degree: int
    loss: str
    _norm: Tensor | None = None
    _grad_norm: Tensor | None = None
    _smoothed: Tensor | None = None

    @property
    def norm(self) -> Tensor:
        if self._norm is None:
            self._norm = sq_norm(self.params).sqrt()
        return self._norm

    @property
    def grad_norm(self) -> Tensor:
        if self._grad_norm is None:
            self._grad_norm = sq_norm(self.grad_log).sqrt()
        return self._grad_norm

    @property
    def smoothed(self) -> Tensor:
        if self._smoothed is None:
            self._smoothed = smoothed_margin_from(self.log_sum, self.loss, self.norm, self.degree)
        return self._smoothed

    def finite(self) -> Tensor:
        """Per run: are the log-loss and the gradient finite? (A NaN or inf entry makes the norm one.) Two operations
        fewer than isfinite's four each, since the normalized schedule asks at every step: x - x is 0 for finite x and
        NaN otherwise, and a norm is >= 0 or NaN."""
        return (self.log_loss - self.log_loss == 0) & (self.grad_norm < math.inf)


# Entries of the (runs, m, n) pre-activations one pass handles (16 MB in float64): with the pre-activations in one
# reused buffer, blocks of runs up to this size were fastest per run (at the small size, R = 1024: 2^21 entries per
# block beat 2^19, 2^23 and one pass; R = 256 runs in one pass); but a block keeps at least PASS_MIN_RUNS runs,
# since with few large runs splitting did not pay (the medium size).
PASS_ENTRIES, PASS_MIN_RUNS = 2**21, 32


def _evaluate(
    model: Model,
    params: Params,
    X: Tensor,
    y: Tensor,
    loss: str,
    out: Params | None = None,
    scratch: dict[str, Tensor] | None = None,
) -> _State:
    """The state at ``params``: one forward pass and one vjp, by blocks of runs when the runs are many (``PASS_ENTRIES``);
    the gradient goes into ``out`` when given, intermediate values into the model's buffers in ``scratch``."""
    R = next(iter(params.values())).shape[0]
    blocks = -(-R // max(PASS_MIN_RUNS, PASS_ENTRIES // (getattr(model, "m", 1) * X.shape[-2])))
    if blocks <= 1:
        return _evaluate_pass(model, params, X, y, loss, out, scratch)
    out = {k: torch.empty_like(t) for k, t in params.items()} if out is None else out
    parts = [
        _evaluate_pass(
            model,
            {k: t[runs] for k, t in params.items()},
            X[runs] if X.dim() == 3 else X,
            y[runs] if y.dim() == 2 else y,
            loss,
            {k: t[runs] for k, t in out.items()},
            scratch,
        )
        for runs in (slice(start, start + -(-R // blocks)) for start in range(0, R, -(-R // blocks)))
    ]
    q, log_sum = torch.cat([s.q for s in parts]), torch.cat([s.log_sum for s in parts])
    return _State(params, out, q, log_sum, log_sum - math.log(q.shape[-1]), model.degree, loss)


def _evaluate_pass(
    model: Model,
    params: Params,
    X: Tensor,
    y: Tensor,
    loss: str,
    out: Params | None = None,
    scratch: dict[str, Tensor] | None = None,
) -> _State:
    """The state at ``params`` from one forward pass and one vjp over all their runs."""
    box: dict[str, Tensor] = {}

    def coef(values: Tensor) -> Tensor:  # grad log L = -sum_i a_i y_i grad f_i
        box["q"] = y * values
        box["log_sum"], a = log_sum_and_weights(box["q"], loss)
        return a.mul_(y).neg_()

    _, grad_log = model.value_and_vjp(params, X, coef, out=out, scratch=scratch)
    q, log_sum = box["q"], box["log_sum"]
    return _State(params, grad_log, q, log_sum, log_sum - math.log(q.shape[-1]), model.degree, loss)


def _merge(old: _State, new: _State, accept: Tensor) -> _State:
    """Per run, the new state's margins, losses and norms where accepted and the old ones elsewhere; the parameters
    and gradient are the new state's, already merged."""
    merged = {}
    for f in fields(_State):
        a, b = getattr(old, f.name), getattr(new, f.name)
        if isinstance(b, dict):
            merged[f.name] = b
        elif isinstance(a, Tensor) and isinstance(b, Tensor):
            merged[f.name] = torch.where(_broadcast(accept, b), b, a)
        else:  # settings shared by both states; a cache that only one of them holds is dropped
            merged[f.name] = a if a is b or (not isinstance(a, Tensor) and a == b) else None
    return _State(**merged)


def _record(
    rec: _Recorder, model: Model, st: _State, step: int, log_time: Tensor, loss: str, step_size: Tensor
) -> None:
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
        kkt_proxy=alignment_gap(st.params, st.grad_log, norm, st.grad_norm),
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
    validate.problem(params, X, y)  # finite float tensors of one dtype (numpy arrays are refused), labels ±1
    validate.choice("loss", loss, LOSSES)
    validate.choice("schedule", schedule, SCHEDULES)
    lr = validate.positive_real("lr", lr)
    steps = validate.positive_int("steps", steps)
    record_every = validate.positive_int("record_every", record_every)
    max_rel_step = validate.positive_real("max_rel_step", max_rel_step)
    for name, tol in (("tol_kkt", tol_kkt), ("tol_margin", tol_margin)):
        if tol is not None:
            validate.positive_real(name, tol)
    y = _validate_problem(model, params, X, y)
    scratch: dict[str, Tensor] = {}  # the model's (runs, m, n) buffer, allocated once for the whole run
    st, X = _initial_state(model, params, X, y, loss, lr)
    evaluate = partial(_evaluate, model, X=X, y=y, loss=loss, scratch=scratch)
    flow = (
        _Constant(evaluate, model.unpack, lr, st)
        if schedule == "constant"
        else _Normalized(model, evaluate, lr, max_rel_step, st)
    )
    return _loop(
        flow,
        st,
        model,
        steps,
        record_every,
        _stop_rule(tol_kkt, tol_margin),
        snapshots,
        scratch,
        tqdm(total=steps, disable=not progress, desc=f"gradient flow ({schedule})", leave=False),
    )


def _initial_state(model: Model, params: Params, X: Tensor, y: Tensor, loss: str, lr: float) -> tuple[_State, Tensor]:
    """The state at the start, in the model's packed layout, and the packed inputs: the loop updates its own copies
    in place and the caller's tensors stay as they are. Its forward pass is also the check of the initial margins.
    (No scratch buffer: it would still be held at the first record, beside the record's own temporaries.)"""
    own, X = model.pack(params, X)
    st = _evaluate(model, own, X, y, loss)
    validate.initial_margins(st.q, stacklevel=4)  # warnings point at the user's call of gradient_flow
    if not bool(st.finite().all()):
        raise FlowDivergence(0, lr, params)
    return st, X


def _loop(
    flow: _Constant | _Normalized,
    st: _State,
    model: Model,
    steps: int,
    record_every: int,
    done: Callable[[_Recorder], bool],
    snapshots: bool,
    scratch: dict[str, Tensor],
    bar: tqdm,
) -> FlowResult:
    """The training loop: steps, finiteness checks, records, the stopping rule and the progress bar."""
    rec = _Recorder()
    _record(rec, model, st, 0, flow.log_time(0), st.loss, flow.eta)
    kept = [model.unpack(st.params)] if snapshots else []
    converged, step = False, 0
    try:
        for step in range(1, steps + 1):
            st = flow.step(st)
            recording = step % record_every == 0 or step == steps
            if recording or step % CHECK_EVERY == 0:
                flow.check(step, st)
            if recording:
                # A record needs parameter-sized temporaries of its own: the steps' buffer is freed for them, and
                # allocated again by the next step (once a record), so the peak stays that of a step.
                scratch.clear()
                _record(rec, model, st, step, flow.log_time(step), st.loss, flow.eta)
                if snapshots:
                    kept.append(model.unpack(st.params))
                bar.update(step - bar.n)
                bar.set_postfix(
                    log_loss=f"{rec.rows['log_loss'][-1].max():.3g}",
                    margin=f"{rec.rows['normalized_margin'][-1].min():.4g}",
                )
                if done(rec):
                    converged = True
                    break
    finally:
        bar.close()
    return FlowResult(
        params=model.unpack(st.params), history=rec.history(), steps=step, converged=converged, snapshots=kept
    )


def _copy(params: Params) -> Params:
    """A copy the loop's in-place updates cannot reach."""
    return {k: t.clone() for k, t in params.items()}


class _Constant:
    """Euler steps theta <- theta - lr grad L, each covering gradient-flow time lr, in place.

    Finiteness is checked every few steps rather than at each: a check waits for the device to finish. The
    parameters at the last check are kept in a third buffer (beside the parameters and the gradient).
    """

    def __init__(self, evaluate: Callable[..., _State], unpack: Callable[[Params], Params], lr: float, st: _State):
        self._evaluate, self._unpack = evaluate, unpack
        self.lr, self.eta = lr, torch.full_like(st.log_loss, lr)
        self._saved, self._checked, self._pending = _copy(st.params), 0, []

    def _advance(self, st: _State) -> _State:
        # grad L = L grad log L; L may underflow to 0 and stall the flow, as plain GD does.
        scale = -self.eta * st.log_loss.exp()
        for k, p in st.params.items():
            p.addcmul_(_broadcast(scale, p), st.grad_log[k])
        return self._evaluate(st.params, out=st.grad_log)

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
            stayed_finite = int(finite.logical_not().nonzero()[0])
            for k, p in st.params.items():
                p.copy_(self._saved[k])
            last = self._evaluate(st.params, out=st.grad_log)
            for _ in range(stayed_finite):
                last = self._advance(last)
            raise FlowDivergence(self._checked + stayed_finite + 1, self.lr, self._unpack(last.params))
        for k, p in st.params.items():
            self._saved[k].copy_(p)
        self._checked, self._pending = step, []

    def log_time(self, step: int) -> Tensor:
        """log(lr * step) for every run, -inf at step 0; never overflows."""
        return torch.full_like(self.eta, float(step)).log() + math.log(self.lr)


class _Normalized:
    """Steps on log L with per-run accept/rollback and step growth: gradient flow under the time change d tau = L dt.

    Three parameter-sized buffers: the candidate of each step goes into a spare one and its gradient over the
    current gradient; a run that rejects its step gets its parameters back, and its gradient back from the step
    it rejected, (theta - theta') / step (to rounding), so no buffer keeps the old gradient.
    """

    def __init__(self, model: Model, evaluate: Callable[..., _State], lr: float, max_rel_step: float, st: _State):
        self._model, self._evaluate, self._max_rel_step = model, evaluate, max_rel_step
        # Gradient flow conserves v_j^2 - ||w_j||^2 - b_j^2; the schedule restores it after each step.
        self._invariant = model.conserved(st.params) if hasattr(model, "conserved") else None
        self._spare = _copy(st.params)
        self.eta = torch.full_like(st.log_loss, lr)
        self._log_time = torch.full_like(st.log_loss, -math.inf)

    def _candidate(self, st: _State, step_size: Tensor) -> tuple[_State, Tensor | None]:
        """The state after a step of the given size on log L, conserved quantities restored, in the spare buffer
        and the current gradient's; with the restoring factors (None without conserved quantities)."""
        params = self._spare
        for k, p in st.params.items():
            torch.addcmul(p, _broadcast(step_size, p), st.grad_log[k], value=-1, out=params[k])
        c = None if self._invariant is None else self._model.restore_conserved_(params, self._invariant)
        return self._evaluate(params, out=st.grad_log), c

    def _roll_back(self, st: _State, cand: _State, accept: Tensor, step_size: Tensor, c: Tensor | None) -> _State:
        """Per run, the candidate where accepted and the state before it elsewhere, in the candidate's buffers."""
        keep = accept.to(step_size.dtype)
        if c is not None:  # the rejected candidates as they were before the restore
            self._model.rescale_(cand.params, torch.where(accept.unsqueeze(1), 1.0, c.reciprocal()))
        inv_step = (1 - keep) / step_size
        for k, t in cand.params.items():
            old, mask = st.params[k], _broadcast(accept, t)
            # rejected rows: (theta - theta') / step, the gradient of the step they rejected; accepted rows unchanged
            t.mul_(_broadcast(keep - inv_step, t)).addcmul_(old, _broadcast(inv_step, t))
            torch.where(mask, cand.grad_log[k], t, out=cand.grad_log[k])
            torch.where(mask, t, old, out=t)
        return _merge(st, cand, accept)

    def step(self, st: _State) -> _State:
        # The step on log L is capped relative to ||theta||: beyond that the discrete path leaves the flow.
        tiny = torch.finfo(st.norm.dtype).tiny
        step_size = torch.minimum(self.eta, self._max_rel_step * st.norm / st.grad_norm.clamp_min(tiny))
        cand, c = self._candidate(st, step_size)
        # Along the flow log L decreases and, once the data is fitted, the smoothed margin never does.
        fitted = st.q.amin(-1) > 0
        keeps_margin = ~fitted | (cand.smoothed >= st.smoothed * (1 - 1e-12))
        accept = (cand.log_loss < st.log_loss) & keeps_margin & cand.finite()
        self._log_time = torch.where(
            accept, torch.logaddexp(self._log_time, step_size.log() - st.log_loss), self._log_time
        )
        self.eta = torch.where(accept, step_size * GROW, step_size / SHRINK)
        self._spare = st.params
        return cand if bool(accept.all()) else self._roll_back(st, cand, accept, step_size, c)

    def check(self, step: int, st: _State) -> None:
        """Nothing to check: a step with a non-finite value is rolled back."""

    def log_time(self, step: int) -> Tensor:
        """log of the gradient-flow time covered by the accepted steps, per run."""
        return self._log_time


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
    validate.problem(params, X, y)  # finite float tensors of one dtype (numpy arrays are refused), labels ±1
    validate.choice("loss", loss, LOSSES)
    lr = validate.positive_real("lr", lr)
    batch_size = validate.positive_int("batch_size", batch_size)
    epochs = validate.positive_int("epochs", epochs)
    record_every = validate.positive_int("record_every", record_every)
    y = _validate_problem(model, params, X, y)
    validate.initial_margins(y * model.forward(params, X))
    gen = validate.generator(seed)
    n = X.shape[-2]
    if batch_size > n:
        raise ValueError(f"batch_size must be <= n={n}, got {batch_size}")
    R = next(iter(params.values())).shape[0]
    step_size = torch.full((R,), lr, dtype=X.dtype, device=X.device)
    rec = _Recorder()

    def record(st_params: Params, epoch_steps: int) -> None:
        st = _evaluate(model, st_params, X, y, loss)
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
