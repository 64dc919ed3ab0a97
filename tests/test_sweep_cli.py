"""Sweep specs and command line: every bad input ends in one line naming the file (and line), exit status 2."""

import json
import re
import shutil
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock, Timeout

from implicit_bias.__main__ import main
from implicit_bias.sweep import (
    MAX_POINTS,
    PROVENANCE_FILE,
    OutputError,
    SpecError,
    aggregate,
    load_spec,
    point_id,
    point_task,
    run_point,
    run_sweep,
)

DEMO = (Path(__file__).parent / "data" / "sweep_demo.md").resolve()  # parameters a = 1, b = 2.0, pause = 0.0
NB = f"notebook: {DEMO}\n"


def cli(tmp_path: Path, text: str | bytes, *options: str) -> tuple[int, str, Path]:
    """Write ``text`` as spec.yaml and run the sweep command on it: exit status, stderr and the spec's path."""
    spec = tmp_path / "spec.yaml"
    spec.write_bytes(text if isinstance(text, bytes) else text.encode())
    return run_cli(["sweep", str(spec), "--no-progress", *options]), spec


def run_cli(argv: list[str]) -> int:
    """The command's exit status; main() returns it or exits through argparse."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


BIG = ", ".join(map(str, range(1000)))
BAD_SPECS = [  # (spec text, line the message names or None, words the message must hold)
    ("notebook: x\ngrid: {a: [1, 2}\n", 2, "invalid YAML: expected ',' or ']'"),
    ("notebook: x\ngrid:\n\ta: [1]\n", 3, "invalid YAML: found character '\\t' that cannot start any token"),
    ("!!python/object/apply:os.system ['echo hacked']\n", 1, "could not determine a constructor for the tag"),
    (NB + "grid: {a: [1]}\ngrid: {a: [2]}\n", 3, "duplicate key 'grid'"),
    (NB + "grid:\n  a: [1]\n  a: [2]\n", 4, "duplicate key 'a'"),
    ("", None, "the spec is empty"),
    ("- 1\n- 2\n", None, "a spec must be a mapping with keys"),
    (NB + "grid: {a: [1]}\nseeds: 3\n", 3, "unknown spec key(s) ['seeds']"),
    ("grid: {a: [1]}\n", None, "spec needs the key 'notebook'"),
    (NB, None, "spec needs the key 'grid'"),
    ("notebook: missing.md\ngrid: {a: [1]}\n", 1, "notebook must be an existing .md or .ipynb file, got 'missing.md'"),
    ("notebook: [a.md]\ngrid: {a: [1]}\n", 1, "notebook must be a path (a string), got ['a.md']"),
    (NB + "output: 3\ngrid: {a: [1]}\n", 2, "output must be a path (a string), got 3"),
    (NB + "grid: [1, 2]\n", 2, "grid must be a non-empty mapping of parameter names to lists, got [1, 2]"),
    (NB + "grid: {}\n", 2, "grid must be a non-empty mapping"),
    (NB + "grid:\n  a: 1\n", 3, "grid value of 'a' must be a non-empty list, got 1"),
    (NB + "grid:\n  a: []\n", 3, "grid value of 'a' must be a non-empty list, got []"),
    (NB + "grid:\n  a: [0, 0]\n", 3, "grid value of 'a' repeats 0: every point must be distinct"),
    (NB + "grid:\n  a: [1, 2]\n  b: [1, 1.0]\n", 4, "grid value of 'b' repeats 1.0"),
    (NB + "grid:\n  a: [null]\n", 3, "parameter 'a' must be of type int like its default 1, got None"),
    (NB + "grid:\n  a: [true]\n", 3, "parameter 'a' must be of type int like its default 1, got True"),
    (NB + "grid:\n  a: ['x']\n", 3, "parameter 'a' must be of type int like its default 1, got 'x'"),
    (NB + "parameters:\n  b: null\ngrid: {a: [1]}\n", 3, "parameter 'b' must be of type float like its default 2.0"),
    (NB + "parameters: [1]\ngrid: {a: [1]}\n", 2, "parameters must be a mapping of names to values, got [1]"),
    (NB + "parameters:\n  a: 1\ngrid:\n  a: [2]\n", 5, "parameter 'a' is both fixed (under parameters) and swept"),
    (NB + "grid:\n  c: [1]\n", 3, "unknown parameter 'c': the notebook's parameters cell defines ['a', 'b', 'pause']"),
    (NB + "grid:\n  metrics_path: ['x']\n", 3, "unknown parameter 'metrics_path'"),
    (NB + "files: [nowhere.txt]\ngrid: {a: [1]}\n", 2, "file 'nowhere.txt' listed under files does not exist"),
    (NB + "files: nowhere.txt\ngrid: {a: [1]}\n", 2, "files must be a list of paths relative to the spec"),
    (
        NB + f"grid:\n  a: [{BIG}]\n  b: [{BIG}]\n  pause: [{BIG}]\n",
        2,
        f"the grid has 1000000000 points (1000 a x 1000 b x 1000 pause), more than the {MAX_POINTS} a sweep runs",
    ),
    (b"notebook: \xff\xfe\n", None, "not a UTF-8 text file"),
]


@pytest.mark.parametrize("text, line, words", BAD_SPECS, ids=[f"bad{i}" for i in range(len(BAD_SPECS))])
@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry"])
def test_bad_spec_is_one_line_naming_file_and_line_exit_2(tmp_path, capsys, text, line, words, dry_run):
    status, spec = cli(tmp_path, text, *(["--dry-run"] if dry_run else []))
    out = capsys.readouterr()
    assert status == 2 and out.out == ""
    assert out.err.count("\n") == 1, out.err
    where = f"error: {spec}:{line}:" if line else f"error: {spec}: "
    assert out.err.startswith(where), out.err
    assert words in out.err, out.err
    with pytest.raises(SpecError, match=re.escape(words)):
        load_spec(spec)


@pytest.mark.parametrize(
    "name, text, words",
    [
        ("nb.md", "# no code at all\n", "notebook {nb} has no cell tagged 'parameters'"),
        (
            "nb.md",
            "```{code-cell} ipython3\n:tags: [parameters]\n\na = 1\n```\n",
            "the parameters cell of nb.md must define metrics_path = None",
        ),
        ("nb.ipynb", "{not json", "notebook {nb} cannot be read"),
    ],
)
def test_a_notebook_the_sweep_cannot_use_is_one_line_naming_the_spec_and_the_notebook(
    tmp_path, capsys, name, text, words
):
    (tmp_path / name).write_text(text)
    status, spec = cli(tmp_path, f"notebook: {name}\ngrid: {{a: [1]}}\n")
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert err.startswith(f"error: {spec}:1: ") and words.format(nb=tmp_path / name) in err, err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["sweep", "{tmp}/nope.yaml"], "spec file '{tmp}/nope.yaml' does not exist"),
        (["sweep", "{tmp}"], "spec file '{tmp}' is not a file"),
        (["aggregate", "{tmp}/nope.yaml"], "spec file '{tmp}/nope.yaml' does not exist"),
        (["sweep", "{tmp}/nope.yaml", "--workers", "0"], "--workers must be a positive integer, got 0"),
    ],
)
def test_bad_paths_and_options_exit_2(tmp_path, capsys, argv, words):
    assert run_cli([a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words.format(tmp=tmp_path) in err, err


@pytest.mark.parametrize("output, words", [("taken.txt", "Not a directory"), ("taken.txt/out", "Not a directory")])
def test_an_output_folder_that_is_a_file_is_refused_before_any_point_runs(tmp_path, capsys, output, words):
    (tmp_path / "taken.txt").write_text("a file, not a folder")
    status, _ = cli(tmp_path, NB + f"output: {output}\ngrid: {{a: [1]}}\n")
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert f"output folder {tmp_path / output} cannot be written: {words}" in err, err
    assert (tmp_path / "taken.txt").read_text() == "a file, not a folder"


def test_dry_run_of_a_grid_at_the_limit_counts_without_listing_it(tmp_path, capsys):
    """100 000 points: the count and the first few pending points, at once (the grid is never materialised)."""
    side = ", ".join(map(str, range(100)))
    status, _ = cli(
        tmp_path,
        NB + f"grid:\n  a: [{side}]\n  b: [{side}]\n  pause: [{', '.join(map(str, range(10)))}]\n",
        "--dry-run",
    )
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out[0] == f"0 done, {MAX_POINTS} to run (grid of {MAX_POINTS} points, at most {MAX_POINTS})"
    assert out[1] == "  {'a': 0, 'b': 0, 'pause': 0}" and out[-1] == f"  ... and {MAX_POINTS - 20} more"


def test_a_second_sweep_into_a_busy_output_folder_is_refused(tmp_path, capsys):
    spec = load_spec(write(tmp_path, NB + "parameters: {pause: 1.0}\ngrid: {a: [1, 2]}\n"))
    lock_file = spec.output / "runs" / ".sweep.lock"
    first = threading.Thread(target=run_sweep, args=(spec,), kwargs={"workers": 2, "progress": False})
    first.start()
    deadline = time.time() + 60
    while time.time() < deadline and not _held(lock_file):
        time.sleep(0.05)
    assert _held(lock_file)
    with pytest.raises(OutputError, match=f"output folder {re.escape(str(spec.output))} is in use by another sweep"):
        run_sweep(spec, workers=1, progress=False)
    assert run_cli(["sweep", str(tmp_path / "spec.yaml"), "--no-progress"]) == 2
    assert "is in use by another sweep" in capsys.readouterr().err
    first.join()
    records = [json.loads(p.read_text()) for p in (spec.output / "records").glob("*.json")]
    assert sorted((r["status"], r["metrics"]["product"]) for r in records) == [("ok", 2.0), ("ok", 4.0)]


def _held(lock_file: Path) -> bool:
    """Whether another holder has the lock (trying it, and letting go at once when it was free)."""
    if not lock_file.exists():
        return False
    try:
        FileLock(str(lock_file), timeout=0).acquire().lock.release()
    except Timeout:
        return True
    return False


def test_one_point_run_twice_at_once_keeps_each_runs_own_metrics(tmp_path):
    """Two runs of one point overlap in time: each returns the metrics its own run wrote (no shared file)."""
    spec = load_spec(write(tmp_path, NB + "grid: {a: [3]}\nparameters: {pause: 1.0}\n"))
    task, point = point_task(spec), next(spec.points())
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(partial(run_point, task, point), [1, 1]))
    assert all(r.record["wall_time_s"] > 1.0 for r in results)
    assert [(r.record["status"], r.record["error"], r.record["metrics"]) for r in results] == [
        ("ok", None, {"product": 6.0, "values": [3, 2.0], "threads": "1"})
    ] * 2


def write(tmp_path: Path, text: str) -> Path:
    """The spec file ``text`` in ``tmp_path``."""
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    return path


NOTEBOOK = """---
kernelspec: {display_name: Python 3, language: python, name: python3}
---

