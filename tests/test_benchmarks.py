"""The benchmark suite runs end to end in smoke mode, so it cannot rot; nothing here times or asserts speed."""

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_benchmark_smoke_mode_writes_its_report(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--smoke", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    report = json.loads((tmp_path / "smoke.json").read_text())
    assert {r["name"] for r in report["engine"]} == {"smoke", "smoke-prelu3"}
    # every timing is positive; per-step values are differences of two timings, which noise on tiny sizes may flip
    assert all(min(r["seconds"].values()) > 0 and r["baseline_steps_per_s"] > 0 for r in report["engine"])
    assert all(r["seconds"].keys() >= {"engine", "engine_1", "normalized", "normalized_1"} for r in report["engine"])
    rows = {r["name"]: r for r in report["engine"]}
    # the lean step and the GEMM limit exist for ReLU only; every timing comes with the load it ran under
    ratios = ("engine_over_lean", "engine_over_gemm", "lean_over_gemm", "engine_one_off_ms")
    assert all(math.isfinite(rows["smoke"][k]) for k in ratios)
    assert (
        rows["smoke"]["engine_over_lean_call"] == rows["smoke"]["seconds"]["engine"] / rows["smoke"]["seconds"]["lean"]
    )
    assert rows["smoke-prelu3"]["engine_over_lean"] is None
    assert all(len(r["load_avg"]) == r["repeats"] == 2 and r["steps"] == 10 for r in report["engine"])
    assert all(math.isfinite(r["normalized_over_constant"]) and r["float32_speedup"] > 0 for r in report["engine"])
    assert report["time_to_kkt"]["normalized"]["budget"] == 200
    roll = report["rollbacks"]
    assert 0 <= roll["rejected_fraction"] <= roll["steps_rolling_back_some_run"] <= 1 and roll["steps"] == 40
    assert len(report["memory"]["peak_mb"]) == 2 and min(report["memory"]["peak_mb"]) > 0
    assert {t["target"] for t in report["targets"]} >= {"engine/lean <= 1.05 on small"}
    assert "| smoke |" in (tmp_path / "smoke.md").read_text()


def test_benchmark_has_help():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--help"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "--smoke" in out and "--device" in out
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_engine.py"), "--steps", "1"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "--steps must be >= 2" in bad.stderr and "got 1" in bad.stderr


def test_robustness_benchmark_smoke_mode_writes_its_report(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_robustness.py"), "--smoke", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    report = json.loads((tmp_path / "robustness-smoke.json").read_text())
    assert report["throughput"]["points"] == 200 and report["throughput"]["flip_curve_points_per_s"] > 0
    # the pre-issue-16 flip radius, the baseline of the speed-up, finds the library's radii
    assert report["throughput"]["flip_radii_max_rel_diff"] <= 1e-9 and report["throughput"]["flip_speedup"] > 0
    assert [r["free_neurons"] for r in report["exact"]] == [2, 4]
    assert "| DeepFool" in (tmp_path / "robustness-smoke.md").read_text()


def test_book_benchmark_smoke_mode_times_commands_and_records_exit_codes(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_book.py"), "--smoke", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    report = json.loads((tmp_path / "book-smoke.json").read_text())
    assert set(report["commands"]) == {"make help", "make -n test"}
    assert all(r["returncode"] == 0 and r["seconds"] > 0 for r in report["commands"].values())
    assert all(r["load_before"] >= 0 and r["target_seconds"] > 0 for r in report["commands"].values())
    assert "make help" in (tmp_path / "logs" / "book-smoke-help.log").read_text()  # make help lists itself
    assert "| `make help` |" in (tmp_path / "book-smoke.md").read_text()


def test_a_timed_command_meets_its_target_only_when_it_succeeds_in_time():
    spec = importlib.util.spec_from_file_location("bench_book", ROOT / "benchmarks" / "bench_book.py")
    bench_book = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_book)
    assert bench_book.met({"returncode": 0, "seconds": 599.0}, 600)
    assert not bench_book.met({"returncode": 0, "seconds": 601.0}, 600)
    assert not bench_book.met({"returncode": 2, "seconds": 10.0}, 600)  # a fast failure is no success


def test_attack_study_has_help_and_summarizes_ratios_with_failures_as_inf():
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_attacks.py"), "--help"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "--quick" in out and "--seeds" in out and "--points" in out
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_attacks

    nets = [
        {"d": 2, "k": 2, "m": 2, "seed": 0, "exact": [1.0, 2.0, float("nan")], "radius": {"a": [1.0, 2.2, 5.0]}},
        {"d": 2, "k": 2, "m": 2, "seed": 1, "exact": [1.0, 1.0], "radius": {"a": [1.04, float("inf")]}},
    ]
    s = bench_attacks.summarize(nets)["a"]
    assert s["points"] == 4  # the unsolved point (NaN exact) is left out
    assert s["median"] == 1.04 and s["max"] == float("inf") and s["p95"] == float("inf")
    assert s["within"] == 0.5 and s["failed"] == 0.25 and s["min"] == 1.0
    assert s["max_per_network"]["d=2 k=2 m=2 seed=0"] == 1.1


def test_attack_study_quick_mode_writes_its_report(tmp_path):
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_attacks.py"), "--quick", "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    report = json.loads((tmp_path / "attacks-quick.json").read_text())
    assert report["quick"] and len(report["networks"]) == 2 and report["solved"] > 0
    best = report["summary"]["book: best (refined, 8 random starts)"]
    assert best["min"] >= 1 - 1e-9  # an attack radius is an upper bound on the exact distance
    assert "| foolbox DDN (best) |" in (tmp_path / "attacks-quick.md").read_text()
