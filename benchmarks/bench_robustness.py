"""Benchmarks of robustness measurement: flip curves and attacks on many test points, and the exact solver's
cost against the number of neurons that can change state. Run ``python benchmarks/bench_robustness.py --help``."""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch

from implicit_bias import attacks, exact, experiments, perturbations
from implicit_bias.network import TwoLayerNet


def timed(fn):
    """Result of fn() and its time in seconds: CPU time of this process when torch runs on one thread (time given
    to other processes on a shared machine does not count), wall time otherwise."""
    timer = time.process_time if torch.get_num_threads() == 1 else time.perf_counter
    start = timer()
    out = fn()
    return out, timer() - start


@torch.no_grad()
def reference_flip_radius(
    net: TwoLayerNet, params: dict, X: torch.Tensor, y: torch.Tensor, U: torch.Tensor, grid: torch.Tensor
) -> torch.Tensor:
    """The flip radius as the library computed it before issue 16 (9a4481c), the baseline of the flip-curve
    target: a forward pass for the margins, the pre-activations and U W^T as full products, a row gather per grid
    radius, and a bisection that copies the rows of X and U it refines and multiplies them again."""
    W, v = params["W"][0], net.outer(params)[0]

    def line(X: torch.Tensor, U: torch.Tensor):
        A, B = net.preactivations(params, X)[0], U @ W.T
        return lambda r, rows: torch.relu(A[rows] + r[:, None] * B[rows]) @ v

    n = X.shape[0]
    found = y * net.forward(params, X)[0] <= 0
    radius = torch.full((n,), math.inf, dtype=X.dtype).masked_fill(found, 0.0)
    lo, along = torch.zeros(n, dtype=X.dtype), line(X, U)
    for r in grid:
        todo = (~found).nonzero()[:, 0]
        if todo.numel() == 0:
            break
        flipped = torch.zeros_like(found)
        flipped[todo] = y[todo] * along(r.expand(len(todo)), todo) <= 0
        radius, found = torch.where(flipped, r, radius), found | flipped
        lo = torch.where(found, lo, r)
    cell = found & (radius > 0)
    lo, hi, yc = lo[cell], radius[cell], y[cell]
    along, rows = line(X[cell], U[cell]), torch.arange(len(hi))
    for _ in range(40):
        mid = (lo + hi) / 2
        flipped = yc * along(mid, rows) <= 0
        hi, lo = torch.where(flipped, mid, hi), torch.where(flipped, lo, mid)
    radius[cell] = hi
    return radius


def interleaved(fns: dict, repeats: int) -> tuple[dict, dict]:
    """Results of each function and its fastest time over ``repeats`` rounds, the functions taking turns within
    each round (so that a slower or busier spell of the machine falls on all of them)."""
    out, best = {}, dict.fromkeys(fns, math.inf)
    for _ in range(repeats):
        for name, fn in fns.items():
            out[name], seconds = timed(fn)
            best[name] = min(best[name], seconds)
    return out, best


