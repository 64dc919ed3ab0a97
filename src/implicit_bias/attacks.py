"""Generic minimum-norm attacks on the margin y f(x) of a one-logit score, batched over points, in float64.

Both attacks return an ``AttackResult``: a perturbation per point, checked to flip the sign (y f(x + delta)
<= 0), and its norm as the radius, shrunk by bisection along the perturbation. Every radius is therefore an
upper bound on the distance to the decision boundary; inf where no flip was found. Input gradients come from
torch autograd, so any differentiable score works (networks, constructions, reference classifiers).

``refine`` shortens such flips along the decision boundary, and ``min_norm`` combines DeepFool, PGD, random
DeepFool starts and ``refine``: the book's best attack. How far above the exact distance it lands, over many
networks, is measured by ``benchmarks/bench_attacks.py`` (results in ``benchmarks/results/attacks.md``).

Cost: one forward and backward pass over the points per iteration. DeepFool needs a handful of iterations;
PGD costs steps * restarts * (search + 1) passes. ``min_norm`` with its refinement and random starts took 1.5-6.5x
(median 3.2x) the time of DeepFool and PGD alone in that study (wall time on a shared machine).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from . import _validate as validate
from .perturbations import Score, bisect, flip_radius, line_radii

NORMS = ("l2", "linf")


@dataclass(frozen=True)
class AttackResult:
    """Flipping perturbations delta (n, d) (zero where none was found) and their norms (n,) (inf where none)."""

    radius: Tensor
    delta: Tensor

    @property
    def success(self) -> Tensor:
        return torch.isfinite(self.radius)


def _nonneg_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _norm(z: Tensor, norm: str) -> Tensor:
    return z.norm(dim=1) if norm == "l2" else z.abs().amax(dim=1)


def _steepest(g: Tensor, norm: str) -> tuple[Tensor, Tensor]:
    """Unit-norm direction of steepest ascent of <g, .> and its rate ||g||_dual, per row."""
    if norm == "l2":
        size = g.norm(dim=1)
        return g / size.clamp_min(1e-300)[:, None], size
    return g.sign(), g.abs().sum(1)


def _project(z: Tensor, eps: Tensor, norm: str) -> Tensor:
    """Project each row onto the norm ball of its radius eps."""
    if norm == "l2":
        return z * (eps / z.norm(dim=1).clamp_min(1e-300)).clamp(max=1)[:, None]
    return torch.maximum(torch.minimum(z, eps[:, None]), -eps[:, None])


def _margin_and_grad(score: Score, X: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Margins y f(x) and their input gradients, one pass for the whole batch (points are independent)."""
    with torch.enable_grad():
        Xg = X.detach().requires_grad_(True)
        margin = y * score(Xg)
        (grad,) = torch.autograd.grad(margin.sum(), Xg)
    return margin.detach(), grad


def _shrink(score: Score, X: Tensor, y: Tensor, delta: Tensor, norm: str, iters: int) -> tuple[Tensor, Tensor]:
    """Bisect along flipping perturbations delta towards 0; return (radius, shrunk delta)."""
    size = _norm(delta, norm)
    U = delta / size[:, None]
    radius = bisect(score, X, y, U, torch.zeros_like(size), size, iters)
    return radius, radius[:, None] * U


def _result(score: Score, X: Tensor, y: Tensor, delta: Tensor, found: Tensor, norm: str, iters: int) -> AttackResult:
    """Confirm the flips, shrink them by bisection, and pack radii (inf where nothing flipped)."""
    with torch.no_grad():
        found = found & (y * score(X + delta) <= 0)  # every reported success is a sign flip
    radius = torch.full(found.shape, math.inf, dtype=X.dtype, device=X.device)
    out = torch.zeros_like(X)
    clean = found & (_norm(delta, norm) == 0)
    radius[clean] = 0.0  # misclassified already
    move = found & ~clean
    if move.any():
        radius[move], out[move] = _shrink(score, X[move], y[move], delta[move], norm, iters)
    return AttackResult(radius=radius, delta=out)


