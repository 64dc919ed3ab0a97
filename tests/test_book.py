"""The book: sources and paired notebooks in sync, Colab install cells, and the built HTML checked in headless Chromium.

The build tests build the book once per session with ``jupyter-book build . -W -n --keep-going`` into a
temporary folder, or reuse a finished build when ``BOOK_HTML`` names its ``_build/html`` folder (for example
after ``make book``: ``BOOK_HTML=_build/html pytest tests/test_book.py``). Chromium is installed from Debian
when missing (CI runs as root); if that fails, the tests fail, they never skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jupytext
import nbformat
import pytest
import yaml
from bs4 import BeautifulSoup
from filelock import FileLock

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from book_pdf import CHROMIUM_FLAGS  # noqa: E402 (tools/ is not a package)

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())
TOC = yaml.safe_load((ROOT / "_toc.yml").read_text())

# sphinx-proof directives that render as boxes with the classes "proof <kind>"; {prf:proof} is a plain block.
PROOF_BOXES = (
    "theorem",
    "proposition",
    "lemma",
    "corollary",
    "definition",
    "conjecture",
    "remark",
    "example",
    "assumption",
    "axiom",
    "criterion",
    "observation",
    "property",
    "notation",
)
MATHJAX_CDN = re.compile(
    r"cdn\.jsdelivr\.net|mathjax@|cdnjs\.cloudflare\.com/ajax/libs/mathjax|polyfill\.io", re.IGNORECASE
)


# ---------------------------------------------------------------------------------------------------------
# Sources: the table of contents, the paired notebooks, the Colab install cells


def toc_docs() -> list[str]:
    """Every document of _toc.yml (root first), as a path without suffix relative to the repository root."""
    docs = [TOC["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                docs.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({key: value for key, value in TOC.items() if key != "root"})
    return [str(Path(doc).with_suffix("")) for doc in docs]


def source(doc: str) -> Path:
    return ROOT / f"{doc}.md"


def is_notebook(doc: str) -> bool:
    """A MyST Markdown notebook: a .md whose front matter has a jupytext section."""
    text = source(doc).read_text()
    if not text.startswith("---\n"):
        return False
    front = yaml.safe_load(text.split("\n---", 1)[0][4:]) or {}
    return "jupytext" in front


DOCS = toc_docs()
NOTEBOOKS = [doc for doc in DOCS if source(doc).exists() and is_notebook(doc)]


def cells(notebook) -> list[tuple]:
    """What must agree between a chapter and its paired notebook: cell kinds, sources, and code-cell tags."""
    return [
        (cell.cell_type, cell.source, tuple(cell.metadata.get("tags", [])) if cell.cell_type == "code" else ())
        for cell in notebook.cells
    ]


def test_toc_lists_existing_sources():
    missing = [doc for doc in DOCS if not source(doc).exists()]
    assert not missing, f"_toc.yml lists documents without a .md source: {missing}"
    assert "chapters/intro" in NOTEBOOKS, "the introduction must be a MyST notebook chapter"


@pytest.mark.parametrize("doc", NOTEBOOKS)
def test_paired_notebook_in_sync(doc):
    md, ipynb = source(doc), source(doc).with_suffix(".ipynb")
    assert ipynb.exists(), f"{ipynb.relative_to(ROOT)} is missing: run `make sync` and commit it (Colab opens it)"
    text_nb, paired_nb = jupytext.read(md), jupytext.read(ipynb)
    for name, nb in ((md.name, text_nb), (ipynb.name, paired_nb)):
        assert nb.metadata.get("jupytext", {}).get("formats") == "ipynb,md:myst", f"{name} is not paired"
        assert nb.metadata.get("kernelspec", {}).get("name") == "python3", f"{name}: kernelspec must be python3"
    ours, theirs = cells(text_nb), cells(paired_nb)
    code = [c for c in ours if c[0] == "code"]
    assert code == [c for c in theirs if c[0] == "code"], (
        f"code cells of {md.name} and {ipynb.name} differ: run `make sync` (jupytext --sync)"
    )
    assert ours == theirs, f"markdown of {md.name} and {ipynb.name} differs: run `make sync` (jupytext --sync)"


@pytest.mark.parametrize("doc", NOTEBOOKS)
def test_colab_install_cell(doc):
    """First cell: hidden in the HTML, installs the package from the repository of _config.yml only in Colab."""
    first = jupytext.read(source(doc)).cells[0]
    url = CONFIG["repository"]["url"].rstrip("/")
    assert first.cell_type == "code" and "remove-cell" in first.metadata.get("tags", []), (
        f"{doc}: the first cell must be a code cell tagged remove-cell"
    )
    lines = first.source.splitlines()
    guard = [i for i, line in enumerate(lines) if line.strip() == 'if "google.colab" in sys.modules:']
    installs = [i for i, line in enumerate(lines) if "pip install" in line]
    assert guard and installs, f"{doc}: the first cell must pip install the package under a google.colab guard"
    assert all(i > guard[0] and lines[i].startswith((" ", "\t")) for i in installs), (
        f"{doc}: pip install must run only inside the google.colab branch"
    )
    assert any(f"git+{url}" in lines[i] for i in installs), f"{doc}: install from git+{url} (_config.yml)"
    assert not re.search(r"\b(torch|numpy)\s*[=<>!~]", first.source), f"{doc}: never pin torch or numpy"


def test_mathjax_is_vendored():
    """MathJax comes from _vendor/mathjax (copied to the HTML root), never from a CDN or from _static/."""
    sphinx = CONFIG["sphinx"]["config"]
    path = sphinx["mathjax_path"]
    assert "://" not in path and not path.startswith("//"), f"mathjax_path must be local, got {path}"
    # Sphinx resolves a relative mathjax_path against _static/; html_extra_path copies each folder's contents.
    target = Path(os.path.normpath(Path("_static") / path))
    assert not str(target).startswith("_static"), "never serve vendored JavaScript from _static/"
    assert any((ROOT / extra / target).is_file() for extra in sphinx["html_extra_path"]), (
        f"{target} is not in any html_extra_path folder {sphinx['html_extra_path']}"
    )


# ---------------------------------------------------------------------------------------------------------
# The built book


@pytest.fixture(scope="session")
def book_html(tmp_path_factory, request) -> Path:
    """The HTML folder of a finished build: BOOK_HTML if set, otherwise a fresh -W -n build in a temp folder.

    `make test` builds the book once (tools/build_book.py, from the chapters nbval executed in its parallel step)
    and sets BOOK_HTML for its test processes. Without it the build here reuses the chapters nbval executed
    earlier in this session (tests/nbregression.py); run alone, this fixture executes them all, in parallel.
    """
    from tests.nbregression import EXECUTED_DIR, executed_notebooks

    given = os.environ.get("BOOK_HTML")
    if given:
        html = Path(given).resolve()
        if not (html / "index.html").is_file():
            pytest.fail(f"BOOK_HTML={given} has no index.html: build the book first (make book)")
        return html
    out = tmp_path_factory.mktemp("book")
    executed = Path(os.environ.get(EXECUTED_DIR) or tmp_path_factory.mktemp("executed"))
    for ipynb, nb in executed_notebooks(request.config).items():
        if not (executed / ipynb.name).exists():
            nbformat.write(nb, executed / ipynb.name)
    cmd = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--executed", str(executed)]
    run = subprocess.run([*cmd, "--path-output", str(out)], capture_output=True, text=True, timeout=1800)
    if run.returncode != 0:
        pytest.fail(f"tools/build_book.py failed ({run.returncode}):\n{run.stdout[-6000:]}\n{run.stderr[-6000:]}")
    html = out / "_build" / "html"
    assert (html / "index.html").is_file()
    return html


def installed_chromium() -> str | None:
    """The Chromium or Chrome binary on PATH (or CHROMIUM), if any."""
    for name in (os.environ.get("CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


@pytest.fixture(scope="session")
def chromium() -> str:
    """A Chromium binary; installed with apt-get when missing (needs root, as in CI)."""
    if found := installed_chromium():
        return found
    if os.geteuid() != 0:
        pytest.fail(
            "Chromium is missing and only root can install it: run `apt-get install -y chromium` "
            "or point CHROMIUM at a Chrome/Chromium binary"
        )
    # Test processes side by side (make test's book step) install it once: two apt-get runs at once fail on its lock.
    with FileLock(Path(tempfile.gettempdir()) / "implicit-bias-chromium-install.lock"):
        if found := installed_chromium():
            return found
        run = subprocess.run(
            "apt-get update && apt-get install -y chromium",
            shell=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            capture_output=True,
            text=True,
            timeout=900,
        )
    if run.returncode != 0 or not shutil.which("chromium"):
        pytest.fail(
            f"could not install Chromium with apt-get (exit {run.returncode}):\n"
            f"{run.stdout[-3000:]}\n{run.stderr[-3000:]}"
        )
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser_view(book_html, chromium, tmp_path_factory):
    """doc -> its page as headless Chromium shows it 400 px wide, once MathJax has typeset it, with the overflow
    probe's finding on <body>: one browser run per page serves every check of how it renders, in every test
    process of the run (the first to need a page dumps it under a lock; the others read the file)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the run's own folder, above each test process's
        shared = shared.parent
    folder = shared / "browser-views"
    folder.mkdir(exist_ok=True)
    views: dict[str, BeautifulSoup] = {}

    def dump(doc: str) -> str:
        page = book_html / f"{doc}.html"
        html = page.read_text()
        n_math = len(BeautifulSoup(html, "html.parser").select(".math"))
        # A copy outside the build (other tests read the build), its links resolved against the page's folder.
        probe = folder / f"{doc.replace('/', '__')}.probe.html"
        base = f'<base href="{page.parent.as_uri()}/">'
        probe.write_text(html.replace("<head>", "<head>" + base, 1).replace("</body>", OVERFLOW_PROBE + "</body>"))
        for budget in (8000, 20000):  # MathJax typesets asynchronously: give it more virtual time if needed
            dom = dump_dom(chromium, probe, budget, width=400)
            if len(BeautifulSoup(dom, "html.parser").find_all("mjx-container")) >= n_math:
                break
        return dom

    def view(doc: str) -> BeautifulSoup:
        if doc not in views:
            dumped = folder / f"{doc.replace('/', '__')}.dom.html"
            with FileLock(dumped.with_suffix(".lock")):
                if not dumped.exists():
                    dumped.write_text(dump(doc))
            views[doc] = BeautifulSoup(dumped.read_text(), "html.parser")
        return views[doc]

    return view


