"""Write the book's math macros into every chapter as a hidden Markdown cell (`make macros`).

The HTML book defines \\R, \\norm, \\inner, ... once, in _config.yml's MathJax configuration, which Colab and
Jupyter never read. Each chapter's second cell (after the Colab install cell) repeats them as \\newcommand
lines generated from that configuration, tagged remove-cell so the HTML book does not show it. Run
`make sync` afterwards to carry the cell into the paired .ipynb files.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- Math macros for Colab and Jupyter, generated from _config.yml by `make macros`. -->"
CELL_HEADER = '+++ {"tags": ["remove-cell"]}'
# The Colab install cell: the first code cell of a chapter.
FIRST_CODE_CELL = re.compile(r"```\{code-cell\}.*?\n```\n", re.DOTALL)


def macro_cell_source(config: dict) -> str:
    """The Markdown source of the macros cell: one \\newcommand per macro of the MathJax configuration."""
    macros = config["sphinx"]["config"]["mathjax3_config"]["tex"]["macros"]
    lines = []
    for name, body in macros.items():
        tex, arity = (body, 0) if isinstance(body, str) else body
        lines.append(rf"\newcommand{{\{name}}}" + (f"[{arity}]" if arity else "") + f"{{{tex}}}")
    return "\n".join([MARKER, "$$", *lines, "$$"])


def with_macro_cell(text: str, source: str) -> str:
    """A chapter's MyST text with the macros cell right after the install cell (replacing an older one)."""
    block = f"{CELL_HEADER}\n\n{source}\n\n+++\n\n"
    if MARKER in text:
        start = text.index(CELL_HEADER + "\n\n" + MARKER)
        end = text.index("\n+++\n\n", start + len(CELL_HEADER)) + len("\n+++\n\n")
        return text[:start] + block + text[end:]
    first = FIRST_CODE_CELL.search(text)
    if first is None:
        raise ValueError("no code cell found: a chapter starts with its Colab install cell")
    rest = text[first.end() :].lstrip("\n")
    return text[: first.end()] + "\n" + block + rest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only report chapters whose cell is missing or stale")
    args = parser.parse_args(argv)
    source = macro_cell_source(yaml.safe_load((ROOT / "_config.yml").read_text()))
    stale = []
    for md in sorted((ROOT / "chapters").glob("*.md")):
        text = md.read_text()
        if not text.startswith("---\njupytext:"):
            continue
        new = with_macro_cell(text, source)
        if new != text:
            stale.append(md.name)
            if not args.check:
                md.write_text(new)
    print(("stale: " if args.check else "updated: ") + (", ".join(stale) or "none"))
    if args.check and stale:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
