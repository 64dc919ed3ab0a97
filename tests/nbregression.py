"""nbval plugin: chapter outputs are compared to a tolerance where they are numbers, exactly everywhere else.

Bit-identical output is a property of one machine and one setting: another CPU, another thread count or
another MKL code path moves the last bits, and gradient flow through ReLU kinks amplifies them into the
printed digits. So `make test` compares each number of a stored output with its fresh value to a stated
tolerance, and compares the text around the numbers (words, verdicts such as "holds", table shapes,
line counts) exactly. A figure must still be there (its pixels are not compared), and any new output field
(stderr, an error) still fails. The tolerances live in TOLERANCES below, and nowhere else.

The plugin also
- runs two representative chapters under settings that imitate another machine (FOREIGN_SETTINGS), so that
  every `make test` proves the stored outputs hold away from the setting that wrote them;
- keeps each chapter's freshly executed notebook (`executed_notebooks`), so that the book build of
  tests/test_book.py reuses it instead of executing every chapter a second time.
"""

from __future__ import annotations

import copy
import json
import math
import os
import re
import sys
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbval import plugin as nbval

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from build_book import recorded_seconds  # noqa: E402  (tools/ is not a package)

# A number: not glued to a preceding letter, digit, underscore or dot, so names such as r50, x2, F^(3)'s
# digits inside identifiers, or "sqrt(d/k)" stay text. A leading sign is part of the number.
NUMBER = re.compile(r"(?<![A-Za-z_\d.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_\d])")


@dataclass(frozen=True)
class Tolerance:
    """|fresh - stored| <= max(rel * |stored|, abs) + one unit of the last printed digit (rounding)."""

    rel: float
    abs: float = 0.0
    why: str = ""
    exact_counts: bool = True  # integers printed as integers must be equal; False where a float prints as one


# How they were chosen. Every chapter was executed at its defaults on this project's machine (Intel, 2 cores)
# under the stored setting (MKL_CBWR=AUTO,STRICT, 2 threads) and under MKL_CBWR=COMPATIBLE on one thread; the
# three chapters whose digits moved on an AMD EPYC with AVX-512 (issue 11) also under ATEN_CPU_CAPABILITY=default.
# `python tools/output_spread.py DIR` lists every printed number that differs between two executions. Largest
# differences seen, beyond one unit of the last printed digit: 0.1% on flip radii and attack medians after
# training through ReLU kinks (1.115 vs 1.116), 0.5% on a maximum over points (largest attack gap 19.0% vs
# 19.1%), and 6% on a residual checked against 20% (max |gap / (sqrt(k)/2) - 1|: 0.0066 vs 0.00704; 0.0072 on the
# AVX-512 machine). Eight chapters printed identical digits under every setting. The narrowest claim at the
# defaults holds by about 5% (a ratio of 0.93 checked against [0.8, 1.05]; radii of 0.86 against >= 0.75).
# DEFAULT is four times the largest spread and below that margin; x1.05 on any checked ratio fails it. The
# rules give residuals a floor of 1% of their criterion instead of a relative tolerance of their own tiny value.
# The first rule whose pattern matches the line of the stored output applies.
DEFAULT = Tolerance(rel=0.02, abs=1e-9, why="4x the largest measured spread (0.5%) across settings")
TOLERANCES: list[tuple[re.Pattern, Tolerance]] = [
    # Relative gaps checked against 5% (robust_networks): 0.0066 vs 0.0072 across machines, 0.00652 vs 0.00719
    # between 2 and 1 threads, moves the gap by 10% but its criterion by 1.3%.
    (
        re.compile(r"\bgap\b.*(<=|&lt;=) 5%"),  # the claims table glued as HTML escapes "<"
        Tolerance(rel=0.02, abs=2e-3, why="a residual checked against 5%: floor 3x its measured spread"),
    ),
    # The ratio of test errors (generalization) is twice a count of misclassified test points when no error is
    # seen at the largest d/k (one unseen error counts as half a point): one point of 4000 moves it by 2, as
    # between 2 and 1 threads (302 vs 304). It prints as an integer but is a ratio, checked against >= 10.
    (
        re.compile(r"error at smallest d/k over error at largest"),
        Tolerance(rel=0.02, why="a ratio of error counts, checked against >= 10", exact_counts=False),
    ),
    # KKT residuals (stationarity, complementary slackness) checked against 1e-2: their size is set by the
    # optimiser's stopping point, not by the machine.
    (
        re.compile(r"stationarity|slackness"),
        Tolerance(rel=0.02, abs=1e-4, why="a residual checked against 1e-2: floor 1% of it"),
    ),
]