def deepfool(
    score: Score,
    X: Tensor,
    y: Tensor,
    *,
    norm: str = "l2",
    steps: int = 50,
    overshoot: float = 0.02,
    iters: int = 40,
    init: Tensor | None = None,
) -> AttackResult:
    """DeepFool for one logit: step to the boundary of the margin's linearization until the sign flips (with a
    small overshoot), then bisect along the perturbation found. The iterate starts at x + ``init`` (n, d) when
    given (a random restart), at x otherwise."""
    validate.points(X, y)
    validate.choice("norm", norm, NORMS)
    steps, iters = validate.positive_int("steps", steps), validate.positive_int("iters", iters)
    overshoot = validate.nonneg_real("overshoot", overshoot)
    validate.score_output("score", score, X)  # a NaN score would read as 'never flipped'
    if init is not None:
        validate.field(X, init)
        validate.tensor("init", init, like=X)
    z = torch.zeros_like(X) if init is None else init.clone()
    with torch.no_grad():
        found = y * score(X) <= 0
    live = ~found
    for _ in range(steps):
        idx = live.nonzero()[:, 0]
        if idx.numel() == 0:
            break
        margin, grad = _margin_and_grad(score, X[idx] + z[idx], y[idx])
        direction, rate = _steepest(grad, norm)
        stuck = rate == 0  # flat region (every neuron off): the linearization has no boundary
        z[idx] = z[idx] - (margin / rate.clamp_min(1e-300))[:, None] * direction
        trial = (1 + overshoot) * z[idx]
        with torch.no_grad():
            flipped = (y[idx] * score(X[idx] + trial) <= 0) & ~stuck
        z[idx] = torch.where(flipped[:, None], trial, z[idx])
        found[idx] = flipped
        live[idx] = ~flipped & ~stuck
    return _result(score, X, y, z, found, norm, iters)


def pgd(
    score: Score,
    X: Tensor,
    y: Tensor,
    eps_max: float | Tensor,
    *,
    norm: str = "l2",
    start: AttackResult | None = None,
    steps: int = 30,
    restarts: int = 1,
    search: int = 10,
    seed: int | torch.Generator = 0,
    iters: int = 40,
) -> AttackResult:
    """Minimum-norm PGD: projected steepest descent on the margin in a norm ball, with bisection over its radius.

    The search starts from eps_max (or from the radii of ``start``, another attack's flips, when smaller);
    each of ``search`` rounds runs PGD at the midpoint of [lo, hi] and, on a flip, lowers hi to the flip's
    bisected norm. Restart 0 starts from the best flip so far rescaled to the ball (or from 0); the others from
    uniform points of the ball, drawn from ``seed``.
    """
    validate.points(X, y)
    validate.choice("norm", norm, NORMS)
    validate.positive_radii("eps_max", eps_max, X.shape[0])  # inf would report 'cannot flip' without a search
    validate.score_output("score", score, X)
    if start is not None:  # its radii come back where PGD finds nothing nearer: they must be real flips
        validate.flips("start.delta", score, X, y, start.delta, torch.isfinite(start.radius))
    steps, restarts, iters = (
        validate.positive_int(k, v) for k, v in (("steps", steps), ("restarts", restarts), ("iters", iters))
    )
    search = _nonneg_int("search", search)
    eps_max = torch.as_tensor(eps_max, dtype=X.dtype, device=X.device).expand(X.shape[0]).clone()
    if not torch.all(eps_max > 0):
        raise ValueError(f"eps_max must be > 0 for every point, got min {float(eps_max.min())}")
    gen = validate.generator(seed)
    n = X.shape[0]
    best = start if start is not None else AttackResult(torch.full((n,), math.inf).to(X), torch.zeros_like(X))
    if best.radius.shape != (n,) or best.delta.shape != X.shape:
        raise ValueError(
            f"start must hold radius ({n},) and delta {tuple(X.shape)}, got {tuple(best.radius.shape)} and {tuple(best.delta.shape)}"
        )
    state = _Search(best.radius.clone(), best.delta.clone(), torch.zeros(n, dtype=X.dtype, device=X.device))
    run = dict(norm=norm, steps=steps, restarts=restarts, iters=iters, gen=gen)
    with torch.no_grad():
        clean = y * score(X) <= 0
    state.radius[clean], state.delta[clean] = 0.0, 0.0
    first = (~clean & ~(state.radius <= eps_max)).nonzero()[:, 0]
    if first.numel():
        _attempt(score, X, y, first, eps_max[first], state, **run)
    for _ in range(search):
        idx = (torch.isfinite(state.radius) & (state.radius > 0) & (state.lo < state.radius)).nonzero()[:, 0]
        if idx.numel() == 0:
            break
        _attempt(score, X, y, idx, (state.lo[idx] + state.radius[idx]) / 2, state, **run)
    return AttackResult(radius=state.radius, delta=state.delta)