def dump_dom(chromium: str, page: Path, budget_ms: int, width: int | None = None) -> str:
    size = [f"--window-size={width},900"] if width else []
    with tempfile.TemporaryDirectory() as profile:
        run = subprocess.run(
            [
                chromium,
                *CHROMIUM_FLAGS,
                *size,
                f"--user-data-dir={profile}",
                f"--virtual-time-budget={budget_ms}",
                "--dump-dom",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=180,
        )
    assert run.returncode == 0 and "</html>" in run.stdout, f"chromium failed on {page}:\n{run.stderr[-3000:]}"
    return run.stdout


def raw_tex(soup: BeautifulSoup) -> list[str]:
    """Visible text (outside code) that still holds TeX delimiters, i.e. math MathJax did not render."""
    for tag in soup(["script", "style", "pre", "code", "textarea", "title", "head"]):
        tag.decompose()
    text = soup.get_text(" ")
    return [m.group(0) for m in re.finditer(r".{0,40}(\$\$|\\\(|\\\[).{0,40}", text)]


def html_pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts)


@pytest.mark.slow
def test_no_page_uses_a_cdn(book_html):
    bad = {}
    for page in html_pages(book_html):
        text = page.read_text()
        hits = MATHJAX_CDN.findall(text)
        soup = BeautifulSoup(text, "html.parser")
        remote = [s["src"] for s in soup.find_all("script", src=True) if "://" in s["src"] or s["src"].startswith("//")]
        if hits or remote:
            bad[str(page.relative_to(book_html))] = hits + remote
    assert not bad, f"pages load MathJax or scripts from the network: {bad}"
    assert (book_html / "mathjax" / "es5" / "tex-svg-full.js").is_file(), "vendored MathJax missing from the build"