```{code-cell} ipython3
:tags: [parameters]

device = "cpu"
mode = "ok"
metrics_path = None
```

```{code-cell} ipython3
from pathlib import Path

from implicit_bias.sweep import record_metrics

if mode == "reads":
    Path("table.txt").read_text()
if mode != "silent":
    record_metrics(metrics_path, device=device, value=1.5)
```
"""


def test_a_point_that_records_nothing_or_misses_a_file_fails_with_the_reason(tmp_path):
    (tmp_path / "point.md").write_text(NOTEBOOK)
    spec = load_spec(write(tmp_path, "notebook: point.md\ngrid: {mode: [ok, silent, reads]}\n"))
    summary = run_sweep(spec, workers=2, progress=False)
    table = pd.read_csv(summary.table).set_index("mode")
    assert table.status.to_dict() == {"ok": "ok", "silent": "failed", "reads": "failed"}
    assert "never called record_metrics(metrics_path, ...)" in table.error["silent"]
    assert (
        "FileNotFoundError" in table.error["reads"] and "list the files it reads under 'files:'" in table.error["reads"]
    )
    assert (spec.output / "runs" / f"{point_id({'mode': 'reads'})}.ipynb").exists()  # the failed run is kept to read


def test_the_swept_value_wins_over_provenance_and_metrics_in_the_table(tmp_path):
    (tmp_path / "point.md").write_text(NOTEBOOK)
    spec = load_spec(write(tmp_path, "notebook: point.md\ngrid: {device: [cuda, cpu]}\n"))
    for device in ("cuda", "cpu"):  # what a GPU worker and a CPU worker would have recorded
        point = {"device": device}
        record = {
            "id": point_id(point),
            "parameters": point,
            "package_version": "0.1.0",
            "git_commit": None,
            "torch_version": "2.13.0",
            "device": "NVIDIA H200" if device == "cuda" else "cpu",
            "metrics": {"device": "from the notebook", "value": 1.5},
            "status": "ok",
            "error": None,
            "wall_time_s": 1.0,
        }
        (spec.output / "records").mkdir(parents=True, exist_ok=True)
        (spec.output / "records" / f"{record['id']}.json").write_text(json.dumps(record))
    table = pd.read_csv(aggregate(spec))
    assert table.device.tolist() == ["cuda", "cpu"]
    assert table.run_device.tolist() == ["NVIDIA H200", "cpu"]
    assert set(table.columns) >= {"run_device", "value", "status"}


def test_aggregate_without_records_writes_a_readable_empty_table(tmp_path):
    spec = load_spec(write(tmp_path, NB + "parameters: {b: 1.0}\ngrid: {a: [1, 2]}\n"))
    table = pd.read_csv(aggregate(spec))
    assert table.empty and list(table.columns)[:2] == ["b", "a"] and "status" in table.columns


def test_committed_tables_are_rebuilt_by_aggregate_unchanged(tmp_path):
    """The committed records under sweeps/results aggregate to the committed tables (same rows, columns, values)."""
    root = Path(__file__).parents[1]
    for spec_file in sorted((root / "sweeps" / "book").glob("*.yaml")):
        spec = load_spec(spec_file)
        copy = tmp_path / spec.output.name
        shutil.copytree(spec.output / "records", copy / "records")
        rebuilt = pd.read_csv(aggregate(replace(spec, output=copy)))
        pd.testing.assert_frame_equal(rebuilt, pd.read_csv(spec.output / "table.csv"))
        # The provenance too, but for its paths, which are relative to the output folder (here a copy).
        fresh, committed = (json.loads((out / PROVENANCE_FILE).read_text()) for out in (copy, spec.output))
        assert {k: v for k, v in fresh.items() if k not in ("spec", "notebook")} == {
            k: v for k, v in committed.items() if k not in ("spec", "notebook")
        }
