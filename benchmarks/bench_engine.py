"""Benchmarks of the gradient-flow engine: against per-seed PyTorch code, against a lean hand-batched step,
against its own matrix products (the limit), both schedules, float32, runs per batch, time to the KKT direction,
and peak memory. Run ``python benchmarks/bench_engine.py --help``.

Every comparison is a ratio of timings taken in the same run, interleaved, each the minimum of several
repetitions (the least disturbed one); the machine's load average is recorded with every result.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from implicit_bias.data import cluster_mixture
from implicit_bias.flow import gradient_flow, rejected_fraction_at_equilibrium
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


SIZES = [
    Size("small", 100, 200, 32, 16),
    Size("medium", 1000, 1000, 256, 8),
    Size("medium-prelu3", 1000, 1000, 256, 8, 3.0),
]
R_SWEEP = [Size(f"small-R{R}", 100, 200, 32, R) for R in (1, 4, 64, 256)]  # with "small" (R = 16)
SMOKE = [Size("smoke", 20, 40, 8, 4), Size("smoke-prelu3", 20, 40, 8, 4, 3.0)]
MEMORY = Size("mem", 2000, 2000, 1024, 4)  # the large size of the memory figure
BASELINE_MAX_R = 64  # the per-seed loop is skipped above this: it only gets slower, and costs minutes
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def problem(size: Size, device: torch.device, dtype: torch.dtype = torch.float64):
    """Data, network and initial parameters of one size."""
    mix = cluster_mixture(size.d, min(16, size.d), seed=0, device=device)
    data = mix.sample(size.n, seed=1, balanced=True)
    act = "relu" if size.p == 1 else "prelu"
    net = TwoLayerNet(d=size.d, m=size.m, bias=size.p == 1, activation=act, p=size.p)
    X, y = data.X.to(dtype), data.y.to(dtype)
    return X, y, net, net.init(runs=size.R, scale=1e-2, seed=0, device=device, dtype=dtype)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def clock(fn, device: torch.device) -> float:
    """Time of fn(), after the device has finished what was queued before: CPU time of this process when torch
    runs on one CPU thread (time the scheduler gave to other processes on a shared machine does not count),
    wall time otherwise."""
    timer = time.process_time if device.type == "cpu" and torch.get_num_threads() == 1 else time.perf_counter
    sync(device)
    start = timer()
    fn()
    sync(device)
    return timer() - start


def engine_seconds(
    size: Size, steps: int, device: torch.device, schedule: str = "constant", dtype: torch.dtype = torch.float64
) -> float:
    """Wall time of ``steps`` steps of the batched engine, all R runs at once (one record at the end)."""
    X, y, net, params = problem(size, device, dtype)
    return clock(
        lambda: gradient_flow(
            net, params, X, y, schedule=schedule, lr=0.01, steps=steps, record_every=steps, progress=False
        ),
        device,
    )


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
    X, y, _, _ = problem(size, device)
    models = [PerSeedNet(size.d, size.m, size.p).to(device, torch.float64) for _ in range(size.R)]

    def run() -> None:
        for model in models:
            opt = torch.optim.SGD(model.parameters(), lr=0.01)
            for _ in range(steps):
                opt.zero_grad()
                torch.exp(-y * model(X)).mean().backward()
                opt.step()

    return clock(run, device)


def lean_seconds(size: Size, steps: int, device: torch.device) -> float:
    """Wall time of a hand-batched ReLU step on log L written for speed alone: weights and biases as one
    (R m, d + 1) matrix, one matrix product each way, every buffer reused and updated in place."""
    X, y, _, params = problem(size, device)
    R, m, n = size.R, size.m, size.n
    X1 = torch.cat([X, torch.ones(n, 1, dtype=X.dtype, device=device)], 1)
    Wb = torch.cat([params["W"], params["b"][..., None]], -1).reshape(R * m, -1)
    v = params["v"].clone()
    Z, G = torch.empty(R * m, n, dtype=X.dtype, device=device), torch.empty_like(Wb)

    def run() -> None:
        for _ in range(steps):
            torch.mm(Wb, X1.T, out=Z).relu_()
            Z3 = Z.view(R, m, n)
            q = torch.bmm(v[:, None, :], Z3)[:, 0].mul_(y)
            log_sum = torch.logsumexp(-q, 1)
            coef = (-q - log_sum[:, None]).exp_().mul_(y)  # dual weights times labels: -dlog L/dN
            scale = (log_sum - math.log(n)).exp_().mul_(0.01)  # lr L: the constant schedule's step on L
            gv = torch.bmm(coef[:, None, :], Z3.transpose(1, 2))[:, 0]
            Z3.sign_().mul_(coef[:, None, :]).mul_(v[..., None])
            torch.mm(Z, X1, out=G)
            Wb.view(R, m, -1).addcmul_(G.view(R, m, -1), scale[:, None, None])
            v.addcmul_(gv, scale[:, None])

    return clock(run, device)


def gemm_seconds(size: Size, steps: int, device: torch.device) -> float:
    """The limit: the engine's own two matrix products per step, in its packed layout ([W b] times X with a column
    of ones, then the first-layer gradient), into reused buffers; ReLU sizes only."""
    X, _, net, params = problem(size, device)
    R, m, n = size.R, size.m, size.n
    packed, X1 = net.pack(params, X)
    Wb = packed["Wb"].reshape(R * m, -1)
    Z, G = torch.empty(R * m, n, dtype=X.dtype, device=device), torch.empty_like(Wb)

    def run() -> None:
        for _ in range(steps):
            torch.mm(Wb, X1.T, out=Z)
            torch.mm(Z, X1, out=G)

    return clock(run, device)


def load() -> float:
    """The machine's one-minute load average (0 where the platform has none)."""
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0