@pytest.mark.slow
def test_internal_links_resolve(book_html):
    """Every local href/src of every page points to an existing file, and every #fragment to an existing id."""
    ids: dict[Path, set[str]] = {}

    def ids_of(page: Path) -> set[str]:
        if page not in ids:
            soup = BeautifulSoup(page.read_text(), "html.parser")
            ids[page] = {tag["id"] for tag in soup.find_all(id=True)} | {
                a["name"] for a in soup.find_all("a", attrs={"name": True})
            }
        return ids[page]

    broken = []
    for page in html_pages(book_html):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        for tag in soup.find_all(["a", "link", "img", "script"]):
            ref = tag.get("href") or tag.get("src")
            if not ref or ref == "#":
                continue
            parts = urlsplit(ref)
            if parts.scheme or ref.startswith("//"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page
            where = f"{page.relative_to(book_html)} -> {ref}"
            if not target.exists():
                broken.append(where)
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids_of(target):
                broken.append(where + " (no such id)")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


@pytest.mark.slow
@pytest.mark.parametrize("doc", NOTEBOOKS)
def test_colab_button_opens_committed_notebook(book_html, doc):
    repo = urlsplit(CONFIG["repository"]["url"]).path.strip("/")
    branch = CONFIG["repository"]["branch"]
    colab = CONFIG["launch_buttons"]["colab_url"].rstrip("/")
    soup = BeautifulSoup((book_html / f"{doc}.html").read_text(), "html.parser")
    links = [a["href"] for a in soup.find_all("a", href=True) if a["href"].startswith(colab)]
    assert links == [f"{colab}/github/{repo}/blob/{branch}/{doc}.ipynb"], f"Colab links of {doc}: {links}"
    assert (ROOT / f"{doc}.ipynb").is_file()


def expected_figures(book_html: Path, doc: str) -> int:
    """Image outputs of the executed chapter that the HTML shows (cells not tagged remove-*)."""
    executed = book_html.parent / "jupyter_execute" / f"{doc}.ipynb"
    if not executed.exists():
        return 0
    nb = nbformat.read(executed, as_version=4)
    hidden = {"remove-cell", "remove-output"}
    return sum(
        1
        for cell in nb.cells
        if cell.cell_type == "code" and not hidden & set(cell.metadata.get("tags", []))
        for out in cell.get("outputs", [])
        if any(mime.startswith("image/") for mime in out.get("data", {}))
    )


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS)
def test_page_renders_in_chromium(book_html, browser_view, doc):
    """The page as a browser shows it: math rendered by MathJax, theorem boxes, figures present and loadable."""
    page = book_html / f"{doc}.html"
    n_math = len(BeautifulSoup(page.read_text(), "html.parser").select(".math"))
    dom = browser_view(doc)
    containers = len(dom.find_all("mjx-container"))
    assert containers >= n_math, f"{doc}: {n_math} math elements but only {containers} rendered by MathJax"
    leftovers = raw_tex(dom)
    assert not leftovers, f"{doc}: raw TeX left on the page: {leftovers[:5]}"

    text = source(doc).read_text()
    for kind in PROOF_BOXES:
        n_boxes = len(re.findall(rf"^(?:`{{3,}}|:{{3,}})\{{prf:{kind}\}}", text, re.MULTILINE))
        shown = [div for div in dom.find_all("div") if {"proof", kind} <= set(div.get("class", []))]
        assert len(shown) == n_boxes, f"{doc}: {n_boxes} prf:{kind} directives, {len(shown)} boxes rendered"

    figures = [img for img in dom.find_all("img") if "_images/" in img.get("src", "")]
    assert len(figures) >= expected_figures(book_html, doc), f"{doc}: figures missing from the page"
    for img in figures:
        file = (page.parent / unquote(img["src"])).resolve()
        assert file.is_file() and file.stat().st_size > 1000, f"{doc}: figure {img['src']} missing or empty"
    if doc == TOC["root"]:  # keep the checks above from passing vacuously
        assert containers > 0 and figures and dom.select("div.proof.theorem"), (
            "the introduction must show rendered math, a theorem box and a figure"
        )


