"""Chapters and sweep points only call the library: no long functions and no loops that build results in them."""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted([*ROOT.glob("chapters/*.md"), *ROOT.glob("sweeps/*.md")])
MAX_DEF_STATEMENTS = 5  # statements, not physical lines: a call formatted over 12 lines is one statement
BUILDERS = {"append", "extend", "update", "add", "insert", "setdefault"}


def _cells(path: Path) -> list[str]:
    """The code of a notebook's code cells, IPython magics (``%pip``) replaced by ``pass`` so that ast parses them."""
    nb = jupytext.read(path)
    return [
        "\n".join(_plain(line) for line in cell.source.splitlines()) for cell in nb.cells if cell.cell_type == "code"
    ]


def _plain(line: str) -> str:
    body = line.lstrip()
    return line[: len(line) - len(body)] + "pass" if body.startswith(("%", "!")) else line


def _builds(loop: ast.For | ast.While) -> bool:
    """Whether a loop stores results: item or augmented assignment, or a call like ``rows.append``."""
    for node in ast.walk(loop):
        if isinstance(node, ast.AugAssign):
            return True
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Subscript) for t in node.targets):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in BUILDERS:
            return True
    return False


def offences(source: str) -> list[str]:
    """What in one code cell belongs in the library: defs over MAX_DEF_STATEMENTS statements, loops that build
    results."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            statements = sum(isinstance(inner, ast.stmt) for inner in ast.walk(node)) - 1
            if statements > MAX_DEF_STATEMENTS:
                found.append(f"def {node.name} ({statements} statements)")
        elif isinstance(node, (ast.For, ast.While)) and _builds(node):
            found.append(f"loop building results at line {node.lineno}")
    return found


def test_the_rule_catches_long_functions_and_building_loops():
    assert offences("def f(x):\n    return x\n") == []
    assert offences("def f(x):\n" + "    x += 1\n" * 6 + "    return x\n") == ["def f (7 statements)"]
    assert offences("def f(x):\n    return g(\n" + "        x,\n" * 12 + "    )\n") == []  # one long call
    assert offences("out = {}\nfor k in range(3):\n    out[k] = k\n") == ["loop building results at line 2"]
    assert offences("rows = []\nfor k in range(3):\n    rows.append(k)\n") == ["loop building results at line 2"]
    assert offences("for ax in axes:\n    ax.set_xscale('log')\n") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_cells_only_call_the_library(path):
    bad = [f"cell {i}: {what}" for i, cell in enumerate(_cells(path)) for what in offences(cell)]
    assert not bad, f"{path.name} holds logic that belongs in src/implicit_bias: {bad}"