def load() -> float:
    """The machine's one-minute load average (0 where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def throughput(
    d: int, k: int, m: int, n_points: int, n_pgd: int, device: str = "cpu", seed: int = 0, repeats: int = 5
) -> dict:
    """Points per second of the universal-direction flip curve (fastest of ``repeats``), DeepFool and PGD on one
    trained network."""
    trained = experiments.train_cluster_network(d, k, m, steps=300, n_test=n_points, seed=seed, device=device)
    score = perturbations.net_score(trained.net, trained.params)
    X, y = trained.test.X, trained.test.y
    U = perturbations.against_label(perturbations.frei_direction(trained.mixture), y)
    radii = perturbations.line_radii(4 * math.sqrt(d / k), 100, like=X)
    prof, t_flip = interleaved(
        {
            "library": lambda: perturbations.flip_profile(score, X, y, U, radii),
            "reference": lambda: reference_flip_radius(trained.net, trained.params, X, y, U, radii),
        },
        repeats,
    )
    flip = prof["library"].radius
    finite = torch.isfinite(flip)
    same = torch.equal(finite, torch.isfinite(prof["reference"]))
    rel = ((flip - prof["reference"]).abs() / flip.abs().clamp_min(1e-300))[finite].max() if same else math.inf
    prof = prof["library"]
    _, t_df = timed(lambda: attacks.deepfool(score, X, y))
    _, t_pgd = timed(lambda: attacks.pgd(score, X[:n_pgd], y[:n_pgd], 4 * math.sqrt(d / k), search=5, seed=seed))
    return {
        "device": str(X.device),
        "d": d,
        "k": k,
        "m": m,
        "points": n_points,
        "r50_over_sqrt_d_over_k": prof.r50 / math.sqrt(d / k),
        "flip_curve_s": t_flip["library"],
        "flip_curve_points_per_s": n_points / t_flip["library"],
        "reference_flip_s": t_flip["reference"],
        "flip_speedup": t_flip["reference"] / t_flip["library"],
        "flip_radii_max_rel_diff": float(rel),
        "deepfool_s": t_df,
        "deepfool_points_per_s": n_points / t_df,
        "pgd_points": n_pgd,
        "pgd_s": t_pgd,
        "pgd_points_per_s": n_pgd / t_pgd,
        "flip_curve_repeats": repeats,
        "threads": torch.get_num_threads(),
        "load_avg": load(),
    }


def exact_cost(d: int, widths: list[int], points: int, seed: int = 0) -> list[dict]:
    """Seconds per point of the exact distance when every neuron is free (no attack radius to prune with)."""
    rows = []
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(points, d, generator=gen, dtype=torch.float64)
    for m in widths:
        net = TwoLayerNet(d=d, m=m)
        params = net.init(runs=1, scale=1.0, seed=seed)
        f = net.forward(params, X)[0]
        y = torch.where(f >= 0, 1.0, -1.0)
        _, seconds = timed(
            lambda: [
                exact.exact_distance(net, params, X[i], float(y[i]), math.inf, max_free=m)  # noqa: B023 (called at once)
                for i in range(points)
            ]
        )
        rows.append({"d": d, "free_neurons": m, "seconds_per_point": seconds / points})
    return rows


def markdown(report: dict) -> str:
    t = report["throughput"]
    lines = [
        f"Robustness measurement ({t['device']}, {t['threads']} threads, load {t['load_avg']:.2f}) on {t['points']} "
        f"test points at d = {t['d']}, k = {t['k']}, width {t['m']} (r50 / sqrt(d/k) = "
        f"{t['r50_over_sqrt_d_over_k']:.3f}; flip curve: fastest of {t['flip_curve_repeats']}):",
        "",
        "| measurement | points | seconds | points/s |",
        "| --- | --- | --- | --- |",
        f"| flip curve along the universal direction (100 radii + bisection) | {t['points']} | "
        f"{t['flip_curve_s']:.2f} | {t['flip_curve_points_per_s']:.0f} |",
        f"| the same flip radii as computed before issue 16 (reference) | {t['points']} | "
        f"{t['reference_flip_s']:.2f} | {t['points'] / t['reference_flip_s']:.0f} |",
        f"| DeepFool (ℓ2) | {t['points']} | {t['deepfool_s']:.2f} | {t['deepfool_points_per_s']:.0f} |",
        f"| PGD (ℓ2, 5 radii searched) | {t['pgd_points']} | {t['pgd_s']:.2f} | {t['pgd_points_per_s']:.0f} |",
        "",
        f"Flip curve: {t['flip_speedup']:.2f}x faster than the reference (target >= 2), radii within "
        f"{t['flip_radii_max_rel_diff']:.1e} relative (target 1e-9).",
        "",
        "| exact solver: free neurons | seconds per point |",
        "| --- | --- |",
    ]
    lines += [f"| {r['free_neurons']} | {r['seconds_per_point']:.4f} |" for r in report["exact"]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the suite runs")
    parser.add_argument(
        "--device", default="cpu", help="cpu, cuda or auto (default: cpu); the exact solver runs on CPU"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for JSON and Markdown")
    args = parser.parse_args(argv)
    if args.smoke:
        report = {
            "throughput": throughput(50, 4, 10, 200, 50, args.device, repeats=2),
            "exact": exact_cost(10, [2, 4], 3),
        }
    else:
        report = {
            "throughput": throughput(1000, 16, 100, 10_000, 1000, args.device),
            "exact": exact_cost(20, [4, 8, 12, 14], 5),
        }
    name = "robustness-smoke" if args.smoke else "robustness"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))
    (args.out / f"{name}.md").write_text(markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main()
