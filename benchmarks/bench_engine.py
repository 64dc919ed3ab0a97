"""Benchmarks of the gradient-flow engine: against per-seed PyTorch code, against the machine's matmul rate,
time to the KKT direction, and peak memory. Run ``python benchmarks/bench_engine.py --help``.

Every comparison is a ratio of timings taken in the same run, interleaved, so machine load cancels out.
"""
from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from implicit_bias.data import cluster_mixture
from implicit_bias.flow import gradient_flow
from implicit_bias.network import TwoLayerNet


@dataclass(frozen=True)
class Size:
    """One benchmark problem: input dimension, points, width, runs, activation degree."""

    name: str
    d: int
    n: int
    m: int
    R: int
    p: float = 1.0


SIZES = [Size("small", 100, 200, 32, 16), Size("medium", 1000, 1000, 256, 8), Size("medium-prelu3", 1000, 1000, 256, 8, 3.0)]
R_SWEEP = [Size(f"small-R{R}", 100, 200, 32, R) for R in (1, 4, 64)]  # with "small" (R = 16): the ratio against R
SMOKE = [Size("smoke", 20, 40, 8, 4), Size("smoke-prelu3", 20, 40, 8, 4, 3.0)]


def problem(size: Size, device: torch.device):
    """Data, network and initial parameters of one size."""
    mix = cluster_mixture(size.d, min(16, size.d), seed=0, device=device)
    data = mix.sample(size.n, seed=1, balanced=True)
    act = "relu" if size.p == 1 else "prelu"
    net = TwoLayerNet(d=size.d, m=size.m, bias=size.p == 1, activation=act, p=size.p)
    return data, net, net.init(runs=size.R, scale=1e-2, seed=0, device=device)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def engine_seconds(size: Size, steps: int, device: torch.device) -> float:
    """Wall time of ``steps`` constant-schedule steps of the batched engine, all R runs at once."""
    data, net, params = problem(size, device)
    sync(device)
    start = time.perf_counter()
    gradient_flow(net, params, data.X, data.y, schedule="constant", lr=0.01, steps=steps, record_every=steps,
                  progress=False)
    sync(device)
    return time.perf_counter() - start


class PerSeedNet(torch.nn.Module):
    """What a researcher writes by default: two nn.Linear layers and an activation, one module per seed."""

    def __init__(self, d: int, m: int, p: float):
        super().__init__()
        self.hidden = torch.nn.Linear(d, m, bias=p == 1)
        self.out = torch.nn.Linear(m, 1, bias=False)
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.relu(self.hidden(x))
        if self.p != 1:
            z = z.pow(self.p) / self.hidden.weight.norm(dim=1).pow(self.p - 1)
        return self.out(z)[:, 0]


def baseline_seconds(size: Size, steps: int, device: torch.device) -> float:
    """Wall time of the same steps written the usual way: a Python loop over seeds, autograd, torch.optim.SGD."""
    data, _, _ = problem(size, device)
    models = [PerSeedNet(size.d, size.m, size.p).to(device, torch.float64) for _ in range(size.R)]
    sync(device)
    start = time.perf_counter()
    for model in models:
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        for _ in range(steps):
            opt.zero_grad()
            loss = torch.exp(-data.y * model(data.X)).mean()
            loss.backward()
            opt.step()
    sync(device)
    return time.perf_counter() - start


