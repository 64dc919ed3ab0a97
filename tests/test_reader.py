"""The book as a reader meets it, checked on the sources: numbering, the introduction's map, captioned
figures, Colab-ready math macros, key results, exercises, and chapter code short enough to read."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import notebook_macros  # noqa: E402 (tools/ is not a package)

TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
CHAPTERS = sorted(p for p in (ROOT / "chapters").glob("*.md") if p.read_text().startswith("---\njupytext:"))
# Chapters that reproduce a result of the papers: each has a key-results box and exercises.
RESULT_CHAPTERS = [
    "implicit_bias",
    "generalization",
    "nonrobustness",
    "robust_networks",
    "mechanism",
    "nearly_orthogonal",
    "polynomial_relu",
    "scaling",
]
MAX_CODE_LINE = 88


def toc_chapters() -> list[str]:
    """The chapter files of _toc.yml after the root, in order, as names relative to chapters/."""
    return [Path(entry["file"]).name for entry in TOC["chapters"]]


def code_cells(md: Path) -> list:
    return [cell for cell in jupytext.read(md).cells if cell.cell_type == "code"]


def display_math(md: Path) -> list[str]:
    """The closing lines of the display equations ($$ blocks) in a chapter's prose (not in code cells or
    in the hidden macros cell)."""
    closing, in_code, in_macros, inside = [], False, False, False
    for line in md.read_text().split("\n"):
        if line.startswith("```{code-cell}"):
            in_code = True
        elif in_code and line == "```":
            in_code = False
        elif line.startswith(notebook_macros.MARKER):
            in_macros = True
        elif in_macros and line == "+++":
            in_macros = False
        elif not (in_code or in_macros) and line.startswith("$$"):
            if inside:
                closing.append(line)
            inside = not inside
    return closing


def test_everything_is_numbered():
    """Chapters and sections through _toc.yml, figures through numfig (Jupyter Book's default), equations
    through their labels: MyST numbers a $$ equation only when it has one."""
    assert TOC.get("defaults", {}).get("numbered") is True, "_toc.yml: set defaults: {numbered: true}"
    assert CONFIG["sphinx"]["config"].get("numfig", True) is not False, "figures must stay numbered (numfig)"
    unlabelled = [
        (md.name, line)
        for md in sorted((ROOT / "chapters").glob("*.md"))
        for line in display_math(md)
        if not re.fullmatch(r"\$\$ \(eq-[\w-]+\)", line)
    ]
    assert not unlabelled, f"display equations without a label (hence without a number): {unlabelled}"


def test_intro_map_matches_toc():
    """The introduction's map links every chapter of _toc.yml, in the same order, and nothing else."""
    text = (ROOT / "chapters" / "intro.md").read_text()
    section = text.split("## Map of the book", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"\{doc\}`([^`<>]+)`", section)
    assert linked == toc_chapters(), f"the map of chapters/intro.md links {linked}, _toc.yml lists {toc_chapters()}"


def test_no_page_describes_an_unfinished_book():
    """Statements about the book's state that were true while it was being written, and are not now."""
    stale = re.compile(
        r"being written|this edition contains|uncomment each line|not yet written|coming soon", re.IGNORECASE
    )
    pages = [ROOT / "_toc.yml", ROOT / "README.md", *sorted((ROOT / "chapters").glob("*.md"))]
    hits = [(p.name, m.group(0)) for p in pages for m in stale.finditer(p.read_text())]
    assert not hits, f"stale statements about the book's state: {hits}"


def figure_cells(md: Path) -> list:
    return [cell for cell in code_cells(md) if "plt.show()" in cell.source]


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_figures_have_captions_and_alt_text(md):
    """Every figure cell draws one figure and carries a caption that says what to see, alt text, and a name
    (hence a number): a cell that draws several repeats its one caption under each."""
    for cell in figure_cells(md):
        opts = cell.metadata.get("mystnb", {})
        caption = opts.get("figure", {}).get("caption", "")
        alt = opts.get("image", {}).get("alt", "")
        where = f"{md.name}: figure cell starting {cell.source.splitlines()[0]!r}"
        assert len(caption.split()) >= 8, f"{where} needs a caption (mystnb.figure.caption)"
        assert len(alt.split()) >= 5, f"{where} needs alt text (mystnb.image.alt)"
        several = cell.source.count("plt.show()") > 1 or re.search(r"^\s+plt\.show\(\)", cell.source, re.MULTILINE)
        assert not several, f"{where} draws several figures: split it, one figure (and caption) per cell"
        assert opts["figure"].get("name", "").startswith("fig-"), f"{where} needs a name fig-... (a number)"


def test_figure_names_are_unique():
    names = [
        cell.metadata["mystnb"]["figure"]["name"]
        for md in CHAPTERS
        for cell in figure_cells(md)
        if "name" in cell.metadata.get("mystnb", {}).get("figure", {})
    ]
    assert len(names) == len(set(names)), f"duplicate figure names: {sorted(names)}"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_code_lines_fit(md):
    """Chapter code is read next to the argument: no line longer than 88 characters (ruff's limit)."""
    long = [
        (i, len(line))
        for cell in code_cells(md)
        for i, line in enumerate(cell.source.splitlines())
        if len(line) > MAX_CODE_LINE
    ]
    assert not long, f"{md.name}: {len(long)} code lines over {MAX_CODE_LINE} characters; `ruff format` the cells"


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_notebook_defines_the_math_macros(md):
    """Colab renders math without the book's MathJax configuration: the second cell of every chapter is the
    hidden Markdown cell of \\newcommand lines that tools/notebook_macros.py makes from _config.yml."""
    cells = jupytext.read(md).cells
    expected = notebook_macros.macro_cell_source(CONFIG)
    assert len(cells) > 1 and cells[1].cell_type == "markdown" and cells[1].source == expected, (
        f"{md.name}: the second cell must be the macros cell; run `make macros`"
    )
    assert "remove-cell" in cells[1].metadata.get("tags", []), f"{md.name}: tag the macros cell remove-cell"


def test_macros_cover_the_config():
    """Every macro of _config.yml's MathJax configuration becomes one \\newcommand with its arity."""
    macros = CONFIG["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    source = notebook_macros.macro_cell_source(CONFIG)
    for name, body in macros.items():
        tex, arity = (body, 0) if isinstance(body, str) else body
        line = rf"\newcommand{{\{name}}}" + (f"[{arity}]" if arity else "") + f"{{{tex}}}"
        assert line in source, f"macro {name} missing from the notebooks' macros cell: {line}"


def parameter_names(md: Path) -> set[str]:
    cell = next(c for c in code_cells(md) if "parameters" in c.metadata.get("tags", []))
    return set(re.findall(r"^([A-Za-z_]\w*)\s*=", cell.source, re.MULTILINE))


@pytest.mark.parametrize("name", RESULT_CHAPTERS)
def test_result_chapter_has_key_results_and_exercises(name):
    """A key-results box with glued numbers; 2-4 exercises, each with a folded solution, one of which reruns
    the chapter with papermill at other values of its real parameters."""
    md = ROOT / "chapters" / f"{name}.md"
    text = md.read_text()
    box = re.search(r"^:{3,}\{admonition\} Key results?\n(.*?)^:{3,}$", text, re.MULTILINE | re.DOTALL)
    assert box and "{glue:text}`" in box.group(1), f"{md.name}: a Key results admonition with glued numbers"
    assert not re.search(r"\d\.\d", re.sub(r"\{glue:text\}`[^`]*`|\$[^$]*\$", "", box.group(1))), (
        f"{md.name}: the key-results box must glue its measured numbers, not type them"
    )
    exercises = re.findall(r"^:{3,}\{exercise\}", text, re.MULTILINE)
    solutions = re.findall(r"^:{3,}\{solution\} (\S+)\n:class: dropdown", text, re.MULTILINE)
    assert 2 <= len(exercises) <= 4, f"{md.name}: {len(exercises)} exercises, want 2 to 4"
    assert len(solutions) == len(exercises), f"{md.name}: every exercise needs a folded (dropdown) solution"
    commands = re.findall(r"papermill - \S+\.ipynb --cwd chapters((?: -p \w+ \S+)+)", text)
    assert commands, f"{md.name}: one exercise must rerun the chapter with the exact papermill command"
    used = {p for command in commands for p in re.findall(r"-p (\w+)", command)}
    assert used <= parameter_names(md), f"{md.name}: papermill sets {used - parameter_names(md)}, not parameters"


def figure_width(size: str) -> float:
    """A figsize width from chapter code; an expression (e.g. a width per panel) counts as wide."""
    try:
        return float(size)
    except ValueError:
        return float("inf")


@pytest.mark.parametrize("md", CHAPTERS, ids=lambda p: p.stem)
def test_wide_figures_take_the_full_width(md):
    """11-pt labels stay above 8 pt when shown only if a figure is at most about 9 in wide in the text column
    (about 750 px); a wider figure must take the page's full width (tag full-width, about 1050 px)."""
    narrow = [
        cell.source.splitlines()[0]
        for cell in figure_cells(md)
        if any(figure_width(w) >= 9 for w in re.findall(r"figsize=\(([^,]+),", cell.source))
        and "full-width" not in cell.metadata.get("tags", [])
    ]
    assert not narrow, f"{md.name}: wide figures without the full-width tag: {narrow}"
