"""A careless user's bad inputs over the public API: each must raise one clear error before any work, naming the
parameter and what is allowed (issue 13). Each case: a call, the exception type, and words its message must hold."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch

from implicit_bias import (
    alignment,
    attacks,
    certificates,
    constructions,
    data,
    exact,
    experiments,
    kkt,
    loss,
    perturbations,
)
from implicit_bias.flow import FlowDivergence, gradient_flow, sgd
from implicit_bias.network import LinearModel, TwoLayerNet

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal of 'cuda' on a machine without a GPU")

NET = TwoLayerNet(d=3, m=4)
P = NET.init(runs=1, scale=0.5, seed=0)
X = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
Y = torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
SCORE = perturbations.net_score(NET, P)
U = torch.ones(6, 3, dtype=torch.float64) / math.sqrt(3)
MIX = data.cluster_mixture(4, 2, seed=0)
# f(x) = relu(x_1) - relu(-x_1) = x_1: the distance from (2, 0) with label +1 to the boundary is exactly 2.
LINE = TwoLayerNet(d=2, m=2)
LINE_P = {
    "W": torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]], dtype=torch.float64),
    "b": torch.zeros(1, 2, dtype=torch.float64),
    "v": torch.tensor([[1.0, -1.0]], dtype=torch.float64),
}
POINT = torch.tensor([2.0, 0.0], dtype=torch.float64)


def with_nan(t: torch.Tensor) -> torch.Tensor:
    out = t.clone()
    out.view(-1)[0] = math.nan
    return out


def with_inf(t: torch.Tensor) -> torch.Tensor:
    out = t.clone()
    out.view(-1)[-1] = math.inf
    return out


def scaled(params: dict, c: float) -> dict:
    return {k: c * t for k, t in params.items()}


def flow(X=X, y=Y, params=P, **kw):
    return gradient_flow(NET, params, X, y, steps=2, progress=False, **kw)


CASES = [
    # --- data ---
    ("seed 2**70", lambda: data.cluster_mixture(10, 2, seed=2**70), ValueError, ["seed", "2**63 - 1", str(2**70)]),
    ("seed negative", lambda: data.sphere_data(5, 3, seed=-1), ValueError, ["seed", "non-negative"]),
    ("seed float", lambda: data.sphere_data(5, 3, seed=1.5), ValueError, ["seed", "1.5"]),
    (
        "device mps",
        lambda: data.cluster_mixture(10, 2, device="mps"),
        ValueError,
        ["device must be", "'cuda:N'", "mps"],
    ),
    ("device garbage", lambda: data.sphere_data(5, 3, device="gpu0"), ValueError, ["device must be", "gpu0"]),
    ("huge d", lambda: data.cluster_mixture(10**12, 2), ValueError, ["cluster_mixture", "GiB", "smaller sizes"]),
    ("huge sphere", lambda: data.sphere_data(10**6, 10**6), ValueError, ["sphere_data", "GiB"]),
    ("huge sample", lambda: MIX.sample(10**12, seed=0), ValueError, ["sample", "GiB"]),
    (
        "huge orthonormal",
        lambda: data.orthonormal_mixture(10**7, 10**6, 2, 0.1),
        ValueError,
        ["orthonormal_mixture", "GiB"],
    ),
    ("int dtype", lambda: data.sphere_data(5, 3, dtype=torch.int32), TypeError, ["dtype", "floating", "int32"]),
    (
        "Dataset numpy X",
        lambda: data.Dataset(X=np.zeros((3, 2)), y=torch.ones(3)),
        TypeError,
        ["X must be a torch.Tensor", "numpy.ndarray", "torch.as_tensor"],
    ),
    (
        "Dataset y shape",
        lambda: data.Dataset(X=torch.zeros(3, 2), y=torch.ones(4)),
        ValueError,
        ["y must have shape (3,)", "(4,)"],
    ),
    (
        "Dataset int X",
        lambda: data.Dataset(X=torch.zeros(3, 2, dtype=torch.int64), y=torch.ones(3)),
        TypeError,
        ["X must be a float tensor", "int64"],
    ),
    ("cosine_gram numpy", lambda: data.cosine_gram(np.ones((3, 2))), TypeError, ["X must be a torch.Tensor"]),
    ("cosine_gram NaN", lambda: data.cosine_gram(with_nan(X)), ValueError, ["X must be a finite", "1 NaN", "(6, 3)"]),
    (
        "cosine_gram zero row",
        lambda: data.cosine_gram(torch.zeros(2, 3, dtype=torch.float64)),
        ValueError,
        ["X must have no zero row"],
    ),
    ("mean_geometry type", lambda: data.mean_geometry("mixture"), TypeError, ["mix must be a ClusterMixture", "str"]),
    # --- network ---
    ("init scale 1e150", lambda: NET.init(scale=1e150), ValueError, ["scale must be in (0, 1000]", "1e+150"]),
    ("init scale NaN", lambda: NET.init(scale=math.nan), ValueError, ["scale", "finite", "nan"]),
    ("init scale inf", lambda: NET.init(scale=math.inf), ValueError, ["scale", "finite", "inf"]),
    ("init seed 2**70", lambda: NET.init(seed=2**70), ValueError, ["seed", "2**63 - 1"]),
    ("init seed overflow over runs", lambda: NET.init(runs=3, seed=2**63 - 2), ValueError, ["seed", "2**63 - 1 - 2"]),
    (
        "init huge runs",
        lambda: TwoLayerNet(d=1000, m=1000).init(runs=10**7),
        ValueError,
        ["init(runs=10000000)", "GiB"],
    ),
    ("linear init scale", lambda: LinearModel(d=3).init(scale=1e9), ValueError, ["scale must be in (0, 1000]"]),
    (
        "forward float32 X",
        lambda: NET.forward(P, X.float()),
        TypeError,
        ["X must have the dtype of the parameters", "torch.float64", "torch.float32"],
    ),
    ("forward int X", lambda: NET.forward(P, X.long()), TypeError, ["X must be a float tensor", "torch.int64"]),
    ("forward numpy X", lambda: NET.forward(P, X.numpy()), TypeError, ["X must be a torch.Tensor", "numpy.ndarray"]),
    (
        "forward mixed params",
        lambda: NET.forward(dict(P, b=P["b"].float()), X),
        TypeError,
        ["params['b']", "torch.float64", "torch.float32"],
    ),
    (
        "forward numpy params",
        lambda: NET.forward({k: t.numpy() for k, t in P.items()}, X),
        TypeError,
        ["params['W'] must be a torch.Tensor"],
    ),
    ("forward params list", lambda: NET.forward([P["W"]], X), TypeError, ["params must be a non-empty dict", "list"]),
    (
        "params runs disagree",
        lambda: NET.forward(dict(P, v=torch.zeros(2, 4, dtype=torch.float64)), X),
        ValueError,
        ["params['v']", "R=1 runs"],
    ),
    (
        "per_sample_grads run",
        lambda: NET.per_sample_grads(P, X, run=5),
        ValueError,
        ["run must be an integer in [0, 1)", "5"],
    ),
    (
        "vjp float32 coef",
        lambda: NET.vjp(P, X, torch.zeros(1, 6, dtype=torch.float32)),
        TypeError,
        ["coef must have the dtype", "torch.float32"],
    ),
    (
        "linear float32",
        lambda: LinearModel(d=3).forward(LinearModel(d=3).init(), X.float()),
        TypeError,
        ["X must have the dtype"],
    ),
    # --- flow ---
    (
        "flow NaN X",
        lambda: flow(X=with_nan(X)),
        ValueError,
        ["X must be a finite float tensor", "(6, 3)", "torch.float64", "1 NaN"],
    ),
    ("flow inf X", lambda: flow(X=with_inf(X)), ValueError, ["X must be a finite", "1 inf"]),
    (
        "flow NaN params",
        lambda: flow(params=dict(P, W=with_nan(P["W"]))),
        ValueError,
        ["params['W'] must be a finite", "1 NaN"],
    ),
    ("flow float32 X", lambda: flow(X=X.float()), TypeError, ["X must have the dtype of the parameters", "float64"]),
    ("flow int X", lambda: flow(X=X.long()), TypeError, ["X must be a float tensor", "int64"]),
    ("flow numpy X", lambda: flow(X=X.numpy()), TypeError, ["X must be a torch.Tensor", "as_tensor"]),
    ("flow numpy y", lambda: flow(y=Y.numpy()), TypeError, ["y must be a torch.Tensor"]),
    ("flow labels 0/1", lambda: flow(y=Y.clamp_min(0)), ValueError, ["y must hold labels", "±1", "{0, 1}"]),
    ("flow labels ±2", lambda: flow(y=2 * Y), ValueError, ["±1", "{-2, 2}"]),
    ("flow bool labels", lambda: flow(y=Y > 0), TypeError, ["y must be a real tensor of labels ±1", "torch.bool"]),
    ("flow empty data", lambda: flow(X=X[:0], y=Y[:0]), ValueError, ["X must not be empty"]),
    ("flow y shape", lambda: flow(y=Y[:5]), ValueError, ["y must have shape (n,) = (6,) or (R, n) = (1, 6)", "(5,)"]),
    (
        "flow overflowing params",
        lambda: flow(params=scaled(P, 1e160)),
        ValueError,
        ["initial network outputs are not finite", "too large", "init scale"],
    ),
    (
        "sgd NaN X",
        lambda: sgd(NET, P, with_nan(X), Y, batch_size=2, epochs=1, progress=False),
        ValueError,
        ["X must be a finite", "NaN"],
    ),
    (
        "sgd labels",
        lambda: sgd(NET, P, X, 3 * Y, batch_size=2, epochs=1, progress=False),
        ValueError,
        ["±1", "{-3, 3}"],
    ),
    # --- loss ---
    ("log_terms hinge", lambda: loss.log_terms(Y, "hinge"), ValueError, ["loss must be one of", "'hinge'"]),
    ("neg_derivative Exp", lambda: loss.neg_derivative(Y, "Exp"), ValueError, ["loss must be one of", "'Exp'"]),
    (
        "log_mean_loss NaN",
        lambda: loss.log_mean_loss(with_nan(Y), "exp"),
        ValueError,
        ["q must hold margins without NaN", "1 NaN"],
    ),
    ("log_mean_loss numpy", lambda: loss.log_mean_loss(Y.numpy(), "exp"), TypeError, ["q must be a torch.Tensor"]),
    (
        "dual_weights int",
        lambda: loss.dual_weights(torch.tensor([1, 2]), "exp"),
        TypeError,
        ["q must be a float tensor", "int64"],
    ),
    (
        "smoothed degree",
        lambda: loss.smoothed_margin(Y, "exp", torch.tensor(1.0, dtype=torch.float64), 0),
        ValueError,
        ["degree must be a positive integer", "0"],
    ),
    # --- kkt ---
    ("kkt labels ±2", lambda: kkt.kkt_residuals(NET, P, X, 2 * Y), ValueError, ["y must hold labels", "±1", "{-2, 2}"]),
    ("kkt labels 0/1", lambda: kkt.kkt_residuals(NET, P, X, Y.clamp_min(0)), ValueError, ["{0, 1}"]),
    ("kkt NaN X", lambda: kkt.kkt_residuals(NET, P, with_nan(X), Y), ValueError, ["X must be a finite", "NaN"]),
    ("kkt y shape", lambda: kkt.kkt_residuals(NET, P, X, Y[:4]), ValueError, ["y must have shape", "(4,)"]),
    ("kkt 1-D X", lambda: kkt.kkt_residuals(NET, P, X[0], Y), ValueError, ["X must have 2 or 3 dimensions", "(3,)"]),
    ("kkt loss", lambda: kkt.kkt_residuals(NET, P, X, Y, loss="hinge"), ValueError, ["loss must be one of"]),
    (
        "balancedness NaN",
        lambda: kkt.balancedness(NET, dict(P, v=with_nan(P["v"]))),
        ValueError,
        ["params['v'] must be a finite"],
    ),
    (
        "alignment_proxy float32",
        lambda: kkt.alignment_proxy(NET, P, X.float(), Y),
        TypeError,
        ["X must have the dtype"],
    ),
    # --- exact ---
    (
        "exact NaN point",
        lambda: exact.exact_distance(LINE, LINE_P, with_nan(POINT), 1.0, math.inf),
        ValueError,
        ["x must be a finite", "1 NaN"],
    ),
    (
        "exact fake upper",
        lambda: exact.exact_distance(LINE, LINE_P, POINT, 1.0, 0.5),
        ValueError,
        ["upper=0.5 is not the radius of a flip"],
    ),
    (
        "exact zero upper",
        lambda: exact.exact_distance(LINE, LINE_P, POINT, 1.0, 0.0),
        ValueError,
        ["upper=0.0 is not the radius of a flip"],
    ),
    (
        "exact NaN upper",
        lambda: exact.exact_distance(LINE, LINE_P, POINT, 1.0, math.nan),
        ValueError,
        ["upper must be a radius >= 0"],
    ),
    (
        "exact label 0",
        lambda: exact.exact_distance(LINE, LINE_P, POINT, 0.0, math.inf),
        ValueError,
        ["y must be -1 or +1", "0.0"],
    ),
    (
        "exact numpy x",
        lambda: exact.exact_distance(LINE, LINE_P, POINT.numpy(), 1.0, math.inf),
        TypeError,
        ["x must be a torch.Tensor"],
    ),
    (
        "exact NaN params",
        lambda: exact.exact_distance(LINE, dict(LINE_P, W=with_nan(LINE_P["W"])), POINT, 1.0, math.inf),
        ValueError,
        ["params['W'] must be a finite"],
    ),
    (
        "exact memory",
        lambda: exact.exact_distance(
            TwoLayerNet(d=2, m=30),
            TwoLayerNet(d=2, m=30).init(scale=1.0),
            POINT,
            1.0
            if float(
                perturbations.net_score(TwoLayerNet(d=2, m=30), TwoLayerNet(d=2, m=30).init(scale=1.0))(POINT[None])
            )
            > 0
            else -1.0,
            math.inf,
            max_free=30,
        ),
        ValueError,
        ["2^30 activation patterns", "GiB"],
    ),
    (
        "certified NaN params",
        lambda: certificates.certified_radius(NET, dict(P, b=with_nan(P["b"])), X, Y),
        ValueError,
        ["params['b'] must be a finite"],
    ),
    # --- attacks ---
    (
        "deepfool NaN point",
        lambda: attacks.deepfool(SCORE, with_nan(X), Y),
        ValueError,
        ["X must be a finite", "1 NaN"],
    ),
    (
        "deepfool NaN params",
        lambda: attacks.deepfool(perturbations.net_score(NET, dict(P, v=with_nan(P["v"]))), X, Y),
        ValueError,
        ["score must be finite", "non-finite values"],
    ),
    ("deepfool labels", lambda: attacks.deepfool(SCORE, X, Y.clamp_min(0)), ValueError, ["±1", "{0, 1}"]),
    ("deepfool numpy", lambda: attacks.deepfool(SCORE, X.numpy(), Y), TypeError, ["X must be a torch.Tensor"]),
    (
        "pgd eps_max inf",
        lambda: attacks.pgd(SCORE, X, Y, math.inf),
        ValueError,
        ["eps_max must be > 0 and finite", "inf"],
    ),
    (
        "pgd eps_max NaN entry",
        lambda: attacks.pgd(SCORE, X, Y, with_nan(torch.ones(6, dtype=torch.float64))),
        ValueError,
        ["eps_max must be > 0 and finite", "1 entries"],
    ),
    (
        "pgd eps_max shape",
        lambda: attacks.pgd(SCORE, X, Y, torch.ones(5, dtype=torch.float64)),
        ValueError,
        ["eps_max must be a number or a float tensor of shape (6,)"],
    ),
    (
        "pgd fake start",
        lambda: attacks.pgd(SCORE, X, Y, 1.0, start=attacks.AttackResult(torch.full((6,), 0.01), torch.zeros_like(X))),
        ValueError,
        ["start.delta must flip every point it claims to", "of 6 are not flipped"],
    ),
    ("class_sum label", lambda: MIX.class_sum(0), ValueError, ["label must be -1 or +1, got 0"]),
    (
        "min_norm float32",
        lambda: attacks.min_norm(SCORE, X.float(), Y),
        TypeError,
        ["X must have the dtype of the parameters"],
    ),
    # --- perturbations ---
    (
        "flip_radius NaN field",
        lambda: perturbations.flip_radius(SCORE, X, Y, with_nan(U), [1.0, 2.0]),
        ValueError,
        ["U must be a finite", "1 NaN"],
    ),
    (
        "flip_radius numpy field",
        lambda: perturbations.flip_radius(SCORE, X, Y, U.numpy(), [1.0, 2.0]),
        TypeError,
        ["U must be a torch.Tensor"],
    ),
    (
        "flip_radius float32 field",
        lambda: perturbations.flip_radius(SCORE, X, Y, U.float(), [1.0, 2.0]),
        TypeError,
        ["U must have the dtype", "float32"],
    ),
    (
        "flip_radius not callable",
        lambda: perturbations.flip_radius("net", X, Y, U, [1.0]),
        TypeError,
        ["score must be a callable", "str"],
    ),
    (
        "flip_radius score shape",
        lambda: perturbations.flip_radius(lambda Z: Z, X, Y, U, [1.0]),
        ValueError,
        ["score must map X (6, 3) to one value per point (6,)", "(6, 3)"],
    ),
    (
        "flip_radius NaN params",
        lambda: perturbations.flip_radius(perturbations.net_score(NET, dict(P, W=with_nan(P["W"]))), X, Y, U, [1.0]),
        ValueError,
        ["score must be finite"],
    ),
    (
        "flip_radius radii inf",
        lambda: perturbations.flip_radius(SCORE, X, Y, U, [1.0, math.inf]),
        ValueError,
        ["radii must be", "finite"],
    ),
    (
        "margin_along float32 field",
        lambda: perturbations.margin_along(SCORE, X, Y, U.float(), [0.0, 1.0]),
        TypeError,
        ["U must have the dtype"],
    ),
    (
        "profile NaN radius",
        lambda: perturbations.profile(with_nan(Y.abs()), [1.0]),
        ValueError,
        ["radius must hold radii >= 0", "1 NaN"],
    ),
    (
        "against_label 2-D",
        lambda: perturbations.against_label(U, Y),
        ValueError,
        ["direction must have 1 dimensions", "(6, 3)"],
    ),
    (
        "select_run tuple",
        lambda: perturbations.select_run((P["W"],), 0),
        TypeError,
        ["params must be a non-empty dict", "tuple"],
    ),
    # --- constructions, alignment, experiments ---
    (
        "frei_network type",
        lambda: constructions.frei_network("mix"),
        TypeError,
        ["mixture must be a ClusterMixture", "str"],
    ),
    (
        "vardi_network labels",
        lambda: constructions.vardi_network(data.Dataset(X=X, y=Y.clamp_min(0))),
        ValueError,
        ["train.y must hold labels", "{0, 1}"],
    ),
    (
        "sup_distance memory",
        lambda: constructions.sup_distance(SCORE, SCORE, 3, samples=10**12),
        ValueError,
        ["sup_distance", "GiB"],
    ),
    (
        "sup_distance callable",
        lambda: constructions.sup_distance(SCORE, "F", 3),
        TypeError,
        ["F must be a callable", "str"],
    ),
    (
        "neuron_cosines numpy",
        lambda: alignment.neuron_cosines(NET, P, np.ones((2, 3))),
        TypeError,
        ["refs must be a torch.Tensor"],
    ),
    (
        "neuron_cosines NaN refs",
        lambda: alignment.neuron_cosines(NET, P, with_nan(X[:2])),
        ValueError,
        ["refs must be a finite", "1 NaN"],
    ),
    (
        "contributions NaN",
        lambda: alignment.contributions(NET, dict(P, v=with_inf(P["v"]))),
        ValueError,
        ["params['v'] must be a finite", "1 inf"],
    ),
    (
        "train init_scale",
        lambda: experiments.train_cluster_network(4, 2, 3, init_scale=1e150),
        ValueError,
        ["init_scale must be in (0, 1000]"],
    ),
    (
        "train seed",
        lambda: experiments.train_cluster_network(4, 2, 3, seed=2**63 - 1),
        ValueError,
        ["seed", "2**63 - 1 - 2"],
    ),
    (
        "train seed generator",
        lambda: experiments.train_sphere_network(4, 3, 3, seed=torch.Generator()),
        TypeError,
        ["seed must be an int here"],
    ),
    ("train m", lambda: experiments.train_sphere_network(4, 3, 0), ValueError, ["m must be a positive integer, got 0"]),
    (
        "test_error numpy",
        lambda: experiments.test_error(NET, P, data.Dataset(X=X.float(), y=Y)),
        TypeError,
        ["X must have the dtype"],
    ),
    ("wilson n", lambda: experiments.wilson_interval(5, 0), ValueError, ["n must be a positive integer, got 0"]),
    ("wilson counts", lambda: experiments.wilson_interval(7, 5), ValueError, ["errors must be counts in [0, n=5]"]),
    (
        "fit lengths",
        lambda: experiments.fit_exponential_decay([1, 2, 3], [0.1, 0.2]),
        ValueError,
        ["x and error must be finite 1-D arrays", "(3,)", "(2,)"],
    ),
    (
        "score_error type",
        lambda: experiments.score_error(SCORE, (X, Y)),
        TypeError,
        ["data must be a Dataset", "tuple"],
    ),
    (
        "flip profile type",
        lambda: experiments.universal_flip_profile("trained"),
        TypeError,
        ["trained must be a Trained", "str"],
    ),
    # --- Min & Vidal's pieces, after they joined the concept modules ---
    (
        "exp-loss PGD NaN X",
        lambda: attacks.exp_loss_pgd(SCORE, with_nan(X), Y, [0.5]),
        ValueError,
        ["X must be a finite", "1 NaN"],
    ),
    ("exp-loss PGD labels", lambda: attacks.exp_loss_pgd(SCORE, X, 2 * Y, [0.5]), ValueError, ["y must hold labels"]),
    (
        "exp-loss PGD NaN score",
        lambda: attacks.exp_loss_pgd(lambda Z: Z[:, 0] * math.nan, X, Y, [0.5]),
        ValueError,
        ["score", "finite"],
    ),
    (
        "APGD numpy X",
        lambda: attacks.apgd(SCORE, X.numpy(), Y, [0.5]),
        TypeError,
        ["X must be a torch.Tensor", "numpy"],
    ),
    (
        "stable rank 1-D",
        lambda: experiments.stable_rank(torch.ones(3)),
        ValueError,
        ["H must have 2 dimensions", "(3,)"],
    ),
    (
        "stable rank NaN",
        lambda: experiments.stable_rank(with_nan(torch.ones(3, 3))),
        ValueError,
        ["H must be a finite", "1 NaN"],
    ),
]

GPU_CASES = [
    (
        "data cuda",
        lambda: data.cluster_mixture(10, 2, device="cuda"),
        ValueError,
        ["device='cuda' needs a CUDA GPU", "torch.cuda.is_available() is False"],
    ),
    ("init cuda:1", lambda: NET.init(device="cuda:1"), ValueError, ["device='cuda:1' needs a CUDA GPU"]),
    (
        "train cuda",
        lambda: experiments.train_cluster_network(4, 2, 3, device="cuda"),
        ValueError,
        ["device='cuda' needs a CUDA GPU"],
    ),
]


def _check(call, kind, words):
    with pytest.raises(kind) as err:
        call()
    message = str(err.value)
    missing = [w for w in words if w not in message]
    assert not missing, f"message {message!r} lacks {missing}"


@pytest.mark.parametrize("call, kind, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(call, kind, words):
    _check(call, kind, words)


@NO_GPU
@pytest.mark.parametrize("call, kind, words", [c[1:] for c in GPU_CASES], ids=[c[0] for c in GPU_CASES])
def test_cuda_is_refused_without_a_gpu(call, kind, words):
    _check(call, kind, words)


def test_the_battery_is_large():
    assert len(CASES) + len(GPU_CASES) >= 60


def test_exact_distance_is_the_true_distance_from_any_confirmed_upper():
    """The exact solver returns the verified distance 2, never its argument, whatever confirmed radius it gets."""
    for upper in (2.0, 3.0, math.inf):
        assert exact.exact_distance(LINE, LINE_P, POINT, 1.0, upper) == pytest.approx(2.0, rel=1e-8)
    # f = relu(x_1 + 1) + relu(1 - x_1) >= 1: no point flips, and only the full search (upper = inf) may say so.
    no_flip = dict(LINE_P, b=torch.ones(1, 2, dtype=torch.float64), v=torch.tensor([[1.0, 1.0]], dtype=torch.float64))
    assert exact.exact_distance(LINE, no_flip, POINT, 1.0, math.inf) == math.inf


@pytest.mark.parametrize(
    "train", [partial(gradient_flow, steps=1), partial(sgd, batch_size=2, epochs=1)], ids=["flow", "sgd"]
)
def test_huge_initial_loss_warns(train):
    """Finite outputs whose loss e^(-q) overflows float64: training starts, with a warning that names the cause,
    reported at the user's call (not inside the library)."""
    big = scaled(P, 1e80)
    y = -torch.sign(NET.forward(big, X)[0])  # every margin hugely negative
    with pytest.warns(RuntimeWarning, match="initial loss overflows torch.float64") as caught:
        try:
            train(NET, big, X, y, progress=False)
        except FlowDivergence:  # SGD's huge steps overflow at its first record; the warning came first
            pass
    assert caught[0].filename == __file__