@dataclass
class _Search:
    """The bisection state of minimum-norm PGD, per point: best flip radius and perturbation, largest radius
    at which PGD found no flip."""

    radius: Tensor
    delta: Tensor
    lo: Tensor


def _attempt(
    score: Score,
    X: Tensor,
    y: Tensor,
    idx: Tensor,
    eps: Tensor,
    state: _Search,
    *,
    norm: str,
    steps: int,
    restarts: int,
    iters: int,
    gen: torch.Generator,
) -> None:
    """PGD at radius eps for points idx; record shrunk flips that improve on the best so far, raise lo elsewhere."""
    Xi, yi, prev = X[idx], y[idx], state.delta[idx]
    z0 = _project(prev * (eps / _norm(prev, norm).clamp_min(1e-300))[:, None], eps, norm)
    step = (2.5 / steps) * eps  # Madry et al.'s step size
    low, adv = _pgd_in_balls(score, Xi, yi, eps, z0, step, norm=norm, steps=steps, restarts=restarts, gen=gen)
    hit = low <= 0
    if hit.any():
        r, d = _shrink(score, Xi[hit], yi[hit], adv[hit], norm, iters)
        rows = idx[hit]
        better = r < state.radius[rows]
        state.radius[rows[better]], state.delta[rows[better]] = r[better], d[better]
    state.lo[idx[~hit]] = torch.maximum(state.lo[idx[~hit]], eps[~hit])


def _pgd_in_balls(
    score: Score,
    X: Tensor,
    y: Tensor,
    eps: Tensor,
    z0: Tensor,
    step: Tensor,
    *,
    norm: str,
    steps: int,
    restarts: int,
    gen: torch.Generator | None,
) -> tuple[Tensor, Tensor]:
    """Projected steepest descent on the margin in the balls of radii eps, by ``step`` (per point) along the unit
    steepest direction, from z0 (restart 0) and from uniform points of the balls (the others, drawn from gen):
    the lowest margin seen per point over every iterate, and the perturbation that reached it."""
    low = torch.full((X.shape[0],), math.inf, dtype=X.dtype, device=X.device)
    adv = torch.zeros_like(X)
    for restart in range(restarts):
        z = z0 if restart == 0 else _random_ball(X.shape[0], X.shape[1], eps, norm, gen).to(X)
        for t in range(steps + 1):
            margin, grad = _margin_and_grad(score, X + z, y)
            # Keep the most violating point, not the first flip: its direction is the nearer boundary.
            lower = margin < low
            adv[lower], low = z[lower], torch.minimum(low, margin)
            if t == steps:
                break
            direction, _ = _steepest(grad, norm)
            z = _project(z - step[:, None] * direction, eps, norm)
    return low, adv


def _random_ball(n: int, d: int, eps: Tensor, norm: str, gen: torch.Generator) -> Tensor:
    """n points uniform in the norm balls of radii eps (CPU draw, so a seed gives the same points everywhere)."""
    if norm == "linf":
        return (2 * torch.rand(n, d, generator=gen, dtype=torch.float64) - 1) * eps.cpu()[:, None]
    g = torch.randn(n, d, generator=gen, dtype=torch.float64)
    r = torch.rand(n, generator=gen, dtype=torch.float64).pow(1 / d)
    return g / g.norm(dim=1, keepdim=True) * (r * eps.cpu())[:, None]


def _shorter(a: AttackResult, b: AttackResult) -> AttackResult:
    """Per point, the shorter of two attacks' flips (a's on ties)."""
    take = b.radius < a.radius
    return AttackResult(torch.where(take, b.radius, a.radius), torch.where(take[:, None], b.delta, a.delta))