def tolerance_for(line: str) -> Tolerance:
    """The tolerance of the numbers on one line of a stored output: the first matching rule, else DEFAULT."""
    return next((tol for pattern, tol in TOLERANCES if pattern.search(line)), DEFAULT)


def is_count(token: str) -> bool:
    """A token printed as an integer (no decimal point, no exponent)."""
    return token.lstrip("+-").isdigit()


def last_digit_unit(token: str) -> float:
    """One unit of the last printed digit of a token (1 for an integer)."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 10.0 ** (int(exponent or 0) - decimals)


def numbers_agree(stored: str, fresh: str, tol: Tolerance) -> bool:
    """Whether two printed numbers agree within `tol`, allowing for one unit of rounding in either.

    Two integers (counts, sizes, seeds) must be equal; a value printed as "1" on one side and "0.998" on the
    other is a rounded float (book.fmt prints 3 significant digits) and is compared as one.
    """
    if tol.exact_counts and is_count(stored) and is_count(fresh):
        return int(stored) == int(fresh)
    a, b = float(stored), float(fresh)
    if not (math.isfinite(a) and math.isfinite(b)):
        return stored == fresh
    rounding = max((last_digit_unit(t) for t in (stored, fresh) if not is_count(t)), default=1.0)
    allowed = max(tol.rel * abs(a), tol.abs) + rounding
    return abs(a - b) <= allowed * (1 + 1e-12)


def compare_text(stored: str, fresh: str) -> list[str]:
    """Differences between two outputs: text outside numbers must be equal, numbers within tolerance."""
    s_lines, f_lines = stored.splitlines(), fresh.splitlines()
    if len(s_lines) != len(f_lines):
        return [f"{len(f_lines)} lines where the stored output has {len(s_lines)}"]
    problems = []
    for s_line, f_line in zip(s_lines, f_lines):
        if NUMBER.sub("#", s_line) != NUMBER.sub("#", f_line):
            problems.append(f"text differs:\n  stored: {s_line!r}\n  fresh:  {f_line!r}")
            continue
        tol = tolerance_for(s_line)
        for s_num, f_num in zip(NUMBER.findall(s_line), NUMBER.findall(f_line)):
            if not numbers_agree(s_num, f_num, tol):
                problems.append(
                    f"{f_num} vs stored {s_num} is outside rel {tol.rel:g} / abs {tol.abs:g} "
                    f"({tol.why or 'default'}):\n  stored: {s_line!r}\n  fresh:  {f_line!r}"
                )
    return problems


def as_text(value) -> str:
    """A MIME value as text: strings as they are, lists joined (nbformat splits lines), JSON sorted."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return json.dumps(value, sort_keys=True, indent=1)


def flatten(outputs, sanitize) -> dict[str, list[str]]:
    """Outputs keyed as nbval keys them (stream name or MIME type); images only counted, never compared."""
    keyed: dict[str, list[str]] = defaultdict(list)
    for out in nbval.transform_streams_for_comparison(outputs):
        for key, value in out.items():
            if key in ("metadata", "traceback", "output_type", "execution_count", "name", "prompt_number"):
                continue
            items = value.items() if key == "data" else [(key, value)]
            for mime, data in items:
                if mime == "application/vnd.jupyter.widget-view+json":
                    continue
                is_image = mime.startswith("image/") or mime.endswith(("/image/png", "/image/svg+xml"))
                keyed[mime].append("<image>" if is_image else sanitize(as_text(data)))
    return keyed


def compare_outputs(fresh_outputs, stored_outputs, sanitize=lambda s: s) -> list[str]:
    """Every difference between a cell's fresh and stored outputs that the regression does not tolerate."""
    fresh, stored = flatten(fresh_outputs, sanitize), flatten(stored_outputs, sanitize)
    if set(fresh) != set(stored):
        return [
            f"output fields differ: missing {sorted(set(stored) - set(fresh))}, "
            f"unexpected {sorted(set(fresh) - set(stored))}"
        ]
    problems = []
    for key in stored:
        if len(fresh[key]) != len(stored[key]):
            problems.append(f"{len(fresh[key])} outputs of {key} where {len(stored[key])} are stored")
            continue
        for s_val, f_val in zip(stored[key], fresh[key]):
            problems += [f"[{key}] {p}" for p in compare_text(s_val, f_val)]
    return problems


