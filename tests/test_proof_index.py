"""The proof index (tools/proof_index.py): every theorem of the book has a title, and the index shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parents[1]
PROOF_DIRECTIVE = re.compile(r"^:::+\{prf:(\w+)\}(.*)$", re.MULTILINE)

CHAPTER = r"""Clusters
========

.. prf:theorem:: Non-robustness (scaling form) :math:`F^{(p)}`
   :label: thm-flip

   Body.

.. prf:conjecture:: pReLU helps
   :label: conj-prelu

   Body.

See the :ref:`proof-index`.
"""

SWEEPS = """Sweeps
======

.. prf:conjecture:: Robustness grows with p
   :label: conj-sweeps

   Body.

.. prf:theorem:: The flip radius grows like a square root
   :label: thm-sweeps

   Body.
"""


def test_every_theorem_of_the_book_has_a_title():
    untitled = [
        f"{md.name}: {kind}"
        for md in sorted((ROOT / "chapters").glob("*.md"))
        for kind, title in PROOF_DIRECTIVE.findall(md.read_text())
        if kind != "proof" and not title.strip()
    ]
    assert not untitled, f"prf directives without a title (the proof index shows titles): {untitled}"


def test_the_proof_index_lists_numbers_and_titles_by_chapter(tmp_path):
    sphinx_build = pytest.importorskip("sphinx.cmd.build")
    src, out = tmp_path / "src", tmp_path / "html"
    src.mkdir()
    conf = f"import sys\nsys.path.insert(0, {str(ROOT / 'tools')!r})\nextensions = ['sphinx_proof', 'proof_index']\n"
    (src / "conf.py").write_text(conf)
    intro = ".. prf:theorem:: The double edge\n   :label: thm-intro\n\n   Body.\n\n"
    (src / "index.rst").write_text(f"Book\n====\n\n{intro}.. toctree::\n   :numbered:\n\n   clusters\n   sweeps\n")
    (src / "sweeps.rst").write_text(SWEEPS)
    (src / "clusters.rst").write_text(CHAPTER)
    assert sphinx_build.build_main(["-b", "html", "-W", "-q", str(src), str(out)]) == 0
    index = BeautifulSoup((out / "prf-prf.html").read_text(), "html.parser")
    links = [(a.get_text(" ", strip=True), a["href"]) for a in index.select("table.indextable a")]
    assert links == [  # the book's order: the root, then the chapters; page order within a page
        ("Theorem 1: The double edge", "index.html#thm-intro"),
        ("Theorem 1.1: Non-robustness (scaling form) F^(p)", "clusters.html#thm-flip"),
        ("Conjecture 1.1: pReLU helps", "clusters.html#conj-prelu"),
        ("Conjecture 2.1: Robustness grows with p", "sweeps.html#conj-sweeps"),
        ("Theorem 2.1: The flip radius grows like a square root", "sweeps.html#thm-sweeps"),
    ]
    headings = [row.get_text(strip=True) for row in index.select("table.indextable tr.cap")]
    assert headings == ["Book", "1. Clusters", "2. Sweeps"]
    page = BeautifulSoup((out / "clusters.html").read_text(), "html.parser")
    assert page.select_one('a[href="prf-prf.html"]') is not None, "{ref}`proof-index` must link to the index"