# A radius confirmed along a line (pre-activations affine in r) can miss the flip by a rounding error when the
# network is evaluated at x + r u itself: the radius grows by the first of these factors that flips it there.
CONFIRM_GROWTH = (0.0, 1e-12, 1e-10, 1e-8)


def _line_flip(score: Score, X: Tensor, y: Tensor, U: Tensor, reach: Tensor, grid: int, iters: int) -> AttackResult:
    """First flip along the unit directions U (n, d) within radius ``reach`` (n,): a line search on ``grid`` steps
    of (0, reach], refined by bisection, each confirmed by a forward pass at x + r u (inf where none is)."""
    along = flip_radius(score, X, y, U * reach[:, None], line_radii(1.0, grid, like=X), iters) * reach
    radius = torch.full_like(along, math.inf)
    with torch.no_grad():
        for growth in CONFIRM_GROWTH:
            r = along * (1 + growth)
            ok = torch.isinf(radius) & torch.isfinite(r) & (y * score(X + r[:, None] * U) <= 0)
            radius = torch.where(ok, r, radius)
    return AttackResult(radius, torch.where(torch.isfinite(radius)[:, None], radius[:, None] * U, 0.0))


def refine(
    score: Score,
    X: Tensor,
    y: Tensor,
    start: AttackResult,
    *,
    norm: str = "l2",
    rounds: int = 10,
    grid: int = 32,
    iters: int = 40,
) -> AttackResult:
    """Shorten flips found by an attack (never from scratch): a first-crossing line search along each flip's own
    direction (the final shrink: bisection alone may stop at a farther crossing of the ray), then ``rounds`` steps
    along the boundary: at the flip x + delta, line-search the ray from x along the margin's steepest descent
    there, and along the mean of that and the current direction. Each candidate is a confirmed flip within
    the current radius, kept only where shorter, so radii never grow. Cost per round: one gradient pass,
    2 (grid + iters) margin evaluations (cheap along lines of ReLU networks) and up to 8 forward passes."""
    validate.points(X, y)
    validate.choice("norm", norm, NORMS)
    rounds = _nonneg_int("rounds", rounds)
    grid, iters = validate.positive_int("grid", grid), validate.positive_int("iters", iters)
    if start.radius.shape != (X.shape[0],) or start.delta.shape != X.shape:
        raise ValueError(f"start must hold radius ({X.shape[0]},) and delta {tuple(X.shape)}")
    validate.flips("start.delta", score, X, y, start.delta, torch.isfinite(start.radius))
    best = AttackResult(start.radius.clone(), start.delta.clone())
    live = torch.isfinite(best.radius) & (best.radius > 0)
    for r in range(rounds + 1):
        idx = live.nonzero()[:, 0]
        if idx.numel() == 0:
            break
        Xi, yi, cur = X[idx], y[idx], AttackResult(best.radius[idx], best.delta[idx])
        own = cur.delta / _norm(cur.delta, norm)[:, None]
        if r == 0:
            candidates = [own]
        else:
            _, grad = _margin_and_grad(score, Xi + cur.delta, yi)
            steepest, rate = _steepest(grad, norm)
            down = torch.where((rate > 0)[:, None], -steepest, own)  # flat there (every neuron off): stay
            mean = own + down
            candidates = [down, mean / _norm(mean, norm).clamp_min(torch.finfo(X.dtype).tiny)[:, None]]
        new = cur
        for U in candidates:
            new = _shorter(new, _line_flip(score, Xi, yi, U, cur.radius, grid, iters))
        gained = new.radius < cur.radius * (1 - 1e-9)
        best.radius[idx], best.delta[idx] = new.radius, new.delta
        if r > 0:
            live[idx] = gained  # a round without progress stays without progress
    return best


# Random starts of ``min_norm`` lie in balls of these multiples of the best radius so far, in turn: the nearest
# boundary can lie where neurons that are off at x switch on, which no gradient at x sees (at d = 400, k = 16 the
# best of DeepFool and PGD stayed 17% above the exact distance on such a point; starts at 2-3x reached it).
START_SCALES = (0.5, 1.0, 2.0, 3.0)


