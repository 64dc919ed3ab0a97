"""The chapters' output regression (tests/nbregression.py): tolerant on numbers, exact on words, and able to fail."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests.nbregression import DEFAULT, FOREIGN_SETTINGS, compare_outputs, compare_text, numbers_agree, tolerance_for

ROOT = Path(__file__).resolve().parents[1]


def check_cell(chapter: str) -> nbformat.NotebookNode:
    """The stored `## Check` cell of a committed chapter: the one that prints verdicts."""
    nb = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code" and "book.check(" in c.source]
    assert cells, f"{chapter} has no check cell"
    return cells[-1]


def stdout_of(cell) -> str:
    return "".join(out["text"] for out in cell.outputs if out.get("name") == "stdout")


def value_of(check_line: str) -> float:
    """The value printed by book.check on one line ("label  value  (criterion: verdict)"), or nan."""
    try:
        return float(check_line.rsplit("  ", 2)[1])
    except (IndexError, ValueError):
        return float("nan")


def with_stdout(cell, text: str) -> list:
    """The cell's outputs with its stdout replaced by `text`."""
    outputs = copy.deepcopy(cell.outputs)
    for out in outputs:
        if out.get("name") == "stdout":
            out["text"] = text
    return outputs


@pytest.mark.parametrize(
    ("stored", "fresh", "line"),
    [
        ("1.22", "1.23", "r50 / sqrt(d/n) at n = 20"),  # issue 11, AMD EPYC: one printed digit
        ("0.894", "0.895", "median radius / sqrt(d/k), PGD"),
        ("1.116", "1.115", "r50 / sqrt(d/n): along z-hat"),
        (
            "0.00652",
            "0.00719",
            "max |gap / (sqrt(k)/2) - 1| at k >= 16  0.00652  (<= 5% (4x the seed and sampling spread): holds)",
        ),  # a residual, 2 vs 1 threads: floor of its criterion
        (
            "302",
            "304",
            "error at smallest d/k over error at largest  302  (>= 10 (at least a decade of exp(-c d/k) decay): holds)",
        ),  # twice a count of test errors, 2 vs 1 threads: a ratio that prints as an integer
        (
            "0.00652",
            "0.00719",
            "<td>max |gap / (sqrt(k)/2) - 1| at k &gt;= 16</td><td>0.00652</td><td>&lt;= 5% (4x the seed and sampling",
        ),  # the same claim in the ledger's HTML table
        ("40", "40", "points solved exactly"),
    ],
)
def test_differences_seen_on_another_machine_are_tolerated(stored, fresh, line):
    assert numbers_agree(stored, fresh, tolerance_for(line))


@pytest.mark.parametrize(
    ("stored", "fresh", "line"),
    [
        ("1.00", "1.05", "r50 / sqrt(d/k)"),  # x1.05 of a ratio checked against theory
        ("0.895", "0.94", "median radius / sqrt(d/k), PGD"),
        (
            "0.0066",
            "0.03",
            "max |gap / (sqrt(k)/2) - 1| at k >= 16  0.0066  (<= 5% (4x the seed and sampling spread): holds)",
        ),  # a gap five times larger
        (
            "302",
            "340",
            "error at smallest d/k over error at largest  302  (>= 10 (at least a decade of exp(-c d/k) decay): holds)",
        ),  # a ratio 12% larger
        ("0.0066", "0.0072", "max relative error"),  # without the residual rule: the default is strict
        ("40", "39", "points solved exactly"),  # counts must match
        ("nan", "1.0", "median exact / sqrt(d/k)"),
    ],
)
def test_real_changes_are_not_tolerated(stored, fresh, line):
    assert not numbers_agree(stored, fresh, tolerance_for(line))


def test_one_digit_of_rounding_is_allowed_on_top_of_the_tolerance():
    assert numbers_agree("0.1", "0.2", DEFAULT)  # printed to one decimal: 0.15 rounds either way
    assert not numbers_agree("0.10", "0.20", DEFAULT)


