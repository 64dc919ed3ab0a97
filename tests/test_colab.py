"""Two committed chapter notebooks run as Colab runs them: in a fresh virtual environment that holds only the
package's runtime dependencies and a kernel (no jupyter-book, myst-nb or papermill), with `google.colab`
imported at start-up so that the install cell takes its Colab branch, pointed at this checkout instead of
GitHub.

The environment is kept between runs (COLAB_VENV, default ~/.cache/implicit-bias/colab-venv) and rebuilt
only when the pinned requirements change. torch comes from the pins of requirements/ci.txt (a CPU wheel).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("COLAB_VENV", Path.home() / ".cache" / "implicit-bias" / "colab-venv"))
CHAPTERS = ["intro", "setting"]  # the two fastest chapters
KERNEL_PACKAGES = ["ipykernel", "nbclient"]
BOOK_ONLY = ["jupyter_book", "myst_nb", "papermill", "jupytext", "sphinx"]
RUNNER = r"""
import sys
import nbformat
from nbclient import NotebookClient

source, url, local, cwd, out = sys.argv[1:]
nb = nbformat.read(source, as_version=4)
nb.cells[0].source = nb.cells[0].source.replace(f"git+{url}", local)
nb.cells.append(nbformat.v4.new_code_cell("import implicit_bias\nprint(implicit_bias.__file__)"))
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": cwd}}).execute()
nbformat.write(nb, out)
"""


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_requirements() -> list[str]:
    """The package's runtime dependencies and a kernel, each at its pin from requirements/ci.txt."""
    pins = {}
    for line in (ROOT / "requirements" / "ci.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            pins[canonical(line.split("==")[0])] = line.strip()
    project = __import__("tomllib").loads((ROOT / "pyproject.toml").read_text())["project"]
    names = [re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0] for dep in project["dependencies"]] + KERNEL_PACKAGES
    missing = [n for n in names if canonical(n) not in pins]
    assert not missing, f"requirements/ci.txt has no pin for {missing}"
    return sorted(pins[canonical(n)] for n in names)


def colab_venv() -> Path:
    """The cached environment: runtime pins, a kernel, and a start-up import of a stub google.colab."""
    python = VENV / "bin" / "python"
    stamp = VENV / "requirements.json"
    wanted = runtime_requirements()
    if python.exists() and stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    run = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", *wanted], check=False, capture_output=True, text=True
    )
    assert run.returncode == 0, f"pip install of the runtime pins failed:\n{run.stderr[-3000:]}"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "google" / "colab").mkdir(parents=True, exist_ok=True)
    (site / "google" / "colab" / "__init__.py").write_text(
        '"""Stand-in for Colab\'s module (tests/test_colab.py)."""\n'
    )
    (site / "colab_stub.pth").write_text("import google.colab\n")
    stamp.write_text(json.dumps(wanted))
    return python


def checkout_copy(dest: Path) -> Path:
    """The package's sources as pip would fetch them from GitHub (no build artefacts of this checkout)."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, dest / name)
    shutil.copytree(ROOT / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_as_in_colab(chapter, tmp_path):
    python = colab_venv()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env |= {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for module in BOOK_ONLY:
        probe = subprocess.run([str(python), "-c", f"import {module}"], check=False, capture_output=True, env=env)
        assert probe.returncode != 0, f"the Colab environment must not hold {module}"
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    source = ROOT / "chapters" / f"{chapter}.ipynb"
    first = nbformat.read(source, as_version=4).cells[0].source
    assert f"git+{url}" in first, f"{source.name}: the install cell must install git+{url}"
    (tmp_path / "checkout").mkdir()
    local = checkout_copy(tmp_path / "checkout")
    out = tmp_path / f"{chapter}.ipynb"
    run = subprocess.run(
        [str(python), "-c", RUNNER, str(source), url, str(local), str(tmp_path), str(out)],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=1500,
    )
    assert run.returncode == 0, f"{chapter} failed in the Colab environment:\n{run.stderr[-4000:]}"
    nb = nbformat.read(out, as_version=4)
    installed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert str(VENV) in installed, f"implicit_bias was not imported from the Colab environment: {installed}"
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{chapter}: errors in the Colab run: {errors[:1]}"
