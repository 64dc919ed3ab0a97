"""One PDF of the whole book from its HTML build (`make pdf`), offline.

Each page of _toc.yml, in order, is printed by headless Chromium (the same renderer the browser tests use,
so math is typeset by the vendored MathJax and figures are the build's PNGs); pypdf joins the pages into
one file with a bookmark per chapter.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from pypdf import PdfWriter

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]  # headless, and none of the background traffic that a closed network refuses (tests/test_book.py uses them too)


def toc_pages(toc: dict) -> list[str]:
    """The documents of a jb-book _toc.yml in reading order (root first), without suffix."""
    return [str(Path(doc).with_suffix("")) for doc in [toc["root"], *(e["file"] for e in toc["chapters"])]]


def chromium() -> str:
    """The Chromium binary (apt-get install -y chromium)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("Chromium is missing: apt-get install -y chromium")


def print_page(browser: str, page: Path, out: Path, budget_ms: int) -> None:
    """Print one HTML page to PDF once MathJax had budget_ms of virtual time to typeset it."""
    if not page.is_file():
        raise SystemExit(f"{page} is missing: build the HTML first (make book)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                "--no-pdf-header-footer",
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                f"--print-to-pdf={out}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
    if not out.is_file() or out.stat().st_size == 0:
        raise SystemExit(f"Chromium printed nothing for {page}")


def build_pdf(html: Path, out: Path, budget_ms: int = 20000, workers: int | None = None) -> Path:
    """Print every page of the book, ``workers`` at a time (default: the core count), and join them into ``out``;
    returns ``out``."""
    browser = chromium()
    writer = PdfWriter()
    docs = toc_pages(yaml.safe_load((ROOT / "_toc.yml").read_text()))
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        parts = [Path(tmp) / f"{i:02d}.pdf" for i in range(len(docs))]
        list(pool.map(lambda doc, part: print_page(browser, html / f"{doc}.html", part, budget_ms), docs, parts))
        for doc, part in zip(docs, parts, strict=True):
            start = len(writer.pages)
            writer.append(str(part))
            writer.add_outline_item(title=Path(doc).name.replace("_", " "), page_number=start)
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as f:
            writer.write(f)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--html", type=Path, default=ROOT / "_build" / "html", help="the HTML build")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "pdf" / "book.pdf", help="the PDF to write")
    args = parser.parse_args(argv)
    print(f"wrote {build_pdf(args.html, args.out)}")


if __name__ == "__main__":
    main()
