"""Wall time of the book's two commands: a cold `make book` (it removes _build and executes every chapter
from scratch) and `make test` (the whole suite, the book build and nbval included). Run
``python benchmarks/bench_book.py --help``; it takes as long as the two commands (tens of minutes on two cores).

Each command runs once, in the repository, with the machine otherwise idle; the report records its exit code,
so a timing of a failed run is never mistaken for a good one, and the 1-minute load average at its start (each
command waits, ``--settle`` seconds at most, for the load to fall below 0.5), so a timing taken beside other work
shows as such, and its target (issue 16: on 2 idle cores, after the venv exists).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {"make book": ["make", "book"], "make test": ["make", "test"]}
# Smoke mode times two instant commands through the same code path, so the script cannot rot.
SMOKE = {"make help": ["make", "help"], "make -n test": ["make", "-n", "test"]}
TARGET_SECONDS = {"make book": 180, "make test": 600, "make help": 60, "make -n test": 60}


def settle(max_seconds: float, below: float = 0.5) -> float:
    """Wait, at most ``max_seconds``, for the 1-minute load average to fall below ``below`` (the previous command's
    own load decays over a minute or two); returns the load average then."""
    deadline = time.monotonic() + max_seconds
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)
    return os.getloadavg()[0]


def timed(cmd: list[str], log: Path, settle_seconds: float) -> dict:
    """Run one command in the repository root, its output to ``log``, once the load has settled; wall time in
    seconds, exit code and the 1-minute load average at its start."""
    load = settle(settle_seconds)
    start = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT).returncode
    seconds = time.perf_counter() - start
    return {"command": " ".join(cmd), "seconds": seconds, "returncode": rc, "load_before": load, "log": log.name}


def met(result: dict, target_seconds: float) -> bool:
    """Whether a timed command meets its target: it succeeded, within the time."""
    return result["returncode"] == 0 and result["seconds"] <= target_seconds


def markdown(report: dict) -> str:
    """The report as a Markdown table, for the book's appendix."""
    lines = [
        f"Machine: {report['machine']}",
        "",
        "| command | wall time | exit code | load at start | target | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in report["commands"].items():
        lines.append(
            f"| `{name}` | {r['seconds'] / 60:.1f} min ({r['seconds']:.0f} s) | {r['returncode']} "
            f"| {r['load_before']:.2f} | {r['target_seconds']} s | {r['met']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--smoke", action="store_true", help="time two instant make commands instead (checks the script)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder for JSON and Markdown"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=None,
        help="seconds to wait at most, before each command, for the load average to fall below 0.5 "
        "(default 180; 0 in smoke mode)",
    )
    args = parser.parse_args(argv)
    settle_seconds = args.settle if args.settle is not None else (0.0 if args.smoke else 180.0)
    if settle_seconds < 0:
        parser.error(f"--settle must be >= 0 seconds, got {settle_seconds}")
    args.out.mkdir(parents=True, exist_ok=True)
    name = "book-smoke" if args.smoke else "book"
    results = {}
    for label, cmd in (SMOKE if args.smoke else COMMANDS).items():
        logs = args.out / "logs"  # kept out of git (.gitignore): read them when a command failed
        logs.mkdir(exist_ok=True)
        results[label] = timed(cmd, logs / f"{name}-{cmd[-1]}.log", settle_seconds)
        target = TARGET_SECONDS[label]
        results[label] |= {"target_seconds": target, "met": met(results[label], target)}
        print(f"{label}: {results[label]['seconds']:.0f} s, exit code {results[label]['returncode']}", flush=True)
    report = {"machine": {"platform": platform.platform(), "cores": os.cpu_count()}, "commands": results}
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))
    (args.out / f"{name}.md").write_text(markdown(report))
    return report


if __name__ == "__main__":
    main()
