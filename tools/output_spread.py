"""How far the printed numbers of two executions of the chapters lie apart, against the regression's tolerances.

    python tools/execute_notebooks.py --out /tmp/compat      # e.g. under MKL_CBWR=COMPATIBLE OMP_NUM_THREADS=1
    python tools/output_spread.py /tmp/compat                # against the committed chapters/*.ipynb

For every number of every code-cell output that differs between the two, prints the chapter, the cell, the
two values, their relative difference and the tolerance that `make test` applies (tests/nbregression.py);
then, per chapter, the largest relative difference. This is how the tolerances were chosen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.nbregression import NUMBER, flatten, numbers_agree, tolerance_for  # noqa: E402


def number_pairs(stored_nb, fresh_nb):
    """(cell, line, stored token, fresh token) for every number at the same place in both notebooks."""
    stored_cells = [c for c in stored_nb.cells if c.cell_type == "code"]
    fresh_cells = [c for c in fresh_nb.cells if c.cell_type == "code"]
    for number, (s_cell, f_cell) in enumerate(zip(stored_cells, fresh_cells)):
        s_out, f_out = flatten(s_cell.outputs, str), flatten(f_cell.outputs, str)
        for key in s_out.keys() & f_out.keys():
            for s_val, f_val in zip(s_out[key], f_out[key]):
                for s_line, f_line in zip(s_val.splitlines(), f_val.splitlines()):
                    for s_num, f_num in zip(NUMBER.findall(s_line), NUMBER.findall(f_line)):
                        yield number, s_line, s_num, f_num


def relative(a: float, b: float) -> float:
    """|a - b| relative to the larger magnitude (0 when both are 0)."""
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("fresh", type=Path, help="folder of executed chapter notebooks")
    parser.add_argument("--stored", type=Path, default=ROOT / "chapters", help="reference folder (committed)")
    args = parser.parse_args(argv)
    worst: dict[str, tuple[float, str]] = {}
    outside = 0
    print("| chapter | cell | stored | fresh | rel. diff | tolerance (rel / abs) | within | line |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for fresh_path in sorted(args.fresh.glob("*.ipynb")):
        stored_path = args.stored / fresh_path.name
        if not stored_path.exists():
            continue
        stored_nb, fresh_nb = (nbformat.read(p, as_version=4) for p in (stored_path, fresh_path))
        chapter = fresh_path.stem
        worst.setdefault(chapter, (0.0, ""))
        for cell, line, s_num, f_num in number_pairs(stored_nb, fresh_nb):
            if s_num == f_num:
                continue
            rel = relative(float(s_num), float(f_num))
            tol = tolerance_for(line)
            ok = numbers_agree(s_num, f_num, tol)
            outside += not ok
            if rel > worst[chapter][0]:
                worst[chapter] = (rel, line.strip()[:70])
            print(
                f"| {chapter} | {cell} | {s_num} | {f_num} | {rel:.2%} | {tol.rel:g} / {tol.abs:g} | "
                f"{'yes' if ok else 'NO'} | `{line.strip()[:70]}` |"
            )
    print("\n| chapter | largest relative difference | on the line |\n| --- | --- | --- |")
    for chapter, (rel, line) in worst.items():
        print(f"| {chapter} | {rel:.2%} | `{line}` |")
    print(f"\n{outside} number(s) outside the tolerance")
    return 1 if outside else 0


if __name__ == "__main__":
    sys.exit(main())