def test_committed_notebooks_are_executed():
    """nbval compares against stored outputs: a notebook without them would only prove that it runs."""
    import nbformat

    for md in sorted((ROOT / "chapters").glob("*.md")):
        if not md.read_text().startswith("---\njupytext:"):
            continue
        nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        missing = [i for i, c in enumerate(code) if c.get("execution_count") is None]
        assert not missing, f"{md.stem}.ipynb has unexecuted code cells {missing}: run `make notebooks`"


def test_committed_notebooks_have_no_stderr():
    """stderr in a stored notebook is volatile (warnings carry absolute paths, progress bars carry timings), so
    nbval fails on another machine or checkout: the CI of the first submission failed on tqdm's IProgress
    warning, which quoted the .venv path. Chapters must run silent on stderr (ipywidgets is in the stack)."""
    for md in sorted((ROOT / "chapters").glob("*.md")):
        if not md.read_text().startswith("---\njupytext:"):
            continue
        nb = nbformat.read(md.with_suffix(".ipynb"), as_version=4)
        noisy = [
            (i, "".join(out.get("text", ""))[:200])
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code"
            for out in c.get("outputs", [])
            if out.get("name") == "stderr"
        ]
        assert not noisy, f"{md.stem}.ipynb has stderr output (cell, text): {noisy}; silence it and `make notebooks`"


