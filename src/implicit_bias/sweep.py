"""Parameter sweeps: run a chapter (or any notebook) once per point of a grid through papermill.

A sweep is described by a YAML spec::

    notebook: chapters/nonrobustness.md   # MyST (.md, via jupytext) or .ipynb, relative to the spec
    output: results/frei_scaling          # relative to the spec; holds runs/, records/ and table.csv
    parameters: {steps: 2000}             # fixed values (optional)
    grid: {d: [400, 1600], k: [4, 16], seed: [0, 1, 2]}

Each point writes its executed notebook to ``runs/`` and a JSON record to ``records/`` (atomically: a
temporary file renamed into place), holding its parameters, its metrics (what the notebook passed to
``record_metrics``), status, error, package version, git commit, torch version, device and wall time.
Interrupted at any moment, a sweep loses no completed point; started again, it skips points whose record
says ``ok`` and runs the rest. Points run in a process pool sized to the cores, or on a Dask cluster.
"""
from __future__ import annotations

import ast
import hashlib
import itertools
import json
import os
import subprocess
import tempfile
import time
import traceback
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tqdm.auto import tqdm

METRICS_PARAMETER = "metrics_path"  # the parameter through which a notebook learns where to write its metrics
SPEC_KEYS = {"notebook", "output", "parameters", "grid"}


class SpecError(ValueError):
    """A sweep spec that cannot run: the message names the key, the value and what is allowed."""


def record_metrics(path: str | None, **metrics: Any) -> None:
    """Write a notebook's metrics for the sweep that runs it; does nothing when the notebook runs on its own."""
    if path:
        _atomic_write(Path(path), json.dumps(metrics, default=_jsonable, indent=1))


def _jsonable(value: Any) -> Any:
    """numpy and torch scalars and arrays as plain JSON values."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"metric of type {type(value).__name__} is not JSON serializable")


def _atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file in the same folder and rename it: a reader sees all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class Spec:
    """A validated sweep: the notebook, the output folder, fixed parameters and the grid."""

    notebook: Path
    output: Path
    parameters: dict[str, Any]
    grid: dict[str, list[Any]]
    defaults: dict[str, Any] = field(repr=False)

    def points(self) -> Iterator[dict[str, Any]]:
        """Every point of the grid, with the fixed parameters, in a stable order."""
        names = list(self.grid)
        for values in itertools.product(*(self.grid[n] for n in names)):
            yield {**self.parameters, **dict(zip(names, values))}


def notebook_defaults(notebook: Path) -> dict[str, Any]:
    """The literal assignments of the notebook's cell tagged ``parameters``: the names a sweep may set."""
    nb = _read_notebook(notebook)
    for cell in nb.cells:
        if cell.cell_type == "code" and "parameters" in cell.get("metadata", {}).get("tags", []):
            out = {}
            for node in ast.parse(cell.source).body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    try:
                        out[node.targets[0].id] = ast.literal_eval(node.value)
                    except ValueError:
                        out[node.targets[0].id] = None  # not a literal (e.g. torch.float64): any value allowed
            return out
    raise SpecError(f"notebook {notebook} has no cell tagged 'parameters'")


def _read_notebook(path: Path):
    """The notebook as jupytext reads it; an unreadable one is a spec error naming the file."""
    import jupytext

    try:
        return jupytext.read(path)
    except Exception as err:  # noqa: BLE001 - jupytext raises many kinds; all mean "not a notebook"
        raise SpecError(f"notebook {path} cannot be read: {err}") from err


def _check_type(name: str, value: Any, default: Any) -> None:
    """A value must have its default's type (an int is fine where a float is expected)."""
    if default is None or value is None:
        return
    expected = float if isinstance(default, float) else type(default)
    ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
    if isinstance(value, bool) != isinstance(default, bool):
        ok = False
    if not ok:
        raise SpecError(f"parameter {name!r} must be of type {expected.__name__} like its default {default!r}, "
                        f"got {value!r}")