def matmul_seconds(size: Size, steps: int, device: torch.device) -> tuple[float, float]:
    """Time of the step's three products at the same shapes (forward, first- and second-layer gradients), and their FLOPs."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(size.n, size.d, generator=g, dtype=torch.float64).to(device)
    W = torch.randn(size.R * size.m, size.d, generator=g, dtype=torch.float64).to(device)
    A = torch.randn(size.n, size.R * size.m, generator=g, dtype=torch.float64).to(device)
    c = torch.randn(size.n, generator=g, dtype=torch.float64).to(device)
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        X @ W.T
        A.T @ X
        c @ A
    sync(device)
    flops = 2 * size.n * size.d * size.R * size.m * 2 + 2 * size.n * size.R * size.m
    return time.perf_counter() - start, flops


def time_to_kkt(device: torch.device, budget: int, constant_budget: int, target: float = 0.01) -> dict:
    """Steps until the normalized margin is within ``target`` of its long-run value, for both schedules; the
    constant schedule gets its own, larger budget, so that a miss still bounds the ratio honestly."""
    mix = cluster_mixture(50, 4, seed=0, device=device)
    data = mix.sample(40, seed=1, balanced=True)
    net = TwoLayerNet(d=50, m=16)
    p0 = net.init(scale=1e-2, seed=0, device=device)
    long = gradient_flow(net, p0, data.X, data.y, steps=2 * budget, record_every=100, progress=False)
    final = long.history.normalized_margin[-1, 0]
    out = {"tolerance": target, "final_normalized_margin": float(final)}
    for schedule, lr, steps in (("normalized", 0.1, budget), ("constant", 0.5, constant_budget)):
        start = time.perf_counter()
        res = gradient_flow(net, p0, data.X, data.y, schedule=schedule, lr=lr, steps=steps, record_every=10,
                            progress=False)
        seconds = time.perf_counter() - start
        h = res.history
        close = np.abs(h.normalized_margin[:, 0] - final) <= target * abs(final)
        reached = int(h.step[close.argmax()]) if close.any() else None
        gap = float(np.abs(h.normalized_margin[-1, 0] - final) / abs(final))
        out[schedule] = {"steps": reached, "budget": steps, "seconds_for_budget": seconds, "relative_gap_at_end": gap}
    a, b = out["constant"]["steps"], out["normalized"]["steps"]
    out["step_ratio"] = (a / b) if a and b else None
    out["step_ratio_at_least"] = constant_budget / b if (a is None and b) else None
    return out


def peak_memory_mb(size: Size, steps: int, device: str) -> float:
    """Peak resident memory (CPU) or peak allocated memory (CUDA) of a training run, in a fresh process."""
    here, dims = str(Path(__file__).parent), tuple(asdict(size).values())
    code = (
        f"import resource, sys, torch; sys.path.insert(0, {here!r}); from bench_engine import *; "
        f"s = Size(*{dims!r}); dev = torch.device({device!r}); engine_seconds(s, {steps:d}, dev); "
        "print(torch.cuda.max_memory_allocated() / 2**20 if dev.type == 'cuda' "
        "else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps: checks that the suite runs")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timing (default 50, smoke 3)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for JSON and Markdown")
    args = parser.parse_args(argv)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    sizes = SMOKE if args.smoke else SIZES + R_SWEEP
    steps = args.steps or (3 if args.smoke else 50)
    rows = []
    for size in sizes:
        engine_seconds(size, 2, device), baseline_seconds(size, 2, device)  # warm-up
        eng, base, mm = [], [], []
        for _ in range(3):  # interleaved repeats; the median is reported
            eng.append(engine_seconds(size, steps, device))
            base.append(baseline_seconds(size, steps, device))
            mm.append(matmul_seconds(size, steps, device)[0])
        flops = matmul_seconds(size, 1, device)[1]
        e, b, m = (float(np.median(x)) for x in (eng, base, mm))
        rows.append({**asdict(size), "steps": steps, "engine_steps_per_s": steps / e, "baseline_steps_per_s": steps / b,
                     "baseline_over_engine": b / e, "engine_over_matmul": e / m,
                     "engine_gflops": flops * steps / e / 1e9, "matmul_gflops": flops * steps / m / 1e9})
    report = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "torch": torch.__version__,
                    "threads": torch.get_num_threads(), "device": str(device),
                    "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None},
        "engine": rows,
        "time_to_kkt": time_to_kkt(device, budget=200 if args.smoke else 20_000,
                                   constant_budget=300 if args.smoke else 30_000),
        "peak_memory_mb": {"size": "d=2000 n=2000 m=1024 R=4" if not args.smoke else "smoke",
                           "value": peak_memory_mb(Size("mem", 2000, 2000, 1024, 4) if not args.smoke else SMOKE[0],
                                                   2, str(device))},
    }
    report["targets"] = targets(report)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "smoke" if args.smoke else f"engine-{device.type}"
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))
    (args.out / f"{name}.md").write_text(markdown(report))
    print(markdown(report))
    return report


def targets(report: dict) -> list[dict]:
    """The issue's targets, each with the value measured (None where the suite did not measure it) and whether met."""
    rows = {r["name"]: r for r in report["engine"]}
    large = [r["engine_over_matmul"] for r in report["engine"] if r["name"].startswith("medium")]
    kkt = report["time_to_kkt"]
    checks = [
        ("baseline/engine > 1 at every size (smallest)", min(r["baseline_over_engine"] for r in rows.values()),
         lambda v: v > 1),
        ("baseline/engine >= 3 on small", rows["small"]["baseline_over_engine"] if "small" in rows else None,
         lambda v: v >= 3),
        ("engine/matmul <= 1.5 from medium up (largest)", max(large) if large else None, lambda v: v <= 1.5),
        ("KKT steps, constant over normalized, >= 100", kkt["step_ratio"] or kkt["step_ratio_at_least"],
         lambda v: v >= 100),
    ]
    return [{"target": name, "value": value, "met": None if value is None else met(value)}
            for name, value, met in checks]


def _target_line(t: dict) -> str:
    """One target as 'name: value (met)'."""
    if t["value"] is None:
        return f"{t['target']}: n/a"
    return f"{t['target']}: {t['value']:.2f} ({'met' if t['met'] else 'NOT met'})"


def markdown(report: dict) -> str:
    """The report as a Markdown table, for the book's appendix and the issue notes."""
    lines = [f"Machine: {report['machine']}", "",
             "| size | d | n | m | R | p | engine steps/s | baseline steps/s | baseline/engine | engine/matmul | engine GFLOP/s | matmul GFLOP/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in report["engine"]:
        lines.append(f"| {r['name']} | {r['d']} | {r['n']} | {r['m']} | {r['R']} | {r['p']} | {r['engine_steps_per_s']:.1f} | "
                     f"{r['baseline_steps_per_s']:.1f} | {r['baseline_over_engine']:.2f} | {r['engine_over_matmul']:.2f} | "
                     f"{r['engine_gflops']:.1f} | {r['matmul_gflops']:.1f} |")
    k = report["time_to_kkt"]
    lines += ["", f"Time to the KKT direction (normalized margin within {k['tolerance']:.0%} of its long-run value): "
              f"normalized schedule {k['normalized']['steps']} steps, constant schedule {k['constant']['steps']} steps "
              f"(budget {k['constant']['budget']}, gap at end {k['constant']['relative_gap_at_end']:.3g}); "
              f"ratio {k['step_ratio'] or ('>= ' + format(k['step_ratio_at_least'], '.0f') if k['step_ratio_at_least'] else 'n/a')}.",
              f"Peak memory ({report['peak_memory_mb']['size']}): {report['peak_memory_mb']['value']:.0f} MB.", "",
              "Targets: " + "; ".join(_target_line(t) for t in report["targets"]) + "."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