# ---------------------------------------------------------------------------------------------------------
# The reader's view: captions, folded solutions, phone width, the PDF

# Lays the page out 400 px wide once it has loaded and lists the elements of the article that stick out,
# leaving out the ones that scroll inside their own box (code, math, tables, cell outputs). Both 400 and
# 500 px (headless Chromium's narrowest window) are below the theme's smallest breakpoint: the same layout.
OVERFLOW_PROBE = """<script>
window.addEventListener("load", () => {
  const root = document.documentElement, vw = 400;
  root.style.width = vw + "px";  // headless Chromium's window is at least 500 px: lay the page out at 400
  setTimeout(() => {
    const wide = [];
    for (const el of document.querySelectorAll("main article *")) {
      if (el.closest("pre, .highlight, mjx-container, .math, .table-wrapper, table, .cell_output, .output")) continue;
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.right > vw + 1) wide.push(el.tagName.toLowerCase() + "." + [...el.classList].join("."));
    }
    document.body.dataset.probe = JSON.stringify({vw: vw, wide: wide.slice(0, 8)});
  }, 2000);
});
</script>"""
RESULT_CHAPTERS = [
    "chapters/implicit_bias",
    "chapters/generalization",
    "chapters/nonrobustness",
    "chapters/robust_networks",
    "chapters/mechanism",
    "chapters/nearly_orthogonal",
    "chapters/polynomial_relu",
    "chapters/scaling",
]


def article_figures(soup: BeautifulSoup) -> list:
    """The images of the article that come from the build (figures), not icons of the theme."""
    main = soup.find("main") or soup
    return [img for img in main.find_all("img") if "_images/" in img.get("src", "")]


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS)
def test_figures_have_captions_and_alt_text(book_html, doc):
    """Every figure of the page is a numbered (or at least captioned) figure with alt text."""
    soup = BeautifulSoup((book_html / f"{doc}.html").read_text(), "html.parser")
    bad = []
    for img in article_figures(soup):
        figure = img.find_parent("figure")
        caption = figure.find("figcaption") if figure else None
        if not img.get("alt", "").strip() or caption is None or len(caption.get_text().split()) < 8:
            bad.append(img["src"])
    assert not bad, f"{doc}: figures without a caption or alt text: {bad}"
    numbered = soup.select("figcaption span.caption-number")
    assert not article_figures(soup) or numbered, f"{doc}: no figure carries a number"


