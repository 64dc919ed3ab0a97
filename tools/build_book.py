"""Build the HTML book (`make book`): execute the chapters in parallel, then build the book from those executions.

jupyter-book executes the chapters one after another while it reads them, so a build uses one core. This tool
executes every chapter first, in parallel processes (one thread each, `--workers`), and hands the executed
notebooks to `jupyter-book build . -W -n --keep-going` through a jupyter-cache, so that the build executes
nothing again. With `--executed DIR` it takes chapters already executed elsewhere (the notebooks nbval ran in
`make test`) and executes only the missing ones. A chapter whose code differs from its source is executed by
the build as usual; the tool fails if the build executed a chapter it was handed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import jupytext
import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
# Seconds a chapter took to execute, kept in its notebook's metadata for the book's execution statistics.
SECONDS = "executed_seconds"


def paired_chapters() -> list[Path]:
    """The chapters that are notebooks: MyST files with a jupytext header."""
    return sorted(p for p in (ROOT / "chapters").glob("*.md") if p.read_text().startswith("---\njupytext:"))


def run(nb: nbformat.NotebookNode, folder: Path, timeout: int = 600) -> float:
    """Execute a notebook in place with its kernel in `folder` (as the book build, papermill --cwd and nbval run
    a chapter); returns the wall time."""
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return time.perf_counter() - start


def execute(md: Path, out: Path, timeout: int = 600) -> float:
    """Execute one chapter from its MyST source, in its folder, into out/<name>.ipynb; returns the wall time."""
    nb = jupytext.read(md)
    seconds = run(nb, md.parent, timeout)
    nb.metadata[SECONDS] = seconds
    nbformat.write(nb, out / md.with_suffix(".ipynb").name)
    return seconds


def recorded_seconds(nb: nbformat.NotebookNode) -> float:
    """Seconds the code cells took when the notebook was last executed, from nbclient's timestamps in the cells'
    metadata (0 where they are missing): what orders the chapters, longest first, when several run at once."""
    total = 0.0
    for cell in nb.cells:
        times = cell.get("metadata", {}).get("execution", {})
        start, end = times.get("iopub.execute_input"), times.get("shell.execute_reply")
        if start and end:
            total += (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return total


def committed_seconds(md: Path) -> float:
    """``recorded_seconds`` of a chapter's committed notebook (0 if it has none)."""
    ipynb = md.with_suffix(".ipynb")
    return recorded_seconds(nbformat.read(ipynb, as_version=4)) if ipynb.exists() else 0.0


def execute_missing(executed: Path, workers: int) -> None:
    """Execute, `workers` at a time on one thread each, every chapter that has no notebook in `executed`: the
    longest first (their committed notebooks' timings), so that no long chapter starts last."""
    executed.mkdir(parents=True, exist_ok=True)
    missing = [md for md in paired_chapters() if not (executed / md.with_suffix(".ipynb").name).exists()]
    missing.sort(key=committed_seconds, reverse=True)
    os.environ |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # kernels inherit it: no oversubscription
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for md, seconds in zip(missing, pool.map(lambda md: execute(md, executed), missing)):
            print(f"{md.stem}: executed in {seconds:.0f} s", flush=True)


def cached_config(folder: Path, executed: Path) -> tuple[Path, int]:
    """A copy of _config.yml whose build takes each chapter's outputs from the notebooks in `executed` (through a
    jupyter-cache in `folder`), and how many chapters it holds. A notebook whose code differs is left out."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn
    from myst_nb.core.read import read_myst_markdown_notebook

    cache = get_cache(str(folder / "jupyter_cache"))
    cached = 0
    for ipynb in sorted(executed.glob("*.ipynb")):
        md = ROOT / "chapters" / ipynb.with_suffix(".md").name
        if not md.exists():  # not a chapter of this book
            continue
        fresh = nbformat.read(ipynb, as_version=4)
        nb = read_myst_markdown_notebook(md.read_text(), path=md)  # the notebook exactly as myst-nb reads it
        code = [cell for cell in nb.cells if cell.cell_type == "code"]
        ran = [cell for cell in fresh.cells if cell.cell_type == "code"]
        if [cell.source for cell in code] != [cell.source for cell in ran]:
            continue
        for cell, done in zip(code, ran):
            cell.outputs, cell.execution_count = done.outputs, done.execution_count
        seconds = fresh.metadata.get(SECONDS)
        data = {} if seconds is None else {"execution_seconds": seconds}
        cache.cache_notebook_bundle(CacheBundleIn(nb, str(md), data=data), check_validity=False, overwrite=True)
        cached += 1
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"] |= {"execute_notebooks": "cache", "cache": str(folder / "jupyter_cache")}
    # Sphinx finds local extensions relative to the config file, which now lives in `folder`.
    local = config["sphinx"].get("local_extensions") or {}
    config["sphinx"]["local_extensions"] = {name: str(ROOT / path) for name, path in local.items()}
    path = folder / "_config.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path, cached


def build_command(config: Path, path_output: Path) -> list[str]:
    """The strict build (-W: a warning fails it, -n: so does a broken reference) with the given config."""
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(ROOT), "-W", "-n", "--keep-going"]
    return [*cmd, "--path-output", str(path_output), "--config", str(config)]


def build(executed: Path, path_output: Path) -> None:
    """Build from the executed notebooks; exit 1 if the build fails or executes a chapter it was handed."""
    config, cached = cached_config(Path(tempfile.mkdtemp(prefix="book-cache-")), executed)
    run = subprocess.run(build_command(config, path_output), text=True, capture_output=True)
    print(run.stdout[-6000:], run.stderr[-6000:], sep="\n")
    if run.returncode != 0:
        sys.exit(f"jupyter-book build failed with exit code {run.returncode}")
    reused = run.stdout.count("Using cached notebook")
    if reused != cached:
        sys.exit(f"the build executed {cached - reused} of the {cached} chapter(s) it was handed")
    print(f"built {path_output / '_build' / 'html'} from {cached} executed chapter(s)")


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: where executed chapters go, where the HTML goes, how many chapters run at once."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--executed", type=Path, default=ROOT / "_build" / ".executed", help="folder of executed chapters"
    )
    parser.add_argument("--path-output", type=Path, default=ROOT, help="the HTML goes to PATH_OUTPUT/_build/html")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="chapters executed at once")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    execute_missing(args.executed, args.workers)
    build(args.executed, args.path_output)


if __name__ == "__main__":
    main()
