"""Two-layer networks N(x) = sum_j v_j phi(w_j^T x + b_j), batched over R independent runs.

Every trainable tensor has the run index first: W (R, m, d), b (R, m), v (R, m). Parameters are plain dicts
of tensors so that the flow can treat them generically; a fixed second layer is held by the model, not in
the dict. Gradients are written out by hand: with inputs shared by all runs, the forward pass and the
first-layer gradient are each one matrix product over the R*m neurons of all runs together.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from . import _validate as validate

Params = dict[str, Tensor]

# Guard for per-sample gradients: an (n, P) matrix is only for diagnostics on small problems.
MAX_PER_SAMPLE_ENTRIES = 50_000_000


def power(x: Tensor, p: float) -> Tensor:
    """x ** p, a new tensor; a whole p above 3 by repeated squaring, since torch's pow sends such exponents to
    std::pow elementwise (25x slower than two products for p = 4)."""
    if p <= 3 or not float(p).is_integer():
        return x.pow(p)
    result, base, k = None, x, int(p)
    while k:
        if k & 1:
            result = base if result is None else result * base
        k >>= 1
        if k:
            base = base * base
    return result


class Model(Protocol):
    """What the gradient-flow engine and the KKT diagnostics need from a homogeneous model."""

    degree: int

    def forward(self, params: Params, X: Tensor) -> Tensor: ...

    def value_and_vjp(
        self,
        params: Params,
        X: Tensor,
        coef_fn: Callable[[Tensor], Tensor],
        *,
        out: Params | None = None,
        scratch: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, Params]: ...

    def per_sample_grads(self, params: Params, X: Tensor, run: int = 0) -> Tensor: ...

    def pack(self, params: Params, X: Tensor) -> tuple[Params, Tensor]: ...

    def unpack(self, params: Params) -> Params: ...


def _run_seeds(seed: int | torch.Generator, runs: int) -> list[torch.Generator]:
    """One generator per run: an int seed gives run r the seed seed + r, so run r does not depend on R."""
    if isinstance(seed, torch.Generator):
        return [seed] * runs
    base = validate.generator(seed).initial_seed()
    return [torch.Generator().manual_seed(base + r) for r in range(runs)]


def _validate_inputs(X: Tensor, d: int, runs: int | None = None) -> None:
    """Raise unless X is (n, d) shared by all runs or (R, n, d) with one batch per run."""
    if X.dim() not in (2, 3) or X.shape[-1] != d:
        raise ValueError(f"X must have shape (n, {d}) or (R, n, {d}), got {tuple(X.shape)}")
    if X.dim() == 3 and runs is not None and X.shape[0] != runs:
        raise ValueError(f"X has {X.shape[0]} runs in its first dimension but the parameters have R={runs}")


def scratch_buffer(scratch: dict[str, Tensor], name: str, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """An uninitialized tensor of ``shape`` in ``like``'s dtype and device: a view of the buffer kept in ``scratch``
    under ``name`` (grown when too small), so that a loop calling with the same dict allocates once, not every step."""
    size = math.prod(shape)
    buffer = scratch.get(name)
    if buffer is None or buffer.numel() < size or buffer.dtype != like.dtype or buffer.device != like.device:
        buffer = scratch[name] = torch.empty(size, dtype=like.dtype, device=like.device)
    return (buffer if buffer.numel() == size else buffer[:size]).view(shape)


def flatten(params: Params) -> Tensor:
    """All parameters of each run as one row: (R, P), in the dict's order."""
    R = next(iter(params.values())).shape[0]
    return torch.cat([t.reshape(R, -1) for t in params.values()], dim=1)


# Block length of run_sum: well below torch's grain size (32768), under which one output is summed by one thread.
SUM_BLOCK = 4096