@pytest.mark.slow
@pytest.mark.parametrize("doc", RESULT_CHAPTERS)
def test_exercise_solutions_are_folded(browser_view, doc):
    """Exercises show; their solutions are folded until the reader opens them."""
    dom = browser_view(doc)
    exercises = dom.select("div.exercise")
    solutions = dom.select("div.solution")
    assert len(exercises) >= 2 and len(solutions) == len(exercises), (
        f"{doc}: {len(exercises)} exercises and {len(solutions)} solutions rendered"
    )
    for solution in solutions:
        folded = (
            solution.find_parent("details")
            or solution.name == "details"
            or "toggle-hidden"
            in " ".join(solution.get("class", []) + [c for d in solution.find_all(class_=True) for c in d["class"]])
        )
        assert folded, f"{doc}: a solution is not folded: {solution.get_text()[:80]!r}"


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS)
def test_phone_width_has_no_horizontal_scroll(browser_view, doc):
    """At 400 px wide nothing outside code, math, tables and cell outputs sticks out of the screen."""
    dom = browser_view(doc)
    found = dom.body.get("data-probe") if dom.body else None
    assert found, f"{doc}: the overflow probe did not run"
    result = json.loads(found)
    assert not result["wide"], f"{doc}: at {result['vw']} px these stick out of the screen: {result['wide']}"


def pdf_images(resources) -> int:
    """Image XObjects drawn by a page or a form it draws, counted from the resources without decoding any
    (pypdf's ``page.images`` decodes each one: 19 s for the book's 33)."""
    xobjects = resources.get("/XObject") if resources else None
    if xobjects is None:
        return 0
    count = 0
    for ref in xobjects.get_object().values():
        obj = ref.get_object()
        if obj.get("/Subtype") == "/Image":
            count += 1
        elif obj.get("/Subtype") == "/Form":
            count += pdf_images(obj.get("/Resources"))
    return count


@pytest.mark.slow
@pytest.mark.first
def test_pdf_holds_every_chapter_and_figure(book_html, chromium, tmp_path):
    """`make pdf`: one PDF with a bookmark per chapter on a page that carries its title, and at least as many
    images as the HTML has figures."""
    import book_pdf
    from pypdf import PdfReader

    reader = PdfReader(book_pdf.build_pdf(book_html, tmp_path / "book.pdf"))

    def squash(text: str) -> str:
        return re.sub(r"\W+", "", text).lower()

    starts = [reader.get_destination_page_number(item) for item in reader.outline]
    assert len(starts) == len(DOCS) and starts == sorted(starts), f"bookmarks on pages {starts}, {len(DOCS)} chapters"
    missing = []
    for doc, start in zip(DOCS, starts, strict=True):
        h1 = BeautifulSoup((book_html / f"{doc}.html").read_text(), "html.parser").find("h1")
        for extra in h1.select(".section-number, .headerlink"):
            extra.decompose()
        title = h1.get_text(" ", strip=True)
        # Text of the chapter's first page only: extracting all of them took 20 s.
        if squash(title) not in squash(reader.pages[start].extract_text() or ""):
            missing.append((title, start))
    assert not missing, f"chapter titles missing from the first page of their bookmark: {missing}"
    figures = sum(
        len(article_figures(BeautifulSoup((book_html / f"{doc}.html").read_text(), "html.parser"))) for doc in DOCS
    )
    images = sum(pdf_images(page.get("/Resources")) for page in reader.pages)
    assert images >= figures > 0, f"the PDF holds {images} images, the HTML {figures} figures"
