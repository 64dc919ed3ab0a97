"""Sphinx extension: the proof index (prf-prf.html) lists every theorem by its number and title, by chapter.

sphinx-proof 0.4 lists each theorem, conjecture, ... by its label (``thm-scaling-frei``) and keeps no title.
This extension records each directive's title as its page is read (plain text, citations left out) and
replaces the domain's index with one that shows "Theorem 9.1: <title>" under its chapter's title, in the
book's reading order. ``{ref}`proof-index``` links to the index page. Loaded from _config.yml
(``sphinx.local_extensions``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx_proof.domain import ProofDomain, ProofIndex

LABEL = "proof-index"  # {ref}`proof-index` links to the page
INDEX_DOC = f"{ProofDomain.name}-{ProofIndex.name}"  # the page Sphinx writes: prf-prf.html


def title_text(title: nodes.title, title_format: str) -> str:
    """A directive title as plain text: citations dropped, TeX braces and backslashes removed from math, and
    the ``proof_title_format`` wrapping (" (%t)" by default) taken off."""
    parts = [
        re.sub(r"[{}\\]", "", child.astext()) if isinstance(child, nodes.math) else child.astext()
        for child in title.children
        if not isinstance(child, (addnodes.pending_xref, nodes.citation_reference, nodes.reference))
    ]
    text = " ".join("".join(parts).split())
    before, after = (s.strip() for s in title_format.split("%t", 1))
    if before and after and text.startswith(before) and text.endswith(after):
        text = text[len(before) : len(text) - len(after)]
    return text.strip()


def record_titles(app: Sphinx, doctree: nodes.document) -> None:
    """Store each proof directive's title in sphinx-proof's proof_list, next to its label."""
    proofs = getattr(app.env, "proof_list", {})
    for node in doctree.findall(nodes.Element):
        if "realtype" in node.attributes and node.get("label") in proofs and isinstance(node[0], nodes.title):
            proofs[node["label"]]["title"] = title_text(node[0], app.config.proof_title_format)


def reading_order(root: str, includes: dict[str, list[str]]) -> dict[str, int]:
    """Each document's position in the book: the root, then its toctree's documents, depth first."""
    order: dict[str, int] = {}
    stack = [root]
    while stack:
        doc = stack.pop()
        if doc not in order:
            order[doc] = len(order)
            stack.extend(reversed(includes.get(doc, [])))
    return order


class TitledProofIndex(ProofIndex):
    """The proof index by chapter, in the book's order, each entry its number and title."""

    def generate(self, docnames: Any = None) -> tuple[list[tuple[str, list[tuple]]], bool]:
        env = self.domain.env
        chapters: dict[str, list[tuple]] = defaultdict(list)
        for anchor, entry in getattr(env, "proof_list", {}).items():  # in page order within a page
            doc, kind = entry["docname"], entry["realtype"].capitalize()
            number = env.toc_fignumbers.get(doc, {}).get(entry["countertype"], {}).get(anchor, ())
            name = f"{kind} {'.'.join(map(str, number))}" if number else kind
            chapters[doc].append((f"{name}: {entry.get('title') or anchor}", 0, doc, anchor, "", "", ""))
        order = reading_order(env.config.root_doc, env.toctree_includes)
        content = [
            (self._chapter(doc), chapters[doc]) for doc in sorted(chapters, key=lambda d: order.get(d, len(order)))
        ]
        return content, True

    def _chapter(self, doc: str) -> str:
        """A chapter's number and title, as the sidebar shows them."""
        env = self.domain.env
        number = env.toc_secnumbers.get(doc, {}).get("")
        title = env.titles[doc].astext()
        return f"{'.'.join(map(str, number))}. {title}" if number else title


class TitledProofDomain(ProofDomain):
    """sphinx-proof's domain with the titled index."""

    indices = [TitledProofIndex]


def label_the_index(app: Sphinx) -> None:
    """Let {ref}`proof-index` resolve to the index page, as {ref}`genindex` does to the general index."""
    std = app.env.domains["std"]
    std.labels[LABEL] = (INDEX_DOC, "", ProofIndex.localname)
    std.anonlabels[LABEL] = (INDEX_DOC, "")


def setup(app: Sphinx) -> dict[str, Any]:
    app.setup_extension("sphinx_proof")
    app.add_domain(TitledProofDomain, override=True)
    app.connect("doctree-read", record_titles)
    app.connect("builder-inited", label_the_index)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