def run_sum(t: Tensor) -> Tensor:
    """Sum over all but the run dimension, (R,), in an order that does not depend on the number of threads.

    torch splits one long sum across threads, and the split changes its rounding; gradient flow amplifies such
    last-bit differences into different trajectories, so runs with 1 and 2 threads would disagree. Summing
    fixed-length blocks first (one thread each), then the block sums, keeps one order for any thread count.
    """
    R = t.shape[0]
    flat = t.reshape(R, -1)
    full = flat.shape[1] // SUM_BLOCK * SUM_BLOCK
    if full == 0:
        return flat.sum(-1)
    # Views of the full blocks, the rest as one shorter block: the same sums as zero-padding the rest, without
    # the padded copy (which cost 30x the sums themselves at d = 400, m = 1024).
    blocks = flat[:, :full].view(R, -1, SUM_BLOCK).sum(-1)
    if full < flat.shape[1]:
        blocks = torch.cat([blocks, flat[:, full:].sum(-1, keepdim=True)], 1)
    return blocks.sum(-1)


def sq_norm(params: Params) -> Tensor:
    """Squared Euclidean norm of each run's parameters, (R,), independent of the thread count (``run_sum``)."""
    total, *rest = (run_sum(t * t) for t in params.values())
    for part in rest:
        total.add_(part)
    return total


def alignment_gap(
    params: Params, grad_log: Params, norm: Tensor | None = None, grad_norm: Tensor | None = None
) -> Tensor:
    """1 - cos(theta, -grad log L) per run, (R,), with thread-invariant sums: zero exactly when the descent
    direction points along theta. Norms already at hand can be passed in."""
    norm = sq_norm(params).sqrt() if norm is None else norm
    grad_norm = sq_norm(grad_log).sqrt() if grad_norm is None else grad_norm
    dot = sum(run_sum(p * grad_log[k]) for k, p in params.items())
    return 1 + dot / (norm * grad_norm).clamp_min(torch.finfo(dot.dtype).tiny)


