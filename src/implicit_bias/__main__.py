"""Command line: ``python -m implicit_bias sweep SPEC.yaml`` runs a resumable parameter sweep."""
from __future__ import annotations

import argparse
import sys

from .sweep import SpecError, aggregate, load_spec, pending, run_sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m implicit_bias", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sw = sub.add_parser("sweep", help="run a notebook once per point of a YAML grid (resumable)",
                        description="Run a notebook once per point of the grid in SPEC through papermill. "
                        "Completed points are kept; run it again after an interruption to finish the rest.")
    sw.add_argument("spec", help="YAML spec: notebook, output, parameters, grid")
    sw.add_argument("--workers", type=int, default=None, help="parallel points (default: number of cores)")
    sw.add_argument("--scheduler", default=None, help="address of a Dask scheduler, e.g. tcp://host:8786")
    sw.add_argument("--dry-run", action="store_true", help="list the points still to run and stop")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    ag = sub.add_parser("aggregate", help="rebuild table.csv from the records of a sweep")
    ag.add_argument("spec")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec)
    except SpecError as err:
        parser.exit(2, f"error: {err}\n")
    if args.command == "aggregate":
        print(aggregate(spec))
        return 0
    if args.workers is not None and args.workers < 1:
        parser.exit(2, f"error: --workers must be a positive integer, got {args.workers}\n")
    if args.dry_run:
        todo, done = pending(spec)
        print(f"{len(done)} done, {len(todo)} to run")
        for point in todo:
            print(" ", point)
        return 0
    summary = run_sweep(spec, workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress)
    print(f"ran {len(summary.ran)}, skipped {len(summary.skipped)} already done, failed {len(summary.failed)}; "
          f"table: {summary.table}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