def time_size(size: Size, steps: int, device: torch.device, repeats: int) -> dict:
    """Every timing of one size, interleaved, the minimum over ``repeats`` repetitions, and the ratios.

    The engine's ratios are per step: a call of ``gradient_flow`` also pays once for checking its inputs, packing
    the parameters, evaluating the state it ends at and recording, which the lean loop and the matrix products do
    not; so each schedule is also timed for one step, and its per-step time is (T(steps) - T(1)) / (steps - 1).
    The one-off cost is reported beside it, and the ratios of whole calls too.
    """
    if steps < 2:
        raise ValueError(f"steps must be >= 2 to separate the per-step time from the one-off cost, got {steps}")
    relu = size.p == 1
    timers = {
        "engine": lambda: engine_seconds(size, steps, device),
        "engine_1": lambda: engine_seconds(size, 1, device),
        "normalized": lambda: engine_seconds(size, steps, device, "normalized"),
        "normalized_1": lambda: engine_seconds(size, 1, device, "normalized"),
        "float32": lambda: engine_seconds(size, steps, device, dtype=torch.float32),
        "lean": (lambda: lean_seconds(size, steps, device)) if relu else None,
        "gemm": (lambda: gemm_seconds(size, steps, device)) if relu else None,
        "baseline": (lambda: baseline_seconds(size, steps, device)) if size.R <= BASELINE_MAX_R else None,
    }
    timers = {k: f for k, f in timers.items() if f is not None}
    for f in timers.values():  # warm-up
        f()
    seconds = {k: [] for k in timers}
    loads = []
    for _ in range(repeats):
        for k, f in timers.items():
            seconds[k].append(f())
        loads.append(load())
    best = {k: min(v) for k, v in seconds.items()}
    step = {k: (best[k] - best[f"{k}_1"]) / (steps - 1) for k in ("engine", "normalized")}
    step |= {k: best[k] / steps for k in ("lean", "gemm") if k in best}  # loops with no one-off cost in the timing

    def per_step(key: str) -> float | None:
        return step["engine"] / step[key] if key in step else None

    def whole_calls(key: str, over: str) -> float | None:
        return best[key] / best[over] if key in best and over in best else None

    return {
        **asdict(size),
        "steps": steps,
        "repeats": repeats,
        "load_avg": [round(x, 2) for x in loads],
        "seconds": best,
        "engine_steps_per_s": 1 / step["engine"],
        "baseline_steps_per_s": steps / best["baseline"] if "baseline" in best else None,
        "engine_ms_per_run_step": 1e3 * step["engine"] / size.R,
        "engine_one_off_ms": 1e3 * (best["engine_1"] - step["engine"]),
        "baseline_over_engine": whole_calls("baseline", "engine"),
        "engine_over_lean": per_step("lean"),
        "engine_over_gemm": per_step("gemm"),
        "engine_over_lean_call": whole_calls("engine", "lean"),
        "lean_over_gemm": whole_calls("lean", "gemm"),  # how near the limit a lean step gets
        "normalized_over_constant": step["normalized"] / step["engine"],
        "normalized_over_constant_call": whole_calls("normalized", "engine"),
        "float32_speedup": whole_calls("engine", "float32"),
    }


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
        res = gradient_flow(
            net, p0, data.X, data.y, schedule=schedule, lr=lr, steps=steps, record_every=10, progress=False
        )
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


