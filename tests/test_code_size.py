"""The library's functions stay short enough to read at once, and no module reaches into another's private names."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "implicit_bias"
MODULES = sorted(SRC.glob("*.py"))
MAX_LINES = 60


def _functions(tree: ast.AST) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def long_functions(source: str) -> list[str]:
    """Functions (methods and nested ones included) longer than MAX_LINES lines, signature and docstring included."""
    return [
        f"{f.name} ({f.end_lineno - f.lineno + 1} lines)"
        for f in _functions(ast.parse(source))
        if f.end_lineno - f.lineno + 1 > MAX_LINES
    ]


def private_imports(source: str) -> list[str]:
    """Names starting with one underscore imported from another module of the package (``_validate`` itself is the
    package's shared private module of argument checks)."""
    return [
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module is not None
        for alias in node.names
        if alias.name.startswith("_") and not alias.name.startswith("__")
    ]


def test_the_rules_catch_what_they_name():
    assert long_functions("def f():\n" + "    x = 1\n" * MAX_LINES) == [f"f ({MAX_LINES + 1} lines)"]
    assert long_functions("def f():\n" + "    x = 1\n" * (MAX_LINES - 1)) == []
    assert private_imports("from .attacks import _project, min_norm\n") == ["attacks._project"]
    assert private_imports("from . import _validate as check\n") == []


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_functions_are_at_most_60_lines(path):
    assert not long_functions(path.read_text()), f"{path.name}: split {long_functions(path.read_text())}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_no_module_imports_private_names_of_another(path):
    assert not private_imports(path.read_text()), f"{path.name} imports {private_imports(path.read_text())}"
