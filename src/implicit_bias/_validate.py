"""Argument checks shared by every public entry point: each error names the parameter, its value and what is allowed.

Policy for array arguments: the tensor API (data, networks, flow, losses, KKT, attacks, line searches, exact
distances) takes torch tensors only; a numpy array or list is refused with a TypeError that says how to convert
it, so a float32 or integer array is never silently reinterpreted. Radii grids and the statistics helpers of
``experiments`` (``wilson_interval``, ``fit_exponential_decay``) take numbers, sequences or numpy arrays.
Values are checked once at entry (at most one ``isfinite`` pass per input), never inside a training loop; the
per-call model check reads metadata only.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Iterable
from numbers import Integral, Real

import torch


def positive_int(name: str, value: object) -> int:
    """Return ``value`` as an int, or raise if it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nonneg_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (0 <= float(value) < float("inf")):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def positive_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (0 < float(value) < float("inf")):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise naming the options."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return str(value)


def resolve_device(device: str | torch.device) -> torch.device:
    """Map ``"auto"`` to CUDA when present, else CPU; accept 'cpu', 'cuda', 'cuda:N' only where that device exists."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    allowed = "device must be 'auto', 'cpu', 'cuda', 'cuda:N' or a torch.device of those"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"{allowed}, got {device!r}") from err
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"{allowed}, got {device!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} needs a CUDA GPU, but torch.cuda.is_available() is False; "
                "use device='cpu' or 'auto'"
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} names GPU {dev.index}, but only {torch.cuda.device_count()} are visible"
            )
    return dev


def float_dtype(dtype: torch.dtype) -> torch.dtype:
    """Return ``dtype`` if it is a floating dtype, else raise."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch dtype such as torch.float64, got {dtype!r}")
    return dtype


def generator(seed_or_gen: int | torch.Generator, name: str = "seed") -> torch.Generator:
    """Return a CPU ``torch.Generator``: a given one as is, or a new one seeded with the int in [0, 2**63 - 1]."""
    if isinstance(seed_or_gen, torch.Generator):
        return seed_or_gen
    return torch.Generator().manual_seed(seed(name, seed_or_gen))