@pytest.mark.parametrize("chapter", ["nonrobustness", "robust_networks", "nearly_orthogonal"])
def test_mutations_of_a_stored_check_fail_the_regression(chapter):
    """A stored number x1.05, a flipped verdict, a removed output, new stderr: each fails; x1.001 passes."""
    cell = check_cell(chapter)
    text = stdout_of(cell)
    assert compare_outputs(cell.outputs, cell.outputs) == []
    lines = text.splitlines()
    target = next(i for i, line in enumerate(lines) if "holds" in line and value_of(line) > 0.1)

    def mutated(factor):
        new = lines.copy()
        label, value, rest = new[target].rsplit("  ", 2)
        new[target] = f"{label}  {float(value) * factor:.3g}  {rest}"
        return with_stdout(cell, "\n".join(new) + "\n")

    assert compare_outputs(mutated(1.05), cell.outputs), "a number moved by 5% passed"
    assert compare_outputs(mutated(1.001), cell.outputs) == [], "a number within its tolerance failed"
    flipped = with_stdout(cell, text.replace("holds)", "FAILS)", 1))
    assert compare_outputs(flipped, cell.outputs), "a flipped verdict passed"
    assert compare_outputs(with_stdout(cell, text.replace(lines[target] + "\n", "", 1)), cell.outputs)
    assert compare_outputs([], cell.outputs), "a removed output passed"
    stderr = nbformat.v4.new_output("stream", name="stderr", text="UserWarning: something new\n")
    assert compare_outputs([*cell.outputs, stderr], cell.outputs), "new stderr output passed"


def test_a_removed_figure_fails_the_regression():
    nb = nbformat.read(ROOT / "chapters" / "nonrobustness.ipynb", as_version=4)
    cell = next(
        c for c in nb.cells if c.cell_type == "code" and any("image/png" in o.get("data", {}) for o in c.outputs)
    )
    without = [o for o in cell.outputs if "image/png" not in o.get("data", {})]
    assert compare_outputs(cell.outputs, cell.outputs) == []
    assert compare_outputs(without, cell.outputs)


def test_words_around_numbers_are_compared_exactly():
    assert compare_text("d = 200  test error 0.0000\n", "d = 200  test error 0.0000\n") == []
    assert compare_text("d = 200  test error 0.0000\n", "d = 200  train error 0.0000\n")
    assert compare_text("a 1\nb 2\n", "a 1\n")  # a line lost


NOTEBOOK_CELLS = [  # (code, stored stdout): the fresh run prints `code`'s output
    ("print('ratio 1.000  (in [0.9, 1.1]: holds)')", "ratio 1.000  (in [0.9, 1.1]: holds)\n"),  # passes
    ("print('ratio 1.050  (in [0.9, 1.1]: holds)')", "ratio 1.000  (in [0.9, 1.1]: holds)\n"),  # x1.05: fails
    ("print('ratio 1.001  (in [0.9, 1.1]: holds)')", "ratio 1.000  (in [0.9, 1.1]: holds)\n"),  # passes
    ("print('ratio 1.000  (in [0.9, 1.1]: FAILS)')", "ratio 1.000  (in [0.9, 1.1]: holds)\n"),  # verdict: fails
    ("pass", "ratio 1.000  (in [0.9, 1.1]: holds)\n"),  # output removed: fails
    ("import sys; print('x 1'); print('late', file=sys.stderr)", "x 1\n"),  # new stderr: fails
]


def test_nbval_with_the_plugin_passes_and_fails_the_right_cells(tmp_path):
    """End to end: nbval, with this plugin, on a notebook whose stored outputs were tampered with."""
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "python3"}})
    for count, (code, stored) in enumerate(NOTEBOOK_CELLS, start=1):
        cell = nbformat.v4.new_code_cell(code, execution_count=count)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=stored)]
        nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "tampered.ipynb")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "tests.nbregression",
            "--nbval",
            "--nbval-current-env",
            "-p",
            "no:cacheprovider",
            "-rA",
            "tampered.ipynb",
        ],
        cwd=tmp_path,
        # this nbval run's notebooks are not chapters: keep them out of make test's shared folder of executions
        env={key: value for key, value in os.environ.items() if key != "NBREGRESSION_EXECUTED"}
        | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    outcome = {
        int(line.split("Cell ")[1].split()[0]): line.split()[0]
        for line in run.stdout.splitlines()
        if line.startswith(("PASSED", "FAILED")) and "::Cell " in line
    }
    assert outcome == {0: "PASSED", 1: "FAILED", 2: "PASSED", 3: "FAILED", 4: "FAILED", 5: "FAILED"}, run.stdout


def test_foreign_settings_name_real_chapters():
    for chapter in FOREIGN_SETTINGS:
        assert (ROOT / "chapters" / f"{chapter}.ipynb").is_file()


def test_chapters_executed_by_other_processes_are_found_in_the_shared_folder(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from tests.nbregression import EXECUTED_DIR, executed_notebooks

    config = SimpleNamespace(stash={}, rootpath=ROOT)
    monkeypatch.delenv(EXECUTED_DIR, raising=False)
    assert executed_notebooks(config) == {}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    nbformat.write(nb, tmp_path / "setting.ipynb")
    monkeypatch.setenv(EXECUTED_DIR, str(tmp_path))
    found = executed_notebooks(config)
    assert list(found) == [ROOT / "chapters" / "setting.ipynb"]
    assert found[ROOT / "chapters" / "setting.ipynb"].cells[0].source == "1 + 1"
