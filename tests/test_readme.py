"""The README's example runs as written."""

import re
from pathlib import Path


def test_readme_python_example_runs(capsys):
    text = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "README.md has no python example"
    for code in blocks:
        exec(compile(code.replace("steps=3000", "steps=3000, progress=False"), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "KKTReport(stationarity=" in out
