"""float32 is a documented fast mode: two chapters run end to end at dtype="float32" with every claim of their
``## Check`` section holding (``book.check`` raises otherwise)."""

from pathlib import Path

import jupytext
import papermill
import pytest

ROOT = Path(__file__).parents[1]
FLOAT32_CHAPTERS = ["implicit_bias", "mechanism"]  # the fastest chapters that train networks


@pytest.mark.slow
@pytest.mark.parametrize("name", FLOAT32_CHAPTERS)
def test_chapter_checks_hold_in_float32(name, tmp_path):
    source = tmp_path / f"{name}.ipynb"
    jupytext.write(jupytext.read(ROOT / "chapters" / f"{name}.md"), source)
    out = papermill.execute_notebook(
        str(source),
        str(tmp_path / "out.ipynb"),
        parameters={"dtype": "float32"},
        cwd=str(ROOT / "chapters"),
        progress_bar=False,
        kernel_name="python3",
    )
    printed = "".join(o.get("text", "") for c in out.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "holds" in printed and "FAILS" not in printed
