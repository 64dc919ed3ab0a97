"""Render everything that repeats the repository's address from `_config.yml` (`make badges`).

The repository URL, its branch and the Colab base live in `_config.yml` only (`repository.url`,
`repository.branch`, `launch_buttons.colab_url`). This script writes what is derived from them:

- the README's badge block between `<!-- badges:start -->` and `<!-- badges:end -->` (tests workflow,
  the published book, "Open in Colab" for the introduction notebook);
- `title`, `url` and `repository-code` of `CITATION.cff`;
- the `%pip install ... git+URL` line of every chapter's Colab install cell, in the MyST sources, their
  paired notebooks and the template in CONTRIBUTING.md (text is replaced in place: cell ids and outputs stay).

A fork edits `repository.url` in `_config.yml`, runs `make badges` (or `python tools/badges.py`), and commits.
`--check` writes nothing and exits 1 when a file is out of date (tests/test_publishing.py runs the same check).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- badges:start -->", "<!-- badges:end -->"
# The workflows the badges show; tests/test_publishing.py checks that these files exist.
TESTS_WORKFLOW, BOOK_WORKFLOW = "tests.yml", "book.yml"
# `pip install [options] git+URL`: group 2 is the URL, up to an optional @ref, #fragment or closing quote.
INSTALL = re.compile(r"""(pip install\b[^\n"]*?\bgit\+)([^\s"'\\@#]+)""")
CITATION_KEYS = ("title", "url", "repository-code")


@dataclass(frozen=True)
class Repository:
    """The public home of the book, as _config.yml and _toc.yml describe it."""

    url: str  # https://github.com/OWNER/NAME
    owner: str
    name: str
    branch: str
    colab: str  # the Colab base, e.g. https://colab.research.google.com
    book_path: str  # repository.path_to_book: "" when the book is the repository root
    pages: str  # where book.yml publishes the HTML (GitHub Pages, or html.baseurl when set)
    title: str
    root_doc: str  # the introduction, e.g. chapters/intro

    @classmethod
    def from_config(cls, root: Path = ROOT) -> Repository:
        config = yaml.safe_load((root / "_config.yml").read_text())
        toc = yaml.safe_load((root / "_toc.yml").read_text())
        repo = config["repository"]
        url = str(repo["url"]).rstrip("/")
        parts = urlsplit(url)
        segments = parts.path.strip("/").split("/")
        if (
            parts.scheme != "https"
            or parts.netloc.lower() != "github.com"
            or len(segments) != 2
            or url.endswith(".git")
        ):
            raise ValueError(
                f"repository.url in _config.yml must be https://github.com/OWNER/NAME (no .git): got {url!r}."
                " Colab's /github/ links, the Actions badges and GitHub Pages need a GitHub repository."
            )
        owner, name = segments
        baseurl = str((config.get("html") or {}).get("baseurl") or "")
        if baseurl:
            pages = baseurl.rstrip("/") + "/"
        elif name.lower() == f"{owner.lower()}.github.io":
            pages = f"https://{owner.lower()}.github.io/"
        else:
            pages = f"https://{owner.lower()}.github.io/{name}/"
        return cls(
            url=url,
            owner=owner,
            name=name,
            branch=str(repo["branch"]),
            colab=str(config["launch_buttons"]["colab_url"]).rstrip("/"),
            book_path=str(repo.get("path_to_book") or "").strip("/"),
            pages=pages,
            title=str(config["title"]),
            root_doc=str(Path(toc["root"]).with_suffix("")),
        )

    def path_in_repo(self, path: str) -> str:
        """A path relative to the book folder, as a path relative to the repository root."""
        return f"{self.book_path}/{path}" if self.book_path else path

    def blob(self, path: str) -> str:
        return f"{self.url}/blob/{self.branch}/{self.path_in_repo(path)}"

    def colab_link(self, path: str) -> str:
        """What the book's Colab launch button opens (sphinx-book-theme's formula) for a file of the book."""
        return f"{self.colab}/github/{self.owner}/{self.name}/blob/{self.branch}/{self.path_in_repo(path)}"

    def workflow(self, file: str) -> str:
        return f"{self.url}/actions/workflows/{file}"


def badge_block(repo: Repository) -> str:
    """The README's badge block, markers included."""
    intro = f"{repo.root_doc}.ipynb"
    lines = [
        START,
        "<!-- Rendered from _config.yml by `make badges` (tools/badges.py): edit _config.yml, not these lines. -->",
        f"[![tests]({repo.workflow(TESTS_WORKFLOW)}/badge.svg?branch={repo.branch})]({repo.workflow(TESTS_WORKFLOW)})",
        f"[![book]({repo.workflow(BOOK_WORKFLOW)}/badge.svg?branch={repo.branch})]({repo.pages})",
        f"[![Open In Colab]({repo.colab}/assets/colab-badge.svg)]({repo.colab_link(intro)})",
        END,
    ]
    return "\n".join(lines)


def render_readme(text: str, repo: Repository) -> str:
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"README.md must hold exactly one {START} ... {END} block")
    return pattern.sub(lambda _: badge_block(repo), text)


def render_citation(text: str, repo: Repository) -> str:
    values = {"title": repo.title, "url": repo.pages, "repository-code": repo.url}
    for key in CITATION_KEYS:
        pattern = re.compile(rf"^{re.escape(key)}:.*$", re.M)  # top-level keys only (references are indented)
        if len(pattern.findall(text)) != 1:
            raise ValueError(f"CITATION.cff must have exactly one top-level `{key}:` line")
        text = pattern.sub(lambda _: f"{key}: {json.dumps(values[key])}", text)  # noqa: B023 (used at once)
    return text


def render_install_cells(text: str, repo: Repository) -> str:
    return INSTALL.sub(lambda m: m.group(1) + repo.url, text)


def rendered(root: Path = ROOT) -> dict[Path, tuple[str, str]]:
    """Every derived file that exists: path -> (current text, text rendered from _config.yml)."""
    repo = Repository.from_config(root)
    out: dict[Path, tuple[str, str]] = {}
    jobs = [(root / "README.md", render_readme), (root / "CITATION.cff", render_citation)]
    jobs += [
        (path, render_install_cells)
        for path in [
            root / "CONTRIBUTING.md",
            *sorted((root / "chapters").glob("*.md")),
            *sorted((root / "chapters").glob("*.ipynb")),
        ]
    ]
    for path, render in jobs:
        if path.exists():
            text = path.read_text()
            out[path] = (text, render(text, repo))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is out of date")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    files = rendered(args.root)
    stale = [path for path, (now, new) in files.items() if now != new]
    for path in stale:
        if args.check:
            print(f"out of date: {path.relative_to(args.root)}")
        else:
            path.write_text(files[path][1])
            print(f"updated {path.relative_to(args.root)}")
    if args.check and stale:
        print("run `make badges` (python tools/badges.py) and commit the result", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