def min_norm(
    score: Score,
    X: Tensor,
    y: Tensor,
    *,
    norm: str = "l2",
    seed: int | torch.Generator = 0,
    rounds: int | None = 10,
    starts: int = 8,
    **pgd_kw,
) -> dict[str, AttackResult]:
    """DeepFool and PGD, each on its own, and the best per point ('best'): the shortest of DeepFool, PGD and
    ``starts`` DeepFool runs from random points of balls around x (radii ``START_SCALES`` times the best radius
    so far, in turn; drawn from ``seed``), each shortened by ``refine`` (``rounds`` steps along the boundary).
    rounds=None gives the attack before refinement: the shorter of DeepFool and PGD as found, no random starts.

    PGD's search starts at twice DeepFool's radius (its bracket only; PGD starts from 0, not from DeepFool's
    perturbation), or at twice the largest DeepFool radius where DeepFool failed.
    """
    starts = _nonneg_int("starts", starts)
    if rounds is not None:
        rounds = _nonneg_int("rounds", rounds)
    df = deepfool(score, X, y, norm=norm)
    ok = df.success & (df.radius > 0)
    fallback = 2 * df.radius[ok].max() if ok.any() else torch.tensor(1.0).to(X)
    eps = torch.where(ok, 2 * df.radius, fallback)
    ref = pgd(score, X, y, eps, norm=norm, seed=seed, **pgd_kw)
    if rounds is None:
        return {"deepfool": df, "pgd": ref, "best": _shorter(df, ref)}
    best = _shorter(*(refine(score, X, y, res, norm=norm, rounds=rounds) for res in (df, ref)))
    gen = validate.generator(seed)
    for s in range(starts):
        scale = START_SCALES[s % len(START_SCALES)] * torch.where(torch.isfinite(best.radius), best.radius, eps)
        init = _random_ball(X.shape[0], X.shape[1], scale, norm, gen).to(X)
        found = refine(score, X, y, deepfool(score, X, y, norm=norm, init=init), norm=norm, rounds=rounds)
        best = _shorter(best, found)
    return {"deepfool": df, "pgd": ref, "best": best}


def exp_loss_pgd(
    score: Score,
    X: Tensor,
    y: Tensor,
    eps: Sequence[float] | Tensor | np.ndarray,
    *,
    step: float = 0.1,
    iterations: int = 100,
    chunk: int = 20_000,
) -> Tensor:
    """Min & Vidal's attack: l2 PGD on the exponential loss exp(-y f(x + delta)) with normalized-gradient steps.

    For every radius eps_g and point, delta starts at 0, moves by ``step`` along the normalized gradient of
    the loss (the paper: 0.1, 2000 iterations) and is projected back onto the l2 ball of radius eps_g. The
    normalized gradient of e^(-q) is that of -q, so the margin's gradient is used (no underflow). A point
    counts as flipped at eps_g if any iterate has margin <= 0 (checked in float64; at least as strong as
    looking at the last iterate only). Returns flipped, (G, n) bool. All radii run as one batch of G n
    points, in chunks of at most ``chunk`` points.
    """
    validate.points(X, y)
    validate.score_output("score", score, X)
    grid = validate.radii(eps, "eps", allow_zero=True).to(X)
    step = validate.positive_real("step", step)
    iterations = validate.positive_int("iterations", iterations)
    chunk = validate.positive_int("chunk", chunk)
    G, n = grid.numel(), X.shape[0]
    Xs, ys, E = X.repeat(G, 1), y.repeat(G), grid.repeat_interleave(n)
    flipped = torch.zeros(G * n, dtype=torch.bool, device=X.device)
    for start in range(0, G * n, chunk):
        sl = slice(start, start + chunk)
        low, _ = _pgd_in_balls(
            score,
            Xs[sl],
            ys[sl],
            E[sl],
            torch.zeros_like(Xs[sl]),
            torch.full_like(E[sl], step),
            norm="l2",
            steps=iterations,
            restarts=1,
            gen=None,
        )
        flipped[sl] = low <= 0
    return flipped.view(G, n)


class _TwoLogits(torch.nn.Module):
    """A one-logit score as two logits [-f/2, f/2] (their difference is f), for libraries that want classes."""

    def __init__(self, score: Score):
        super().__init__()
        self.score = score

    def forward(self, x: Tensor) -> Tensor:
        f = self.score(x.reshape(x.shape[0], -1).to(torch.float64))
        return torch.stack([-f / 2, f / 2], dim=1)  # float64: a float32 cross-entropy saturates at large margins


