"""Regenerate the committed, executed chapter notebooks (`make notebooks`).

Each chapter's MyST source is paired into its .ipynb with jupytext (code and text from the .md), then the
notebook is executed in place at its default parameters with nbclient, in the chapters folder, as the book
build, papermill --cwd and nbval run it. The stored outputs are what `make test` checks with nbval.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import nbformat
from build_book import paired_chapters, run  # tools/ is this script's folder


def execute(md: Path, timeout: int, out: Path | None = None) -> float:
    """Pair, then execute the .ipynb of one chapter in place (or into the folder `out`); returns the wall time."""
    subprocess.run([sys.executable, "-m", "jupytext", "--sync", "--quiet", str(md)], check=True)
    ipynb = md.with_suffix(".ipynb")
    nb = nbformat.read(ipynb, as_version=4)
    seconds = run(nb, md.parent, timeout)
    nbformat.write(nb, ipynb if out is None else out / ipynb.name)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("chapters", nargs="*", help="chapter names (default: every paired chapter)")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument(
        "--out",
        type=Path,
        help="write the executed notebooks into this folder instead "
        "(e.g. under other settings, for tools/output_spread.py); the committed ones stay",
    )
    args = parser.parse_args(argv)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
    chosen = paired_chapters()
    if args.chapters:
        unknown = set(args.chapters) - {p.stem for p in chosen}
        if unknown:
            parser.error(f"unknown chapter(s) {sorted(unknown)}; choose from {[p.stem for p in chosen]}")
        chosen = [p for p in chosen if p.stem in args.chapters]
    for md in chosen:
        print(f"{md.stem}: executed in {execute(md, args.timeout, args.out):.0f} s", flush=True)


if __name__ == "__main__":
    main()
