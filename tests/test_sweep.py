"""Sweeps: spec validation, parallel runs, failures recorded, resumption after an interruption.

Dask clusters and killed workers: test_sweep_cluster.py; bad specs and the command line: test_sweep_cli.py.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from implicit_bias.sweep import SpecError, load_spec, point_id, point_task, run_point, run_sweep
from tests.nbregression import DEFAULT

DEMO = Path(__file__).parent / "data" / "sweep_demo.md"


def write_spec(tmp_path: Path, **spec) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"notebook": str(DEMO), "output": "out", **spec}))
    return path


def test_sweep_runs_every_point_records_failures_and_resumes(tmp_path):
    spec = load_spec(write_spec(tmp_path, parameters={"b": 3.0}, grid={"a": [1, 2, -1]}))
    first = run_sweep(spec, workers=2, progress=False)
    assert len(first.ran) == 2 and len(first.failed) == 1 and first.skipped == []
    table = pd.read_csv(first.table).sort_values("a")
    assert table["status"].tolist() == ["failed", "ok", "ok"]
    assert table["product"].tolist()[1:] == [3.0, 6.0]
    assert "a must be >= 0" in table["error"].iloc[0]
    rec = json.loads((spec.output / "records" / f"{point_id({'b': 3.0, 'a': 2})}.json").read_text())
    assert rec["metrics"]["values"] == [2, 3.0]
    assert {"package_version", "git_commit", "notebook_sha256", "torch_version", "device", "wall_time_s"} <= set(rec)
    assert (spec.output / "runs" / f"{point_id({'b': 3.0, 'a': 2})}.ipynb").exists()
    # Started again: the done points are skipped, only the failed one runs again (and fails again).
    second = run_sweep(spec, workers=1, progress=False)
    assert sorted(second.skipped) == sorted(first.ran) and second.ran == [] and len(second.failed) == 1


def test_a_point_runs_at_its_threads_and_leaves_the_callers_environment_as_it_was(tmp_path, monkeypatch):
    """A test or notebook that runs a point in its own process keeps its thread settings: the kernels it starts
    later must not inherit the point's (make test's workers run one thread each; two would oversubscribe)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = load_spec(write_spec(tmp_path, grid={"a": [1]}))
    before = dict(os.environ)
    result = run_point(point_task(spec), next(iter(spec.points())), threads=3)
    assert result.record["status"] == "ok", result.record["error"]
    assert result.record["metrics"]["threads"] == "3"
    assert dict(os.environ) == before


def test_interrupted_sweep_loses_nothing_and_restarts_where_it_stopped(tmp_path):
    spec_path = write_spec(tmp_path, parameters={"pause": 1.5}, grid={"a": [1, 2, 3, 4]})
    records = tmp_path / "out" / "records"
    cmd = [sys.executable, "-m", "implicit_bias", "sweep", str(spec_path), "--workers", "1", "--no-progress"]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(records.glob("*.json"))) < 1:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the harshest interruption: no clean-up at all
    proc.wait()
    kept = {p.name: p.read_text() for p in records.glob("*.json")}
    assert 1 <= len(kept) < 4
    done = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert f"skipped {len(kept)} already done" in done
    assert all((records / name).read_text() == text for name, text in kept.items())  # untouched
    table = pd.read_csv(tmp_path / "out" / "table.csv")
    assert sorted(table["product"]) == [2.0, 4.0, 6.0, 8.0] and set(table["status"]) == {"ok"}


@pytest.mark.parametrize(
    "spec, match",
    [
        ({"grid": {"c": [1]}}, r"unknown parameter 'c': the notebook's parameters cell defines \['a', 'b', 'pause'\]"),
        ({"grid": {}}, "grid must be a non-empty mapping"),
        ({"grid": {"a": []}}, "grid value of 'a' must be a non-empty list, got \\[\\]"),
        ({"grid": {"a": ["x"]}}, "parameter 'a' must be of type int like its default 1, got 'x'"),
        ({"grid": {"a": [1]}, "parameters": {"b": "two"}}, "parameter 'b' must be of type float"),
        ({"grid": {"a": [1]}, "seeds": 3}, r"unknown spec key\(s\) \['seeds'\]"),
        ({"grid": {"metrics_path": ["x"]}}, "unknown parameter 'metrics_path'"),
    ],
)
def test_bad_specs_are_refused_with_clear_errors(tmp_path, spec, match):
    with pytest.raises(SpecError, match=match):
        load_spec(write_spec(tmp_path, **spec))


def test_spec_must_be_yaml_mapping_and_loaded_safely(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(SpecError, match="could not determine a constructor"):
        load_spec(path)
    with pytest.raises(SpecError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")


def test_cli_help_and_dry_run(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "implicit_bias", "sweep", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "--scheduler" in out and "--workers" in out
    spec = write_spec(tmp_path, grid={"a": [1, 2]})
    dry = subprocess.run(
        [sys.executable, "-m", "implicit_bias", "sweep", str(spec), "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "0 done, 2 to run" in dry
    bad = subprocess.run(
        [sys.executable, "-m", "implicit_bias", "sweep", str(tmp_path / "nope.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and "does not exist" in bad.stderr


@pytest.mark.parametrize(
    "name, point",
    [
        ("frei_dk", {"d": 100, "k": 4, "seed": 0}),
        ("vardi_dn", {"d": 250, "n": 10, "seed": 1}),
        ("minvidal_p", {"p": 1, "seed": 0}),
    ],
)
def test_a_committed_sweep_point_reproduces(tmp_path, name, point):
    """Re-run one point of a book sweep: its metrics equal the committed record (float64, seeded) within the
    chapters' regression tolerance. This is what catches a library change that moves a committed table; a change
    of its spec or notebook is caught by its provenance (tests/test_sweep_provenance.py)."""
    root = Path(__file__).parents[1]
    spec = load_spec(root / "sweeps" / "book" / f"{name}.yaml")
    full = next(p for p in spec.points() if all(p[k] == v for k, v in point.items()))
    committed = json.loads((spec.output / "records" / f"{point_id(full)}.json").read_text())
    fresh = run_point(point_task(spec), full, threads=1).record  # make test's workers run one thread each
    assert fresh["status"] == "ok", fresh["error"]
    assert fresh["metrics"].keys() == committed["metrics"].keys()
    for key, value in committed["metrics"].items():
        # Bits are a property of one machine and setting (README); elsewhere the regression tolerance holds.
        assert fresh["metrics"][key] == pytest.approx(value, rel=DEFAULT.rel, abs=DEFAULT.abs), key