def seed(name: str, value: object, offset: int = 0) -> int | torch.Generator:
    """Return ``value`` as an int (a torch.Generator passes unchanged), or raise unless 0 <= value and
    value + offset <= 2**63 - 1 (the seeds derived from it, value + r for r <= offset, must stay valid seeds)."""
    if isinstance(value, torch.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value <= SEED_MAX - offset:
        raise ValueError(
            f"{name} must be a non-negative integer <= {SEED_MAX - offset} (2**63 - 1"
            f"{f' - {offset}' if offset else ''}) or a torch.Generator, got {value!r}"
        )
    return int(value)


SEED_MAX = 2**63 - 1  # torch seeds are 64-bit; run r and the experiments' data draws add small offsets to it
# Largest init scale: initial outputs grow as scale^L (L = 2) times sqrt(m d); above 1e3 the initial margins of
# the book's networks (m, d ~ 10..1000) reach 1e6..1e9, far past e^709 (float64's largest exp), so the loss
# starts infinite. The theory of the three papers is about small initialization (scale << 1) anyway.
INIT_SCALE_MAX = 1e3


def describe(t: torch.Tensor) -> str:
    """'shape (40, 100) dtype torch.float32': how an error message names a tensor argument."""
    return f"shape {tuple(t.shape)} dtype {t.dtype}"


def _type_name(value: object) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def is_tensor(name: str, value: object) -> torch.Tensor:
    """Return ``value`` if it is a torch.Tensor, else raise a TypeError that says how to convert it."""
    if not isinstance(value, torch.Tensor):
        hint = (
            "; convert it with torch.as_tensor(..., dtype=torch.float64)"
            if hasattr(value, "__array__") or isinstance(value, (list, tuple))
            else ""
        )
        raise TypeError(f"{name} must be a torch.Tensor; got {_type_name(value)}{hint}")
    return value


def tensor(
    name: str,
    value: object,
    *,
    dims: int | tuple[int, ...] | None = None,
    like: torch.Tensor | None = None,
    finite: bool = True,
    nonempty: bool = True,
) -> torch.Tensor:
    """Return ``value`` if it is a float tensor (of ``like``'s dtype and device when given) with one of ``dims``
    dimensions, non-empty and finite as asked; else raise naming the parameter, its shape and dtype."""
    t = is_tensor(name, value)
    if not t.dtype.is_floating_point:
        raise TypeError(
            f"{name} must be a float tensor (torch.float64 or torch.float32); got {describe(t)}; "
            "convert it with .to(torch.float64)"
        )
    if like is not None and t.dtype != like.dtype:
        raise TypeError(
            f"{name} must have the dtype of the parameters ({like.dtype}); got {describe(t)}; "
            f"convert it with .to({like.dtype})"
        )
    if like is not None and t.device != like.device:
        raise ValueError(f"{name} must be on the parameters' device {like.device}; got device {t.device}")
    allowed = (dims,) if isinstance(dims, int) else dims
    if allowed is not None and t.dim() not in allowed:
        raise ValueError(f"{name} must have {' or '.join(map(str, allowed))} dimensions; got {describe(t)}")
    if nonempty and t.numel() == 0:
        raise ValueError(f"{name} must not be empty; got {describe(t)}")
    if finite:
        all_finite(name, t)
    return t


def all_finite(name: str, t: torch.Tensor) -> torch.Tensor:
    """Return ``t`` if every entry is finite, else raise counting its NaN and inf entries (one pass over t)."""
    # The smallest and largest entries are finite exactly when all are (aminmax propagates NaN): one reduction,
    # 10x faster than isfinite(t).all(), which writes a mask as large as t (85 ms for a 10^4 x 1000 input).
    if t.numel() and not bool(torch.isfinite(torch.stack(torch.aminmax(t))).all()):
        nan, inf = int(torch.isnan(t).sum()), int(torch.isinf(t).sum())
        raise ValueError(f"{name} must be a finite float tensor; got {describe(t)} with {nan} NaN and {inf} inf")
    return t


def labels(name: str, y: object, n: int | None = None, *, runs: int | None = None) -> torch.Tensor:
    """Return ``y`` if it is a tensor of labels -1/+1 of shape (n,) (or (runs, n) when ``runs`` is given), else raise."""
    t = is_tensor(name, y)
    if t.dtype == torch.bool or t.is_complex():
        raise TypeError(f"{name} must be a real tensor of labels ±1; got {describe(t)}")
    if n is not None and tuple(t.shape) not in ((n,), (runs, n)):
        want = f"(n,) = ({n},)" + ("" if runs is None else f" or (R, n) = ({runs}, {n})")
        raise ValueError(f"{name} must have shape {want}, got {tuple(t.shape)} (one label per point; dtype {t.dtype})")
    if not bool(((t == 1) | (t == -1)).all()):
        values = torch.unique(t.detach().cpu()).tolist()
        shown = ", ".join(f"{v:g}" for v in values[:6]) + (", ..." if len(values) > 6 else "")
        raise ValueError(f"{name} must hold labels -1 and +1 only (±1); got values {{{shown}}}")
    return t


def params(name: str, value: object, *, finite: bool = True) -> torch.Tensor:
    """Check a parameter dict (non-empty, float tensors of one dtype and device, runs first, finite as asked) and
    return its first tensor, whose dtype and device the data must share."""
    if not isinstance(value, dict) or not value:
        raise TypeError(
            f"{name} must be a non-empty dict of tensors (as returned by model.init); got {_type_name(value)}"
        )
    first = None
    for key, t in value.items():
        t = tensor(f"{name}[{key!r}]", t, like=first, finite=finite)
        if t.dim() == 0:
            raise ValueError(f"{name}[{key!r}] must have the run index first; got {describe(t)}")
        if first is not None and t.shape[0] != first.shape[0]:
            raise ValueError(
                f"{name}[{key!r}] must hold R={first.shape[0]} runs like the other tensors; got {describe(t)}"
            )
        first = t if first is None else first
    return first


def model_inputs(params_: object, X: object) -> None:
    """Metadata-only check of a model call (no pass over the data): parameter dict and X of one float dtype and device.
    Called on every forward pass, so the common case costs a few attribute reads; messages are built only on failure."""
    first = next(iter(params_.values()), None) if isinstance(params_, dict) else None
    if isinstance(X, torch.Tensor) and X.dtype.is_floating_point and isinstance(first, torch.Tensor) and first.dim():
        dtype, device, runs = X.dtype, X.device, first.shape[0]
        if all(
            isinstance(t, torch.Tensor) and t.dtype == dtype and t.device == device and t.dim() and t.shape[0] == runs
            for t in params_.values()
        ):
            return
    first = params("params", params_, finite=False)
    tensor("X", X, like=first, finite=False, nonempty=False)


def problem(params_: object, X: object, y: object) -> torch.Tensor:
    """Entry check of a training or diagnostic problem: finite parameters, finite non-empty X (n, d) or (R, n, d)
    of the parameters' dtype and device, labels ±1 of shape (n,) or (R, n); returns X."""
    first = params("params", params_)
    X = tensor("X", X, dims=(2, 3), like=first)
    if X.shape[-2] == 0:
        raise ValueError(f"X must hold at least one point; got {describe(X)}")
    labels("y", y, X.shape[-2], runs=first.shape[0])
    return X


def init_scale(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise unless 0 < value <= INIT_SCALE_MAX (see its comment)."""
    scale = positive_real(name, value)
    if scale > INIT_SCALE_MAX:
        raise ValueError(
            f"{name} must be in (0, {INIT_SCALE_MAX:g}]: larger initializations overflow the loss "
            f"(outputs grow as scale^2); got {value!r}"
        )
    return scale


def finite_real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


def positive_radii(name: str, value: object, n: int) -> None:
    """Raise unless ``value`` is a finite number > 0, or a tensor of such (scalar or (n,))."""
    if isinstance(value, torch.Tensor):
        if value.dim() > 1 or (value.dim() == 1 and value.shape[0] != n) or not value.dtype.is_floating_point:
            raise ValueError(f"{name} must be a number or a float tensor of shape ({n},); got {describe(value)}")
        bad = ~(torch.isfinite(value) & (value > 0))
        if bool(bad.any()):
            raise ValueError(
                f"{name} must be > 0 and finite for every point (a search range, not 'unbounded'); "
                f"got {int(bad.sum())} entries outside, e.g. {float(value.reshape(-1)[bad.reshape(-1)][0])!r}"
            )
    elif isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) < math.inf:
        raise ValueError(
            f"{name} must be > 0 and finite for every point (a search range, not 'unbounded'); got {value!r}"
        )


@torch.no_grad()
def score_output(name: str, score: object, X: torch.Tensor) -> torch.Tensor:
    """Evaluate a score (n, d) -> (n,) once at X and raise unless it is callable, keeps X's dtype and shape (n,),
    and is finite: a NaN score would read as 'never flipped'. Returns the scores."""
    if not callable(score):
        raise TypeError(f"{name} must be a callable (n, d) -> (n,); got {_type_name(score)}")
    out = score(X)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (X.shape[0],):
        got = describe(out) if isinstance(out, torch.Tensor) else _type_name(out)
        raise ValueError(f"{name} must map X {tuple(X.shape)} to one value per point ({X.shape[0]},); got {got}")
    if not bool(torch.isfinite(out).all()):
        raise ValueError(
            f"{name} must be finite at X (check the network's parameters); got "
            f"{int((~torch.isfinite(out)).sum())} non-finite values of {X.shape[0]}"
        )
    return out


def available_bytes(device: torch.device) -> int:
    """Memory an allocation can use: free GPU memory on CUDA, physical memory on the CPU."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def fits_memory(what: str, numel: int, dtype: torch.dtype = torch.float64, device: str | torch.device = "cpu") -> None:
    """Raise before allocating when ``numel`` entries of ``dtype`` exceed the memory of ``device`` (sizes in GiB)."""
    device = torch.device(device)
    itemsize = torch.empty((), dtype=dtype).element_size()
    need, have = int(numel) * itemsize, available_bytes(device)
    if need > have:
        raise ValueError(
            f"{what} needs {need / 2**30:.3g} GiB ({int(numel)} entries of {itemsize} bytes), more "
            f"than the {have / 2**30:.3g} GiB of memory on {device}; use smaller sizes"
        )


def instance(name: str, value: object, kind: type) -> object:
    """Return ``value`` if it is an instance of ``kind``, else raise a TypeError naming both."""
    if not isinstance(value, kind):
        raise TypeError(f"{name} must be a {kind.__name__}; got {_type_name(value)}")
    return value


def run_index(name: str, value: object, runs: int) -> int:
    """Return ``value`` if it is an int in [0, runs), else raise."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= value < runs:
        raise ValueError(f"{name} must be an integer in [0, {runs}), got {value!r}")
    return int(value)


def initial_margins(q: torch.Tensor, stacklevel: int = 3) -> None:
    """Check the margins y f(x) at the start of training, from inputs checked finite: raise if they overflow (then the
    cause is the parameters' size, not the step size), warn if the initial loss e^(-q) overflows the dtype (at the
    caller ``stacklevel`` frames up: the user's call of the training function)."""
    if not bool(torch.isfinite(q).all()):
        raise ValueError(
            "the initial network outputs are not finite although X and params are: the parameters are "
            "too large (overflow); use a smaller init scale"
        )
    log_loss = float((-q).amax()) - math.log(q.shape[-1])  # log of the largest run's loss, to within log n
    if log_loss > math.log(torch.finfo(q.dtype).max):
        warnings.warn(
            f"the initial loss overflows {q.dtype} (log L >= {log_loss:.4g}): the recorded loss is inf and "
            "constant-step training diverges; use a smaller init scale",
            RuntimeWarning,
            stacklevel=stacklevel,
        )


FLIP_SLACK = 1e-6  # rounding of a forward pass is ~1e-16 of its terms; a fake flip misses by ~|y f(x)|


@torch.no_grad()
def flips(
    name: str, score: object, X: torch.Tensor, y: torch.Tensor, delta: torch.Tensor, where: torch.Tensor | None = None
) -> None:
    """Raise unless every point x_i (where ``where`` holds) is flipped at x_i + delta_i: a perturbation handed in
    as a confirmed flip must be one, or every result derived from it would be wrong. A bisected flip lies within
    rounding of the boundary, so y f(x + delta) may exceed 0 by FLIP_SLACK * |y f(x)|, never by more."""
    tensor(name, delta, like=X)
    if tuple(delta.shape) != tuple(X.shape):
        raise ValueError(f"{name} must have the shape of X {tuple(X.shape)}; got {describe(delta)}")
    rows = torch.arange(X.shape[0], device=X.device) if where is None else where.nonzero()[:, 0]
    if rows.numel() == 0:
        return
    Xr, yr = X[rows], y[rows]
    bad = ~(yr * score(Xr + delta[rows]) <= FLIP_SLACK * (yr * score(Xr)).abs())
    if bool(bad.any()):
        raise ValueError(
            f"{name} must flip every point it claims to (y f(x + delta) <= 0); {int(bad.sum())} of "
            f"{rows.numel()} are not flipped, e.g. point {int(rows[bad][0])}"
        )


def exponent(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 1 (a pReLU degree p)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (1 <= float(value) < float("inf")):
        raise ValueError(f"{name} must be a number >= 1, got {value!r}")
    return float(value)


def fraction(name: str, value: object, interval: str = "(0, 1]") -> float:
    """Return ``value`` as a float, or raise unless it lies in ``interval``: "(0, 1]", "[0, 1]" or "(0, 1)"."""
    inside = {"(0, 1]": lambda v: 0 < v <= 1, "[0, 1]": lambda v: 0 <= v <= 1, "(0, 1)": lambda v: 0 < v < 1}
    if isinstance(value, bool) or not isinstance(value, Real) or not inside[interval](float(value)):
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")
    return float(value)


def points(X: torch.Tensor, y: torch.Tensor, d: int | None = None) -> None:
    """Raise unless X is a non-empty (n, d) batch and y its (n,) labels in {-1, +1}."""
    tensor("X", X, nonempty=False)  # a finite float tensor (numpy arrays are refused); shape checked below
    if X.dim() != 2 or X.shape[0] == 0 or (d is not None and X.shape[1] != d):
        want = "(n, d)" if d is None else f"(n, {d})"
        raise ValueError(f"X must be a non-empty batch of shape {want}, got {tuple(X.shape)}")
    labels("y", y, X.shape[0])


def radii(values: object, name: str = "radii", *, allow_zero: bool = False) -> torch.Tensor:
    """A non-empty, strictly increasing 1-D grid of finite radii (> 0, or >= 0 with ``allow_zero``), as float64
    on the CPU; the error names the parameter."""
    grid = torch.as_tensor(values, dtype=torch.float64).cpu()
    low_ok = bool(torch.all(grid >= 0)) if allow_zero else bool(torch.all(grid > 0))
    if grid.dim() != 1 or grid.numel() == 0 or not bool(torch.all(torch.isfinite(grid))) or not low_ok:
        raise ValueError(
            f"{name} must be a non-empty 1-D grid of finite radii {'>= 0' if allow_zero else '> 0'}, "
            f"got {grid.tolist()}"
        )
    if not bool(torch.all(grid[1:] > grid[:-1])):
        raise ValueError(f"{name} must be strictly increasing, got {grid.tolist()}")
    return grid


def field(X: torch.Tensor, U: torch.Tensor) -> None:
    """Raise unless the direction field U has one direction per point of X."""
    if U.shape != X.shape:
        raise ValueError(f"U must have the shape of X {tuple(X.shape)}, got {tuple(U.shape)}")


def margins(q: torch.Tensor) -> torch.Tensor:
    """Raise if the margins q hold NaN (inf is a valid limit: L = 0 or L = inf)."""
    if bool(torch.isnan(q).any()):
        raise ValueError(f"q must hold margins without NaN; got {describe(q)} with {int(torch.isnan(q).sum())} NaN")
    return q