def rollbacks(size: Size, steps: int, device: torch.device) -> dict:
    """How often a run of the normalized schedule rejects its step over the second half of ``steps`` from the
    benchmark's start, beside the equilibrium prediction: a step is accepted exactly when the covered time grows."""
    X, y, net, params = problem(size, device)
    res = gradient_flow(net, params, X, y, schedule="normalized", lr=0.01, steps=steps, record_every=1, progress=False)
    rejected = res.history.stalled()[steps // 2 :]  # (steps, runs)
    return {
        "size": size.name,
        "steps": steps,
        "rejected_fraction": float(rejected.mean()),
        "predicted_at_equilibrium": rejected_fraction_at_equilibrium(),
        "steps_rolling_back_some_run": float(rejected.any(1).mean()),
    }


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


def memory(size: Size, steps: tuple[int, int], device: str) -> dict:
    """Peak memory after a few and after many steps, and the size of one parameter buffer (all runs)."""
    params_mb = size.R * size.m * (size.d + 2) * 8 / 2**20
    few, many = (peak_memory_mb(size, s, device) for s in steps)
    return {
        "size": f"d={size.d} n={size.n} m={size.m} R={size.R}",
        "steps": list(steps),
        "peak_mb": [few, many],
        "growth_mb": many - few,
        "parameter_buffer_mb": params_mb,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few steps: checks that the suite runs")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    parser.add_argument(
        "--steps", type=int, default=None, help="steps per timing, >= 2 (default 200, medium sizes 20, smoke 10)"
    )
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repetitions (default 5, smoke 2)")
    parser.add_argument("--only", nargs="*", default=None, help="time only these sizes (by name); for development")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for JSON and Markdown")
    args = parser.parse_args(argv)
    if args.steps is not None and args.steps < 2:
        parser.error(f"--steps must be >= 2 (per-step times need two step counts), got {args.steps}")
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    sizes = SMOKE if args.smoke else SIZES + R_SWEEP
    sizes = [s for s in sizes if args.only is None or s.name in args.only]
    repeats = args.repeats or (2 if args.smoke else 5)
    rows = []
    for size in sizes:
        steps = args.steps or (10 if args.smoke else (20 if size.d >= 1000 else 200))
        rows.append(time_size(size, steps, device, repeats))
        print(json.dumps(rows[-1]), flush=True)
    report = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": str(device),
            "cpus": os.cpu_count(),
            "gpu": torch.cuda.get_device_name() if device.type == "cuda" else None,
        },
        "method": f"minimum of {repeats} interleaved repetitions, "
        f"{'process CPU time (one thread)' if torch.get_num_threads() == 1 else 'wall time'}; "
        "engine ratios per step, (T(steps) - T(1)) / (steps - 1), the one-off cost of a call apart; "
        "load_avg is the 1-minute load after each",
        "engine": rows,
        "time_to_kkt": None
        if args.only
        else time_to_kkt(device, budget=200 if args.smoke else 20_000, constant_budget=300 if args.smoke else 30_000),
        "rollbacks": None
        if args.only
        else rollbacks(SMOKE[0] if args.smoke else SIZES[0], 40 if args.smoke else 400, device),
        "memory": None
        if args.only
        else memory(SMOKE[0] if args.smoke else MEMORY, (2, 6) if args.smoke else (2, 40), str(device)),
        "load_avg_end": load(),
    }
    report["targets"] = targets(report)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "smoke" if args.smoke else f"engine-{device.type}"
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))
    (args.out / f"{name}.md").write_text(markdown(report))
    print(markdown(report))
    return report


