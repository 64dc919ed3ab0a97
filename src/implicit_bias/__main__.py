"""Command line: ``python -m implicit_bias sweep SPEC.yaml`` runs a resumable parameter sweep."""

from __future__ import annotations

import argparse
import itertools
import sys

from .sweep import (
    MAX_POINTS,
    OutputError,
    SpecError,
    aggregate,
    done_ids,
    load_spec,
    point_id,
    provenance_problems,
    run_sweep,
)

SHOWN = 20  # pending points that --dry-run lists


def _parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m implicit_bias``."""
    parser = argparse.ArgumentParser(prog="python -m implicit_bias", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sw = sub.add_parser(
        "sweep",
        help="run a notebook once per point of a YAML grid (resumable)",
        description="Run a notebook once per point of the grid in SPEC through papermill. Completed points are "
        "kept; run it again after an interruption to finish the rest. The notebook and the files listed in the "
        "spec travel to the workers; results come back to this process, which alone writes the output folder "
        "(one sweep at a time per folder). Exit status: 0 all points ok, 1 some failed, 2 bad spec or options.",
    )
    sw.add_argument("spec", help="YAML spec: notebook, output, parameters, grid, files")
    sw.add_argument(
        "--workers",
        type=int,
        default=None,
        help="parallel points in the local process pool (default: number of cores); "
        "ignored with --scheduler, where each Dask worker thread runs one point",
    )
    sw.add_argument(
        "--scheduler",
        default=None,
        help="address of a Dask scheduler, e.g. tcp://host:8786; its workers need only the package",
    )
    sw.add_argument(
        "--dry-run",
        action="store_true",
        help=f"count the points done and to run, list the first {SHOWN} to run, and stop",
    )
    sw.add_argument(
        "--rerun",
        action="store_true",
        help="run every point again, also those done (after a change of the library, which no hash records)",
    )
    sw.add_argument("--no-progress", action="store_true", help="no progress bar")
    ag = sub.add_parser("aggregate", help="rebuild table.csv from the records of a sweep")
    ag.add_argument("spec", help="the sweep's YAML spec")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run it; bad input ends with one line on stderr and exit status 2."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "sweep" and args.workers is not None and args.workers < 1:
        parser.exit(2, f"error: --workers must be a positive integer, got {args.workers}\n")
    try:
        spec = load_spec(args.spec)
        if args.command == "aggregate":
            print(aggregate(spec))
            return 0
        if args.dry_run:
            done = done_ids(spec)
            print(
                f"{len(done)} done, {spec.size - len(done)} to run (grid of {spec.size} points, at most {MAX_POINTS})"
            )
            todo = (p for p in spec.points() if point_id(p) not in done)
            for point in itertools.islice(todo, SHOWN):
                print(" ", point)
            if spec.size - len(done) > SHOWN:
                print(f"  ... and {spec.size - len(done) - SHOWN} more")
            if (spec.output / "table.csv").exists():
                for problem in provenance_problems(spec):
                    print("stale:", problem)
            return 0
        summary = run_sweep(
            spec, workers=args.workers, scheduler=args.scheduler, progress=not args.no_progress, rerun=args.rerun
        )
    except (SpecError, OutputError) as err:
        parser.exit(2, f"error: {err}\n")
    print(
        f"ran {len(summary.ran)}, skipped {len(summary.skipped)} already done, failed {len(summary.failed)}; "
        f"table: {summary.table}"
    )
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