def load_spec(path: str | Path) -> Spec:
    """Read and validate a YAML sweep spec (yaml.safe_load); every error names the key, value and what is allowed."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"spec file {str(path)!r} does not exist")
    raw = yaml.safe_load(path.read_text())
    if not isinstance(raw, dict):
        raise SpecError(f"spec must be a mapping with keys {sorted(SPEC_KEYS)}, got {type(raw).__name__}")
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise SpecError(f"unknown spec key(s) {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}")
    for key in ("notebook", "grid"):
        if key not in raw:
            raise SpecError(f"spec needs the key {key!r}")
    notebook = (path.parent / str(raw["notebook"])).resolve()
    if notebook.suffix not in (".md", ".ipynb") or not notebook.is_file():
        raise SpecError(f"notebook must be an existing .md or .ipynb file, got {raw['notebook']!r}")
    grid, fixed = raw["grid"], raw.get("parameters") or {}
    if not isinstance(grid, dict) or not grid:
        raise SpecError(f"grid must be a non-empty mapping of parameter names to lists, got {grid!r}")
    if not isinstance(fixed, dict):
        raise SpecError(f"parameters must be a mapping, got {fixed!r}")
    defaults = notebook_defaults(notebook)
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SpecError(f"grid value of {name!r} must be a non-empty list, got {values!r}")
    for name in [*grid, *fixed]:
        if name not in defaults or name == METRICS_PARAMETER:
            allowed = sorted(k for k in defaults if k != METRICS_PARAMETER)
            raise SpecError(f"unknown parameter {name!r}: the notebook's parameters cell defines {allowed}")
    if METRICS_PARAMETER not in defaults:
        raise SpecError(f"the notebook's parameters cell must define {METRICS_PARAMETER} = None")
    for name, values in grid.items():
        for value in values:
            _check_type(name, value, defaults[name])
    for name, value in fixed.items():
        _check_type(name, value, defaults[name])
    output = (path.parent / str(raw.get("output", path.stem))).resolve()
    return Spec(notebook=notebook, output=output, parameters=fixed, grid=grid, defaults=defaults)


def point_id(point: dict[str, Any]) -> str:
    """A readable, stable file name for a point: its varying values and a short hash of all of them."""
    text = json.dumps(point, sort_keys=True)
    slug = "_".join(f"{k}={v}" for k, v in sorted(point.items()))[:80]
    slug = "".join(c if c.isalnum() or c in "=._-" else "-" for c in slug)
    return f"{slug}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


def _provenance(root: Path) -> dict[str, Any]:
    """Package version, git commit, torch version and device of the process that runs a point."""
    import torch

    from . import __version__

    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"package_version": __version__, "git_commit": commit, "torch_version": torch.__version__,
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"}


def run_point(notebook: str, output: str, point: dict[str, Any], threads: int) -> dict[str, Any]:
    """Execute the notebook at one point and write its record; a failure is recorded, never raised."""
    import papermill

    out = Path(output)
    pid = point_id(point)
    metrics_file = out / "runs" / f"{pid}.metrics.json"  # the notebook writes here; the record is final
    metrics_file.unlink(missing_ok=True)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    # Strict MKL mode: a point's numbers do not depend on how many threads its worker has (see the Makefile).
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
    record: dict[str, Any] = {"id": pid, "parameters": point, **_provenance(Path(notebook).parent)}
    start = time.perf_counter()
    try:
        source = Path(notebook)
        with tempfile.TemporaryDirectory() as tmp:
            if source.suffix == ".md":  # papermill reads only .ipynb
                import jupytext

                converted = Path(tmp) / (source.stem + ".ipynb")
                jupytext.write(jupytext.read(source), converted)
                source = converted
            papermill.execute_notebook(
                str(source), str(out / "runs" / f"{pid}.ipynb"), parameters={**point, METRICS_PARAMETER: str(metrics_file)},
                cwd=str(Path(notebook).parent), kernel_name="python3", progress_bar=False, log_output=False,
            )
        record["metrics"] = json.loads(metrics_file.read_text()) if metrics_file.exists() else {}
        record["status"], record["error"] = "ok", None
    except Exception as err:  # noqa: BLE001 - any failure of a point is data for its record
        record["metrics"], record["status"] = {}, "failed"
        record["error"] = "".join(traceback.format_exception_only(type(err), err)).strip()[-2000:]
    record["wall_time_s"] = time.perf_counter() - start
    metrics_file.unlink(missing_ok=True)
    _atomic_write(out / "records" / f"{pid}.json", json.dumps(record, indent=1, default=_jsonable))
    return record


@dataclass
class SweepSummary:
    """What one call of ``run_sweep`` did: points run now, skipped as done, and failed."""

    ran: list[str]
    skipped: list[str]
    failed: list[str]
    table: Path


def pending(spec: Spec) -> tuple[list[dict[str, Any]], list[str]]:
    """Points still to run (no record, or a record that is not ok) and ids of those already done."""
    todo, done = [], []
    for point in spec.points():
        rec = spec.output / "records" / f"{point_id(point)}.json"
        ok = rec.exists() and json.loads(rec.read_text()).get("status") == "ok"
        (done.append(point_id(point)) if ok else todo.append(point))
    return todo, done


def run_sweep(spec: Spec, *, workers: int | None = None, scheduler: str | None = None, progress: bool = True) -> SweepSummary:
    """Run every pending point in parallel (process pool, or a Dask cluster at ``scheduler``), then aggregate."""
    todo, done = pending(spec)
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    threads = max(1, (os.cpu_count() or 1) // workers)
    ran, failed = [], []
    executor, client = _executor(workers, scheduler)
    futures = []
    try:
        futures = [executor.submit(run_point, str(spec.notebook), str(spec.output), p, threads) for p in todo]
        for fut in tqdm(as_completed(futures), total=len(futures), disable=not progress, desc="sweep points"):
            record = fut.result()
            (ran if record["status"] == "ok" else failed).append(record["id"])
    finally:
        for fut in futures:  # after Ctrl-C: drop what has not started; finished points are already on disk
            fut.cancel()
        executor.shutdown(wait=False)
        if client is not None:
            client.close()
    return SweepSummary(ran=ran, skipped=done, failed=failed, table=aggregate(spec))


def _executor(workers: int, scheduler: str | None) -> tuple[Executor, Any]:
    """A local process pool, or dask.distributed's drop-in executor on the cluster at ``scheduler``."""
    if scheduler is None:
        return ProcessPoolExecutor(max_workers=workers), None
    from distributed import Client

    client = Client(scheduler)
    return client.get_executor(), client


def aggregate(spec: Spec) -> Path:
    """One tidy CSV row per point of the grid that has a record: parameters, metrics, status and provenance."""
    import pandas as pd

    rows = []
    for point in spec.points():
        rec = spec.output / "records" / f"{point_id(point)}.json"
        if rec.exists():
            r = json.loads(rec.read_text())
            rows.append({**r["parameters"], **{k: v for k, v in r["metrics"].items() if not isinstance(v, (list, dict))},
                         **{k: r[k] for k in ("id", "status", "error", "wall_time_s", "package_version", "git_commit",
                                               "torch_version", "device")}})
    table = spec.output / "table.csv"
    spec.output.mkdir(parents=True, exist_ok=True)
    _atomic_write(table, pd.DataFrame(rows).to_csv(index=False))
    return table