def targets(report: dict) -> list[dict]:
    """The targets of the engine's issues, each with the value measured (None where not measured) and whether met."""
    rows = {r["name"]: r for r in report["engine"]}

    def at(name: str, key: str) -> float | None:
        return rows[name][key] if name in rows else None

    per_run = [
        rows[s.name]["engine_ms_per_run_step"] for s in sorted(SIZES[:1] + R_SWEEP, key=lambda s: s.R) if s.name in rows
    ]
    rises = max((b / a for a, b in itertools.pairwise(per_run)), default=None)
    kkt, mem = report["time_to_kkt"], report["memory"]
    base = [r["baseline_over_engine"] for r in rows.values() if r["baseline_over_engine"] is not None]
    checks = [
        ("baseline/engine > 1 at every size (smallest)", min(base) if base else None, lambda v: v > 1),
        ("engine/lean <= 1.05 on small", at("small", "engine_over_lean"), lambda v: v <= 1.05),
        ("engine/lean <= 1.05 on medium", at("medium", "engine_over_lean"), lambda v: v <= 1.05),
        ("engine/lean <= 1.05 on small-R64", at("small-R64", "engine_over_lean"), lambda v: v <= 1.05),
        ("engine/own GEMMs <= 1.25 on small", at("small", "engine_over_gemm"), lambda v: v <= 1.25),
        ("engine/own GEMMs <= 1.10 on medium", at("medium", "engine_over_gemm"), lambda v: v <= 1.10),
        ("normalized/constant per step <= 1.2 on small", at("small", "normalized_over_constant"), lambda v: v <= 1.2),
        ("per-run cost, largest rise from one R to the next <= 1", rises, lambda v: v <= 1.0),
        (
            "peak memory growth from 2 to 40 steps (MB) <= 1 parameter buffer",
            None if mem is None else mem["growth_mb"],
            lambda v: v <= mem["parameter_buffer_mb"],
        ),
        (
            "KKT steps, constant over normalized, >= 100",
            None if kkt is None else (kkt["step_ratio"] or kkt["step_ratio_at_least"]),
            lambda v: v >= 100,
        ),
    ]
    return [
        {"target": name, "value": value, "met": None if value is None else bool(met(value))}
        for name, value, met in checks
    ]


def _fmt(value: float | None, spec: str = ".2f") -> str:
    return "n/a" if value is None else format(value, spec)


def markdown(report: dict) -> str:
    """The report as Markdown tables, for the issue notes (the book renders the JSON itself)."""
    m = report["machine"]
    head = (
        "| size | d | n | m | R | p | steps | engine steps/s | one-off ms | engine/lean | engine/own GEMMs "
        "| lean/own GEMMs | normalized/constant | whole calls: engine/lean, normalized/constant | float32 speed-up "
        "| baseline/engine | load |"
    )
    lines = [
        (
            f"Machine: {m['platform']}, torch {m['torch']}, {m['threads']} threads, device {m['device']}; "
            f"{report['method']}."
        ),
        "",
        head,
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in report["engine"]:
        lines.append(
            f"| {r['name']} | {r['d']} | {r['n']} | {r['m']} | {r['R']} | {r['p']} | {r['steps']} | "
            f"{r['engine_steps_per_s']:.1f} | {r['engine_one_off_ms']:.1f} | {_fmt(r['engine_over_lean'])} | "
            f"{_fmt(r['engine_over_gemm'])} | {_fmt(r['lean_over_gemm'])} | {r['normalized_over_constant']:.2f} | "
            f"{_fmt(r['engine_over_lean_call'])}, {r['normalized_over_constant_call']:.2f} | {r['float32_speedup']:.2f} | "
            f"{_fmt(r['baseline_over_engine'])} | {max(r['load_avg']):.2f} |"
        )
    k, mem = report["time_to_kkt"], report["memory"]
    if k is not None:
        ratio = k["step_ratio"] or (f">= {k['step_ratio_at_least']:.0f}" if k["step_ratio_at_least"] else "n/a")
        reached = k["constant"]["steps"] or f"more than {k['constant']['budget']}"
        lines += [
            "",
            (
                f"Time to the KKT direction (normalized margin within {k['tolerance']:.0%} of its long-run "
                f"value): normalized schedule {k['normalized']['steps']} steps, constant schedule {reached} "
                f"steps (gap at end {k['constant']['relative_gap_at_end']:.3g}); ratio {ratio}."
            ),
        ]
    roll = report.get("rollbacks")
    if roll is not None:
        lines.append(
            f"Normalized schedule ({roll['size']}, second half of {roll['steps']} steps): runs rejected "
            f"{roll['rejected_fraction']:.3f} of their steps (predicted at equilibrium "
            f"{roll['predicted_at_equilibrium']:.3f}); {roll['steps_rolling_back_some_run']:.0%} of the steps rolled "
            "back some run."
        )
    if mem is not None:
        lines += [
            (
                f"Peak memory ({mem['size']}): {mem['peak_mb'][0]:.0f} MB after {mem['steps'][0]} steps, "
                f"{mem['peak_mb'][1]:.0f} MB after {mem['steps'][1]}; one parameter buffer "
                f"{mem['parameter_buffer_mb']:.0f} MB."
            )
        ]
    lines += ["", "| target | value | met |", "| --- | --- | --- |"]
    lines += [f"| {t['target']} | {_fmt(t['value'], '.3g')} | {t['met']} |" for t in report["targets"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