def _art_classifier(score: Score, temperature: float, d: int, clip: tuple[float, float] | None):
    """ART's PyTorchClassifier around the two logits of score / temperature (inputs (n, d), on the CPU)."""
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        model=_TwoLogits(lambda Z: score(Z) / temperature),
        loss=torch.nn.CrossEntropyLoss(),
        input_shape=(d,),
        nb_classes=2,
        clip_values=clip,
        device_type="cpu",
    )


def _art_apgd(clf, norm: str, eps: float, *, max_iter: int, restarts: int, batch_size: int):
    """ART's APGD-CE at one radius (step 2 eps, as in Croce & Hein's schedule), silent."""
    from art.attacks.evasion import AutoProjectedGradientDescent

    return AutoProjectedGradientDescent(
        clf,
        norm=np.inf if norm == "linf" else 2,
        eps=eps,
        eps_step=2 * eps,
        max_iter=max_iter,
        nb_random_init=restarts,
        batch_size=batch_size,
        loss_type="cross_entropy",
        verbose=False,
    )


def apgd(
    score: Score,
    X: Tensor,
    y: Tensor,
    eps: Sequence[float] | np.ndarray,
    *,
    norm: str = "linf",
    max_iter: int = 50,
    restarts: int = 1,
    bounds: tuple[float, float] | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    batch_size: int = 1000,
) -> Tensor:
    """APGD-CE (Croce & Hein) from the Adversarial Robustness Toolbox on the two-logit wrapper of a score.

    For each eps > 0 of the grid: ART's ``AutoProjectedGradientDescent`` with the cross-entropy loss on the
    logits [-f/2, f/2] / ``temperature``; inputs clipped to ``bounds`` when given (the paper kept MNIST pixels
    in [0, 1]; None: no box, the threat model of the book's own attacks). ART computes in float32; each
    adversarial example is projected back onto the eps-ball (and the box) in float64, and a flip counts only if
    y f(x + delta) <= 0 there. Radius 0 counts misclassified points. ART draws its random starts from numpy's
    global generator, seeded here with ``seed``. Returns flipped, (G, n) bool.

    Pitfall: at margins of a few tens the cross-entropy gradient is ~e^(-margin), below the tolerance that ART
    adds to the l2 norm when it normalizes the gradient, so l2 APGD-CE stalls on confidently classified points
    and over-reports robustness at large radii; a temperature > 1 (or the book's margin-based attacks) fixes it.
    """
    validate.points(X, y)
    validate.score_output("score", score, X)
    grid = validate.radii(eps, "eps", allow_zero=True)
    validate.choice("norm", norm, NORMS)
    max_iter, restarts = validate.positive_int("max_iter", max_iter), validate.positive_int("restarts", restarts)
    temperature = validate.positive_real("temperature", temperature)
    batch_size = validate.positive_int("batch_size", batch_size)
    if bounds is not None and not (len(bounds) == 2 and bounds[0] < bounds[1]):
        raise ValueError(f"bounds must be None or (low, high) with low < high, got {bounds!r}")
    clip = None if bounds is None else (float(bounds[0]), float(bounds[1]))
    clf = _art_classifier(score, temperature, X.shape[1], clip)
    onehot = np.eye(2, dtype=np.float32)[(y > 0).long().cpu().numpy()]
    x32 = X.detach().cpu().numpy().astype(np.float32)
    with torch.no_grad():
        clean = y * score(X) <= 0
    out = []
    for e in grid.tolist():
        if e == 0:
            out.append(clean)
            continue
        np.random.seed(seed)
        attack = _art_apgd(clf, norm, e, max_iter=max_iter, restarts=restarts, batch_size=batch_size)
        adv = torch.as_tensor(attack.generate(x=x32, y=onehot)).to(X)
        adv = X + _project(adv - X, torch.full((X.shape[0],), e).to(X), norm)
        if bounds is not None:
            adv = adv.clamp(*clip)
        with torch.no_grad():
            out.append(clean | (y * score(adv) <= 0))
    return torch.stack(out)
