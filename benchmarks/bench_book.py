"""Wall time of the book's two commands: a cold `make book` (it removes _build and executes every chapter
from scratch) and `make test` (the whole suite, the book build and nbval included). Run
``python benchmarks/bench_book.py --help``; it takes as long as the two commands (tens of minutes on two cores).

Each command runs once, in the repository, with the machine otherwise idle; the report records its exit code,
so a timing of a failed run is never mistaken for a good one.
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


def timed(cmd: list[str], log: Path) -> dict:
    """Run one command in the repository root, its output to ``log``; wall time in seconds and exit code."""
    start = time.perf_counter()
    with log.open("w") as fh:
        rc = subprocess.run(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT).returncode
    return {"command": " ".join(cmd), "seconds": time.perf_counter() - start, "returncode": rc, "log": log.name}


def markdown(report: dict) -> str:
    """The report as a Markdown table, for the book's appendix."""
    lines = [f"Machine: {report['machine']}", "", "| command | wall time | exit code |", "| --- | --- | --- |"]
    for name, r in report["commands"].items():
        lines.append(f"| `{name}` | {r['seconds'] / 60:.1f} min ({r['seconds']:.0f} s) | {r['returncode']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--smoke", action="store_true", help="time two instant make commands instead (checks the script)"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results", help="folder for JSON and Markdown"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "book-smoke" if args.smoke else "book"
    results = {}
    for label, cmd in (SMOKE if args.smoke else COMMANDS).items():
        logs = args.out / "logs"  # kept out of git (.gitignore): read them when a command failed
        logs.mkdir(exist_ok=True)
        results[label] = timed(cmd, logs / f"{name}-{cmd[-1]}.log")
        print(f"{label}: {results[label]['seconds']:.0f} s, exit code {results[label]['returncode']}", flush=True)
    report = {"machine": {"platform": platform.platform(), "cores": os.cpu_count()}, "commands": results}
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2))
    (args.out / f"{name}.md").write_text(markdown(report))
    return report


if __name__ == "__main__":
    main()
