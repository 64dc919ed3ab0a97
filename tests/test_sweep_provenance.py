"""A sweep table's provenance: the commits its points ran at and the sha256 of its spec and notebook, checked
against the committed files so that a table made from an older spec or notebook fails the tests.

Library changes are not hashed: tests/test_sweep.py re-runs a committed point of each book sweep instead.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from implicit_bias.__main__ import main
from implicit_bias.sweep import PROVENANCE_FILE, file_sha256, load_spec, provenance_problems, run_sweep

ROOT = Path(__file__).parents[1]
DEMO = Path(__file__).parent / "data" / "sweep_demo.md"


def demo_spec(folder: Path, notebook: Path = DEMO) -> Path:
    """A one-point spec of the demo notebook, written into ``folder``."""
    path = folder / "spec.yaml"
    path.write_text("# a one-point sweep\n" + yaml.safe_dump({"notebook": str(notebook), "grid": {"a": [2]}}))
    return path


def test_a_table_records_the_commit_and_the_hashes_of_its_spec_and_notebook(tmp_path):
    spec = load_spec(demo_spec(tmp_path))
    run_sweep(spec, workers=1, progress=False)
    made = json.loads((spec.output / PROVENANCE_FILE).read_text())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)
    assert made["git_commits"] == [head.stdout.strip()]  # the demo notebook lies in this checkout
    assert made["spec_sha256"] == file_sha256(tmp_path / "spec.yaml")
    assert made["notebook_sha256"] == file_sha256(DEMO) == pd.read_csv(spec.output / "table.csv").notebook_sha256[0]
    assert (spec.output / made["spec"]).resolve() == (tmp_path / "spec.yaml").resolve()
    assert (spec.output / made["notebook"]).resolve() == DEMO.resolve()
    assert provenance_problems(spec) == []


def test_an_edited_spec_or_notebook_fails_naming_the_table_and_the_file_until_the_sweep_runs_again(tmp_path):
    notebook = tmp_path / "point.md"
    shutil.copy(DEMO, notebook)
    spec_file = demo_spec(tmp_path, notebook)
    spec = load_spec(spec_file)
    run_sweep(spec, workers=1, progress=False)
    outside = [p for p in provenance_problems(spec) if "outside a git checkout" in p]
    assert len(outside) == 1  # tmp_path is no git checkout: commit "unknown", recorded and reported, no crash
    assert json.loads((spec.output / PROVENANCE_FILE).read_text())["git_commits"] == ["unknown"]

    notebook.write_text(notebook.read_text().replace("a * b", "a * b + 1"))
    changed = [p for p in provenance_problems(spec) if p not in outside]
    assert len(changed) == 1 and "table.csv was made from notebook" in changed[0] and "point.md" in changed[0]
    assert "changed since" in changed[0] and "python -m implicit_bias sweep" in changed[0]
    again = run_sweep(spec, workers=1, progress=False)  # the edited notebook's point is no longer done
    assert len(again.ran) == 1 and again.skipped == []
    assert pd.read_csv(again.table)["product"].tolist() == [5.0]
    assert provenance_problems(spec) == outside

    spec_file.write_text(spec_file.read_text().replace("one-point", "single-point"))
    changed = [p for p in provenance_problems(spec) if p not in outside]
    assert len(changed) == 1 and "made from spec" in changed[0] and "spec.yaml" in changed[0]
    assert run_sweep(spec, workers=1, progress=False).ran == []  # a comment changes no point: aggregated anew
    assert provenance_problems(spec) == outside


def test_rows_of_another_notebook_or_a_missing_provenance_fail(tmp_path):
    spec = load_spec(demo_spec(tmp_path))
    run_sweep(spec, workers=1, progress=False)
    table = spec.output / "table.csv"
    rows = pd.read_csv(table)
    rows.to_csv(table, index=False)
    assert provenance_problems(spec) == []  # a table written back unchanged still matches
    rows.assign(notebook_sha256="0" * 64).to_csv(table, index=False)
    assert ["rows made from another notebook" in p for p in provenance_problems(spec)] == [True]
    (spec.output / PROVENANCE_FILE).unlink()
    assert [f"has no {PROVENANCE_FILE}" in p for p in provenance_problems(spec)] == [True]


def test_rerun_runs_the_points_already_done_and_dry_run_reports_a_stale_table(tmp_path, capsys):
    notebook = tmp_path / "point.md"
    shutil.copy(DEMO, notebook)
    spec_file = demo_spec(tmp_path, notebook)
    assert main(["sweep", str(spec_file), "--workers", "1", "--no-progress"]) == 0
    assert "ran 1, skipped 0" in capsys.readouterr().out
    assert main(["sweep", str(spec_file), "--workers", "1", "--no-progress", "--rerun"]) == 0
    assert "ran 1, skipped 0" in capsys.readouterr().out
    notebook.write_text(notebook.read_text() + "\n")
    assert main(["sweep", str(spec_file), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "0 done, 1 to run" in out and "stale:" in out and "made from notebook" in out


@pytest.mark.parametrize("table", sorted(ROOT.glob("sweeps/results/*/table.csv")), ids=lambda p: p.parent.name)
def test_every_committed_table_was_made_from_its_committed_spec_and_notebook(table):
    """A table whose spec or notebook changed after it was made fails here, naming both and the command to run."""
    made = table.parent / PROVENANCE_FILE
    assert made.exists(), f"{table} has no {PROVENANCE_FILE}: regenerate it with python -m implicit_bias sweep SPEC"
    spec = load_spec(table.parent / json.loads(made.read_text())["spec"])
    assert spec.output == table.parent
    problems = provenance_problems(spec)
    assert not problems, "\n".join(problems)