@dataclass(frozen=True)
class TwoLayerNet:
    """Two-layer network of width m on R^d, ReLU (p = 1) or pReLU sigma(z)^p / ||(w_j, b_j)||^(p-1); no output bias.

    With ``train_outer=False`` the second layer is fixed to +-1/sqrt(m) (first half +, second half -) and
    the network is 1-homogeneous in its trained parameters; otherwise it is 2-homogeneous.
    """

    d: int
    m: int
    bias: bool = True
    train_outer: bool = True
    activation: str = "relu"
    p: float = 1.0

    def __post_init__(self) -> None:
        validate.positive_int("d", self.d)
        validate.positive_int("m", self.m)
        validate.choice("activation", self.activation, ("relu", "prelu"))
        validate.exponent("p", self.p)
        if self.activation == "relu" and self.p != 1:
            raise ValueError(f"p must be 1 for activation='relu' (use activation='prelu'), got {self.p!r}")
        if not self.train_outer and self.m < 2:
            raise ValueError(f"m must be >= 2 with a fixed second layer (both signs), got {self.m}")

    @property
    def degree(self) -> int:
        """Homogeneity degree L in the trained parameters: N(x; c theta) = c^L N(x; theta)."""
        return 2 if self.train_outer else 1

    def init(
        self,
        runs: int = 1,
        scale: float = 1e-3,
        *,
        seed: int | torch.Generator = 0,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> Params:
        """Independent N(0, scale^2) entries for every trained tensor of each of ``runs`` runs."""
        runs = validate.positive_int("runs", runs)
        scale = validate.init_scale("scale", scale)
        dtype, device = validate.float_dtype(dtype), validate.resolve_device(device)
        validate.seed("seed", seed, offset=runs - 1)
        validate.fits_memory(
            f"init(runs={runs}) of width m={self.m} in d={self.d}", 2 * runs * self.m * (self.d + 2), dtype, device
        )
        shapes = {"W": (self.m, self.d)}
        if self.bias:
            shapes["b"] = (self.m,)
        if self.train_outer:
            shapes["v"] = (self.m,)
        gens = _run_seeds(seed, runs)
        params = {}
        for name, shape in shapes.items():
            draws = [torch.randn(shape, generator=g, dtype=torch.float64) for g in gens]
            params[name] = (scale * torch.stack(draws)).to(device, dtype)
        return params

    def fixed_outer(self, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> Tensor:
        """The fixed second layer: +1/sqrt(m) on the first half of the neurons, -1/sqrt(m) on the rest."""
        half = (self.m + 1) // 2
        v = torch.full((self.m,), -1.0, dtype=dtype, device=device)
        v[:half] = 1.0
        return v / math.sqrt(self.m)

    def outer(self, params: Params) -> Tensor:
        """Second-layer weights of every run, (R, m)."""
        if self.train_outer:
            return params["v"]
        W = self._first_layer(params)[0]
        return self.fixed_outer(W.dtype, W.device).expand(W.shape[0], self.m)

    def pack(self, params: Params, X: Tensor) -> tuple[Params, Tensor]:
        """A copy of the parameters with [W b] as one (R, m, d + 1) tensor "Wb", and X with a column of ones: the
        training loop's layout, in which each pass is one matrix product with the bias inside it."""
        if not self.bias:
            return {k: t.clone(memory_format=torch.contiguous_format) for k, t in params.items()}, X
        rest = {k: t.clone(memory_format=torch.contiguous_format) for k, t in params.items() if k not in ("W", "b")}
        ones = torch.ones(*X.shape[:-1], 1, dtype=X.dtype, device=X.device)
        return {"Wb": torch.cat([params["W"], params["b"][..., None]], -1), **rest}, torch.cat([X, ones], -1)

    def unpack(self, params: Params) -> Params:
        """Packed parameters (``pack``) as ``init`` lays them out, in new tensors."""
        if "Wb" not in params:
            return {k: t.clone() for k, t in params.items()}
        Wb = params["Wb"]
        rest = {k: t.clone() for k, t in params.items() if k != "Wb"}
        return {"W": Wb[..., :-1].contiguous(), "b": Wb[..., -1].contiguous(), **rest}

    def _first_layer(self, params: Params) -> tuple[Tensor, Tensor | None]:
        """The first layer as one (R, m, k) matrix, and the bias when it is not inside it: k = d + 1 in the packed
        layout (``pack``), whose inputs carry a column of ones, k = d otherwise."""
        if "Wb" in params:
            return params["Wb"], None
        return params["W"], params["b"] if self.bias else None

    def _check(self, params: Params, X: Tensor) -> None:
        name, k = ("Wb", self.d + 1) if "Wb" in params else ("W", self.d)
        W = params.get(name)
        if W is None or W.dim() != 3 or W.shape[1:] != (self.m, k):
            got = None if W is None else tuple(W.shape)
            raise ValueError(f"params['{name}'] must have shape (R, {self.m}, {k}), got {got}")
        _validate_inputs(X, k, W.shape[0])

    def conserved(self, params: Params) -> Tensor | None:
        """v_j^2 - ||w_j||^2 - b_j^2 per run and neuron, (R, m): constant along gradient flow; None if v is fixed."""
        if not self.train_outer:
            return None
        return params["v"].pow(2) - self._neuron_norm(params).pow(2)

    def restore_conserved(self, params: Params, target: Tensor) -> Params:
        """Rescale (v_j, w_j, b_j) -> (c v_j, w_j / c, b_j / c), which leaves the network unchanged, so that
        the conserved quantities equal ``target`` again: undoes the O(step^2) drift of a discrete step."""
        out = {k: t.clone() for k, t in params.items()}
        self.restore_conserved_(out, target)
        return out

    def restore_conserved_(self, params: Params, target: Tensor) -> Tensor:
        """``restore_conserved`` in place, for the training loop: no new parameter-sized tensor. Returns the factors
        c, (R, m), so that ``rescale_`` by 1 / c can undo it."""
        v2, a = params["v"].pow(2), self._neuron_norm(params).pow_(2)
        root = (4 * v2).mul_(a).add_(target.pow(2)).sqrt_()
        # c^2 solves v^2 c^4 - target c^2 - a = 0; two forms of the positive root avoid cancellation.
        c2 = torch.where(target >= 0, (target + root).div_(2 * v2), (2 * a).div_(root - target))
        # c2 >= 0 or NaN by construction, so c2 < inf is isfinite(c2) in one operation instead of four
        c = torch.where((v2 > 0) & (a > 0) & (c2 < math.inf), c2.sqrt(), 1.0)
        self.rescale_(params, c)
        return c

    def rescale_(self, params: Params, c: Tensor) -> None:
        """(v_j, w_j, b_j) -> (c_j v_j, w_j / c_j, b_j / c_j) in place, for c of shape (R, m): the network is unchanged."""
        params["v"].mul_(c)
        W, b = self._first_layer(params)
        W.div_(c.unsqueeze(-1))
        if b is not None:
            b.div_(c)

    def preactivations(self, params: Params, X: Tensor) -> Tensor:
        """w_j^T x_i + b_j for every run, point and neuron, (R, n, m)."""
        validate.model_inputs(params, X)
        self._check(params, X)
        return self._layout(params, X).transpose(1, 2)

    def _layout(self, params: Params, X: Tensor, scratch: dict[str, Tensor] | None = None) -> Tensor:
        """Pre-activations as (R, m, n): each neuron's points are contiguous, so the output and the gradients are
        batched matrix-vector products, and the bias is added inside the matrix product. A fresh tensor, or with
        ``scratch`` a buffer kept there that the next call overwrites (``scratch_buffer``; not differentiable)."""
        W, b = self._first_layer(params)
        R, n = W.shape[0], X.shape[-2]
        Z = None if scratch is None else scratch_buffer(scratch, "preactivations", (R, self.m, n), W)
        if X.dim() == 2:  # one product over the neurons of all runs
            flat, out = W.reshape(R * self.m, W.shape[-1]), {} if Z is None else {"out": Z.view(R * self.m, n)}
            if b is None:
                return torch.mm(flat, X.T, **out).view(R, self.m, n)
            return torch.addmm(b.reshape(R * self.m, 1), flat, X.T, **out).view(R, self.m, n)
        Xt, out = X.transpose(1, 2), {} if Z is None else {"out": Z}
        return torch.bmm(W, Xt, **out) if b is None else torch.baddbmm(b.unsqueeze(-1), W, Xt, **out)

    def _times_inputs(self, D: Tensor, X: Tensor, out: Tensor | None = None) -> Tensor:
        """sum_i D[r, j, i] x_i for every run and neuron, (R, m, k) for inputs of width k: the transpose of
        ``_layout``'s product, written into ``out`` (contiguous) when given."""
        R, k = D.shape[0], X.shape[-1]
        out = torch.empty(R, self.m, k, dtype=D.dtype, device=D.device) if out is None else out
        if X.dim() == 2:
            torch.mm(D.view(R * self.m, -1), X, out=out.view(R * self.m, k))
        else:
            torch.bmm(D, X, out=out)
        return out

    def _neuron_norm(self, params: Params) -> Tensor:
        """||(w_j, b_j)|| of every neuron, (R, m)."""
        W, b = self._first_layer(params)
        norm = torch.linalg.vector_norm(W, dim=-1)
        return norm if b is None else torch.hypot(norm, b)

    def output_weights(self, params: Params, norm: Tensor | None = None) -> Tensor:
        """The weights of sigma(z_j)^p in the output, v_j / ||(w_j, b_j)||^(p-1), (R, m), from the neuron norms when
        given: the pReLU normalization multiplies weights, not (R, m, n) tensors."""
        if self.p == 1:
            return self.outer(params)
        return self.outer(params) * (self._neuron_norm(params) if norm is None else norm).pow(1 - self.p)

    def _features(
        self, params: Params, X: Tensor, scratch: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """sigma(z) and sigma(z)^p, both (R, m, n), the ``output_weights`` and the norms ||(w_j, b_j)|| (None for
        ReLU), both (R, m); sigma(z) in ``scratch`` when given (``_layout``)."""
        # in place on a buffer of its own (fresh, or the caller's scratch); autograd keeps relu's output
        relu = torch.relu_(self._layout(params, X, scratch))
        if self.p == 1:
            return relu, relu, self.outer(params), None
        norm = self._neuron_norm(params)
        return relu, power(relu, self.p), self.output_weights(params, norm), norm

    def forward(self, params: Params, X: Tensor) -> Tensor:
        """Network outputs of every run, (R, n)."""
        validate.model_inputs(params, X)
        self._check(params, X)
        _, phi, weight, _ = self._features(params, X)
        return torch.bmm(weight[:, None, :], phi)[:, 0]

    def vjp(self, params: Params, X: Tensor, coef: Tensor) -> Params:
        """sum_i coef[r, i] * grad_theta N(x_i; theta_r) for every run: the gradient of any loss of the outputs."""
        validate.model_inputs(params, X)
        validate.tensor("coef", coef, like=X, finite=False, nonempty=False)
        return self.value_and_vjp(params, X, lambda out: coef)[1]

    def value_and_vjp(
        self,
        params: Params,
        X: Tensor,
        coef_fn: Callable[[Tensor], Tensor],
        *,
        out: Params | None = None,
        scratch: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, Params]:
        """Outputs (R, n) and sum_i coef[r, i] grad N(x_i; theta_r), where coef = coef_fn(outputs): one forward pass.

        Not differentiable by autograd: the backward pass reuses the forward's buffers in place. With ``out``
        (gradient tensors of the right shapes, e.g. an earlier result) the gradients are written there; with
        ``scratch`` (a dict the caller keeps between calls) the (R, m, n) intermediate values reuse one buffer.
        """
        self._check(params, X)
        W, b = self._first_layer(params)
        R, n = W.shape[0], X.shape[-2]
        relu, phi, weight, norm = self._features(params, X, scratch)
        # unsqueeze and squeeze rather than t[:, None]: Python indexing costs microseconds a call, at every step
        values = torch.bmm(weight.unsqueeze(1), phi).squeeze(1)
        coef = coef_fn(values)
        if coef.shape != (R, n):
            raise ValueError(f"coef must have shape (R, n) = ({R}, {n}), got {tuple(coef.shape)}")
        coef_row = coef.unsqueeze(1)
        out = out or {}
        gv = None
        if self.train_outer or norm is not None:
            # sum_i c_i phi_ij, written as (1, n) x (n, m) products: much faster than (m, n) x (n, 1) ones in BLAS
            gv = out["v"] if self.train_outer and "v" in out else torch.empty_like(weight)
            torch.bmm(coef_row, phi.transpose(1, 2), out=gv.unsqueeze(1))
        # dN/dz_ij = p weight_j sigma(z_ij)^(p-1), with sigma'(0) = 0 for ReLU; relu is not needed any more.
        slope = relu.sign_() if self.p == 1 else relu.pow_(self.p - 1)
        D = slope.mul_(coef_row)
        scale = weight if self.p == 1 else self.p * weight  # applied to the (R, m, d) product, not to (R, m, n)
        key = "Wb" if "Wb" in params else "W"
        grads = {key: self._times_inputs(D, X, out.get(key)).mul_(scale.unsqueeze(-1))}
        if b is not None:
            grads["b"] = torch.sum(D, -1, out=out["b"]) if "b" in out else D.sum(-1)
            grads["b"].mul_(scale)
        if norm is not None:  # gv so far lacks the normalization; then the normalization's own derivative
            gv = gv.mul_(norm.pow(1 - self.p))
            factor = (1 - self.p) * self.outer(params) * gv / norm.pow(2)
            grads[key].addcmul_(factor.unsqueeze(-1), W)
            if b is not None:
                grads["b"].addcmul_(factor, b)
        if self.train_outer:
            grads["v"] = gv
        return values, grads

    def per_sample_grads(self, params: Params, X: Tensor, run: int = 0) -> Tensor:
        """Gradient of N(x_i; theta_run) for each point, (n, P) in the order of ``flatten``; small problems only."""
        validate.model_inputs(params, X)
        validate.run_index("run", run, next(iter(params.values())).shape[0])
        Xr = X if X.dim() == 2 else X[run]
        n = Xr.shape[0]
        size = n * sum(t[run].numel() for t in params.values())
        if size > MAX_PER_SAMPLE_ENTRIES:
            raise ValueError(
                f"per-sample gradients need n*P = {size} entries, above the limit {MAX_PER_SAMPLE_ENTRIES}; "
                "use a smaller problem or the alignment proxy"
            )
        # n copies of the run, copy i weighted by point i alone: the vjp is linear in coef.
        copies = {k: t[run].expand(n, *t.shape[1:]) for k, t in params.items()}
        eye = torch.eye(n, dtype=Xr.dtype, device=Xr.device)
        return flatten(self.value_and_vjp(copies, Xr, lambda out: eye)[1])


@dataclass(frozen=True)
class LinearModel:
    """Linear classifier f(x) = w^T x (1-homogeneous), batched over runs; the reference case for max-margin theory."""

    d: int
    degree: int = 1

    def __post_init__(self) -> None:
        validate.positive_int("d", self.d)

    def init(
        self,
        runs: int = 1,
        scale: float = 1e-3,
        *,
        seed: int | torch.Generator = 0,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> Params:
        """Independent N(0, scale^2) weights for each run."""
        runs = validate.positive_int("runs", runs)
        scale = validate.init_scale("scale", scale)
        validate.seed("seed", seed, offset=runs - 1)
        validate.fits_memory(
            f"init(runs={runs}) in d={self.d}",
            2 * runs * self.d,
            validate.float_dtype(dtype),
            validate.resolve_device(device),
        )
        draws = [torch.randn(self.d, generator=g, dtype=torch.float64) for g in _run_seeds(seed, runs)]
        return {"w": (scale * torch.stack(draws)).to(validate.resolve_device(device), validate.float_dtype(dtype))}

    def forward(self, params: Params, X: Tensor) -> Tensor:
        """Outputs of every run, (R, n)."""
        validate.model_inputs(params, X)
        _validate_inputs(X, self.d, params["w"].shape[0])
        return params["w"] @ X.T if X.dim() == 2 else torch.bmm(X, params["w"][:, :, None])[..., 0]

    def value_and_vjp(
        self,
        params: Params,
        X: Tensor,
        coef_fn: Callable[[Tensor], Tensor],
        *,
        out: Params | None = None,
        scratch: dict[str, Tensor] | None = None,
    ) -> tuple[Tensor, Params]:
        """Outputs and sum_i coef[r, i] x_i for every run, where coef = coef_fn(outputs); into ``out`` if given.
        ``scratch`` is accepted for the Model protocol; the linear model needs no intermediate buffers."""
        values = self.forward(params, X)
        coef = coef_fn(values)
        g = coef @ X if X.dim() == 2 else torch.bmm(coef[:, None], X)[:, 0]
        return values, {"w": g if out is None else out["w"].copy_(g)}

    def pack(self, params: Params, X: Tensor) -> tuple[Params, Tensor]:
        """A copy of the parameters, and X: the linear model has one layout."""
        return {"w": params["w"].clone(memory_format=torch.contiguous_format)}, X

    def unpack(self, params: Params) -> Params:
        """A copy of the parameters."""
        return {"w": params["w"].clone()}

    def per_sample_grads(self, params: Params, X: Tensor, run: int = 0) -> Tensor:
        """The gradient of w^T x_i is x_i."""
        validate.model_inputs(params, X)
        validate.run_index("run", run, params["w"].shape[0])
        return X if X.dim() == 2 else X[run]


def polynomial_net(d: int, m: int, p: float, *, bias: bool) -> TwoLayerNet:
    """A two-layer network of degree p: the ReLU for p = 1, the pReLU sigma(<w, x>)^p / ||w||^(p-1) for p > 1."""
    p = validate.exponent("p", p)
    return TwoLayerNet(d=d, m=m, bias=bias, activation="relu" if p == 1 else "prelu", p=p)


def homogeneity_error(net: TwoLayerNet, params: Params, X: Tensor, c: float = 3.0) -> float:
    """max |N(x; c theta) - c^L N(x; theta)| / max |N(x; c theta)| over X, for L = ``net.degree``: zero up to
    rounding when the network is L-homogeneous in its parameters."""
    scaled = net.forward({key: c * t for key, t in params.items()}, X)
    return ((scaled - c**net.degree * net.forward(params, X)).abs().max() / scaled.abs().max()).item()