def _tolerant_compare(self, test, ref, skip_compare=None) -> bool:
    """Replaces nbval's exact comparison (IPyNbCell.compare_outputs) by `compare_outputs`."""
    self.comparison_traceback = compare_outputs(test, ref, self.sanitize)
    return not self.comparison_traceback


# Chapters that `make test` runs under another machine's code paths (TOOLCHAIN.md: both change the last
# bits of a 300-step run on one machine). nonrobustness: the Frei chapter, long ReLU flows, attacks and
# the exact solver, whose printed digits moved on an AVX-512 machine; MKL's portable code path on one thread
# changes every matrix product. nearly_orthogonal: the Vardi chapter, whose digits also moved there;
# ATEN's scalar kernels change every elementwise sum and reduction. Both run in about a minute.
FOREIGN_SETTINGS: dict[str, dict[str, str]] = {
    "nonrobustness": {"MKL_CBWR": "COMPATIBLE", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "nearly_orthogonal": {"ATEN_CPU_CAPABILITY": "default"},
}


@contextmanager
def environment(overrides: dict[str, str]):
    """os.environ with `overrides` applied inside the block (the kernel inherits it when it starts)."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_nbval_setup = nbval.IPyNbFile.setup


def _setup_with_settings(self) -> None:
    """Start the chapter's kernel under its FOREIGN_SETTINGS, if it has any."""
    with environment(FOREIGN_SETTINGS.get(Path(str(self.fspath)).stem, {})):
        _nbval_setup(self)


# The chapters executed by this session, with their fresh outputs: path of the .ipynb -> notebook.
EXECUTED = pytest.StashKey[dict]()


# A folder shared by the test processes: `make test` runs the chapters in parallel (pytest-xdist), each process
# writes the chapters it executed here, and the later run of the tests marked `book` builds from them.
EXECUTED_DIR = "NBREGRESSION_EXECUTED"


def executed_notebooks(config: pytest.Config) -> dict[Path, nbformat.NotebookNode]:
    """Notebooks whose every code cell ran without error, with their fresh outputs: this session's, and those
    other processes left in $NBREGRESSION_EXECUTED."""
    found = dict(config.stash.get(EXECUTED, {}))
    if folder := os.environ.get(EXECUTED_DIR):
        for path in sorted(Path(folder).glob("*.ipynb")):
            found.setdefault(config.rootpath / "chapters" / path.name, nbformat.read(path, as_version=4))
    return found


def pytest_configure(config: pytest.Config) -> None:
    config.stash[EXECUTED] = {}
    nbval.IPyNbCell.compare_outputs = _tolerant_compare
    nbval.IPyNbFile.setup = _setup_with_settings


def pytest_collection_modifyitems(session, config, items) -> None:
    """Chapters first, so that the book build (tests/test_book.py) can reuse their executions, the longest first
    (their stored timings), then the tests marked `first`: pytest-xdist hands out work in this order, and a long
    item started last would leave one process running alone. Tests of the built book are marked `book`, so that
    a parallel run can leave them to a later one (see the Makefile)."""
    seconds = {}
    for item in items:
        if isinstance(item, nbval.IPyNbCell) and item.parent not in seconds:
            seconds[item.parent] = recorded_seconds(item.parent.nb)
    items.sort(
        key=lambda item: (
            item.parent not in seconds,
            -seconds.get(item.parent, 0.0),
            item.get_closest_marker("first") is None,
        )
    )
    for item in items:
        if "book_html" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.book)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if isinstance(item, nbval.IPyNbCell) and call.when == "call":
        _keep_fresh_outputs(item, ran=report.passed or getattr(item, "comparison_traceback", None))
    return report


def _keep_fresh_outputs(item, ran) -> None:
    """Collect a cell's fresh outputs; store the notebook once its last cell has run without an error."""
    runs = item.parent.__dict__.setdefault("_fresh", {})
    if ran and item.test_outputs is not None:
        runs[item.cell_num] = item.test_outputs
    code = [cell for cell in item.parent.nb.cells if cell.cell_type == "code"]
    if item.cell_num == len(code) - 1 and len(runs) == len(code):
        nb = copy.deepcopy(item.parent.nb)
        for number, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
            cell.outputs, cell.execution_count = runs[number], number + 1
        path = Path(str(item.parent.fspath)).resolve()
        item.config.stash[EXECUTED][path] = nb
        if folder := os.environ.get(EXECUTED_DIR):
            Path(folder).mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, Path(folder) / path.name)
