"""Parameter sweeps: run a chapter (or any notebook) once per point of a grid through papermill.

A sweep is described by a YAML spec::

    notebook: chapters/nonrobustness.md   # MyST (.md, via jupytext) or .ipynb, relative to the spec
    output: results/frei_scaling          # relative to the spec; holds runs/, records/ and table.csv
    parameters: {steps: 2000}             # fixed values (optional)
    grid: {d: [400, 1600], k: [4, 16], seed: [0, 1, 2]}
    files: [data]                         # optional: files or folders the notebook reads, relative to the spec

The client (the process that runs the sweep) reads the notebook and the listed files and sends their
contents with each point; a worker needs only the package installed. It executes the point in a temporary
folder laid out like the client's (so paths relative to the notebook still work) and returns the record,
the metrics and the executed notebook; the client alone writes them into the output folder, each
atomically (a temporary file renamed into place). A local process pool and a Dask cluster use this same
protocol. The record holds the point's parameters, its metrics (what the notebook passed to
``record_metrics``), status, error, package version, git commit, the notebook's sha256, torch version,
device and wall time.

Interrupted at any moment, a sweep loses no completed point; started again, it skips points whose record
says ``ok`` and was made from the notebook as it is now, and runs the rest. A worker that dies in the middle of a point loses nothing either: Dask runs
the point again elsewhere, or the point is recorded as failed with the cause and the next run finishes it.
One sweep at a time may write into an output folder (a file lock); a second one is refused.

Next to ``table.csv``, ``provenance.json`` records what the table was made from: the commits its points ran
at and the sha256 of the spec and of the notebook. ``provenance_problems`` names every way in which a
committed table no longer matches its inputs (the tests run it on every committed table).
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import json
import math
import os
import re
import subprocess
import tempfile
import time
import traceback
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from tqdm.auto import tqdm

METRICS_PARAMETER = "metrics_path"  # the parameter through which a notebook learns where to write its metrics
SPEC_KEYS = {"notebook", "output", "parameters", "grid", "files"}
MAX_POINTS = 100_000  # a larger grid is a mistake or a job for several specs; refused before anything runs
MAX_FILES_BYTES = 64 * 2**20  # the files sent with every point; larger data belongs installed on the workers
PROVENANCE_KEYS = ("package_version", "git_commit", "notebook_sha256", "torch_version", "device")
PROVENANCE_FILE = "provenance.json"  # next to table.csv: what the table was made from
UNKNOWN_COMMIT = "unknown"  # a point run outside a git checkout
TABLE_KEYS = ("id", "status", "error", "wall_time_s", *PROVENANCE_KEYS)
MISSING_FILE_HINT = (
    "a point runs in a temporary folder on its worker: list the files it reads under 'files:' "
    "in the spec, or install them on the workers"
)


class SpecError(ValueError):
    """A sweep spec that cannot run: one line naming the file, the key, the value and what is allowed."""

    def __init__(self, message: str) -> None:
        super().__init__(re.sub(r"\s*\n\s*", " ", str(message)).strip())


class OutputError(RuntimeError):
    """An output folder that a sweep cannot use now: busy with another sweep, a file, or not writable."""


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


class _SpecLoader(yaml.SafeLoader):
    """yaml's safe loader (no Python tags) that refuses a key repeated in one mapping instead of keeping the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> tuple[Any, dict[tuple[str, ...], int]]:
    """The spec's data and the line of each top-level key and of each key one level below (for messages)."""
    try:
        loader = _SpecLoader(path.read_text(encoding="utf-8"))
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise SpecError(f"{where}: invalid YAML: {err.problem or err.context}") from err
    except yaml.YAMLError as err:
        raise SpecError(f"{path}: invalid YAML: {err}") from err
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            lines[(str(key.value),)] = key.start_mark.line + 1
            if isinstance(value, yaml.MappingNode):
                for sub, _ in value.value:
                    lines[(str(key.value), str(sub.value))] = sub.start_mark.line + 1
    return data, lines


def _canonical(value: Any) -> Any:
    """A hashable form under which values that a notebook cannot tell apart (1 and 1.0) are equal."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, list):
        return ("list", tuple(_canonical(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((str(k), _canonical(v)) for k, v in value.items())))
    return ("other", repr(value))


@dataclass(frozen=True)
class Spec:
    """A validated sweep: the notebook, the output folder, fixed parameters, the grid and the files that travel."""

    notebook: Path
    output: Path
    parameters: dict[str, Any]
    grid: dict[str, list[Any]]
    defaults: dict[str, Any] = field(repr=False)
    files: tuple[Path, ...] = ()
    source: Path | None = None  # the spec file itself, whose hash the table's provenance records

    def points(self) -> Iterator[dict[str, Any]]:
        """Every point of the grid, with the fixed parameters, in a stable order."""
        names = list(self.grid)
        for values in itertools.product(*(self.grid[n] for n in names)):
            yield {**self.parameters, **dict(zip(names, values))}

    @property
    def size(self) -> int:
        """The number of points, without listing them."""
        return math.prod(len(v) for v in self.grid.values())

    def contains(self, point: dict[str, Any]) -> bool:
        """Whether ``point`` is one of this grid's points (a record in a shared output folder may not be)."""
        if set(point) != set(self.parameters) | set(self.grid):
            return False
        if any(_canonical(point[k]) != _canonical(v) for k, v in self.parameters.items()):
            return False
        return all(_canonical(point[k]) in {_canonical(v) for v in values} for k, values in self.grid.items())


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
    except Exception as err:  # jupytext raises many kinds; all mean "not a notebook"
        raise SpecError(f"notebook {path} cannot be read: {err}") from err


def _validate_type(name: str, value: Any, default: Any) -> str | None:
    """Why ``value`` cannot stand for a parameter whose default is ``default`` (None when it can)."""
    if default is None:  # the default is not a literal: the notebook accepts any value
        return None
    expected = float if isinstance(default, float) else type(default)
    ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
    if isinstance(value, bool) != isinstance(default, bool):
        ok = False
    if ok:
        return None
    return f"parameter {name!r} must be of type {expected.__name__} like its default {default!r}, got {value!r}"


def load_spec(path: str | Path) -> Spec:
    """Read and validate a YAML sweep spec (safe YAML); every error is one line naming the file, key and value."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"spec file {str(path)!r} does not exist")
    if not path.is_file():
        raise SpecError(f"spec file {str(path)!r} is not a file")
    raw, lines = _read_yaml(path)

    def fail(message: str, *key: str) -> SpecError:
        line = lines.get(key) if key else None
        return SpecError(f"{path}:{line}: {message}" if line else f"{path}: {message}")

    if raw is None:
        raise fail(f"the spec is empty: it needs a mapping with keys {sorted(SPEC_KEYS)}")
    if not isinstance(raw, dict):
        raise fail(f"a spec must be a mapping with keys {sorted(SPEC_KEYS)}, got {type(raw).__name__}")
    unknown = set(raw) - SPEC_KEYS
    if unknown:
        raise fail(
            f"unknown spec key(s) {sorted(map(str, unknown))}; allowed: {sorted(SPEC_KEYS)}", min(map(str, unknown))
        )
    for key in ("notebook", "grid"):
        if key not in raw:
            raise fail(f"spec needs the key {key!r}")
    for key in ("notebook", "output"):
        if key in raw and not isinstance(raw[key], str):
            raise fail(f"{key} must be a path (a string), got {raw[key]!r}", key)
    notebook = (path.parent / raw["notebook"]).resolve()
    if notebook.suffix not in (".md", ".ipynb") or not notebook.is_file():
        raise fail(f"notebook must be an existing .md or .ipynb file, got {raw['notebook']!r}", "notebook")
    grid, fixed = raw["grid"], raw.get("parameters") or {}
    if not isinstance(grid, dict) or not grid:
        raise fail(f"grid must be a non-empty mapping of parameter names to lists, got {grid!r}", "grid")
    if not isinstance(fixed, dict):
        raise fail(f"parameters must be a mapping of names to values, got {fixed!r}", "parameters")
    _validate_grid(grid, fixed, fail)
    try:
        defaults = notebook_defaults(notebook)
    except SpecError as err:
        raise fail(str(err), "notebook") from err
    if METRICS_PARAMETER not in defaults:
        raise fail(f"the parameters cell of {notebook.name} must define {METRICS_PARAMETER} = None", "notebook")
    _validate_values(grid, fixed, defaults, fail)
    files = _spec_files(raw.get("files"), path, fail)
    output = (path.parent / raw.get("output", path.stem)).resolve()
    return Spec(
        notebook=notebook,
        output=output,
        parameters=fixed,
        grid=grid,
        defaults=defaults,
        files=files,
        source=path.resolve(),
    )


def _validate_grid(grid: dict[str, list[Any]], fixed: dict[str, Any], fail: Callable[..., SpecError]) -> None:
    """Every grid value a non-empty list of distinct values, no name both fixed and swept, a grid of bounded size."""
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise fail(f"grid value of {name!r} must be a non-empty list, got {values!r}", "grid", str(name))
        seen: set[Any] = set()
        for value in values:
            if _canonical(value) in seen:
                raise fail(f"grid value of {name!r} repeats {value!r}: every point must be distinct", "grid", str(name))
            seen.add(_canonical(value))
    both = sorted(set(map(str, grid)) & set(map(str, fixed)))
    if both:
        raise fail(
            f"parameter {both[0]!r} is both fixed (under parameters) and swept (under grid): keep one", "grid", both[0]
        )
    size = math.prod(len(v) for v in grid.values())
    if size > MAX_POINTS:
        shape = " x ".join(f"{len(v)} {k}" for k, v in grid.items())
        raise fail(f"the grid has {size} points ({shape}), more than the {MAX_POINTS} a sweep runs: split it", "grid")


def _validate_values(
    grid: dict[str, list[Any]], fixed: dict[str, Any], defaults: dict[str, Any], fail: Callable[..., SpecError]
) -> None:
    """Every name one of the notebook's parameters, every value of its default's type."""
    allowed = sorted(k for k in defaults if k != METRICS_PARAMETER)
    for section, names in (("grid", list(grid)), ("parameters", list(fixed))):
        for name in names:
            if name not in defaults or name == METRICS_PARAMETER:
                raise fail(
                    f"unknown parameter {name!r}: the notebook's parameters cell defines {allowed}", section, str(name)
                )
    for name, values in grid.items():
        for value in values:
            if (why := _validate_type(name, value, defaults[name])) is not None:
                raise fail(why, "grid", name)
    for name, value in fixed.items():
        if (why := _validate_type(name, value, defaults[name])) is not None:
            raise fail(why, "parameters", name)


def _spec_files(entries: Any, path: Path, fail: Callable[..., SpecError]) -> tuple[Path, ...]:
    """The spec's ``files``: existing files or folders, relative to the spec, small enough to send with each point."""
    if entries is None:
        return ()
    if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
        raise fail(f"files must be a list of paths relative to the spec, got {entries!r}", "files")
    files = tuple((path.parent / e).resolve() for e in entries)
    for entry, file in zip(entries, files):
        if not file.exists():
            raise fail(f"file {entry!r} listed under files does not exist (looked for {file})", "files")
    total = sum(f.stat().st_size for f in _expand(files))
    if total > MAX_FILES_BYTES:
        raise fail(
            f"the files listed under files hold {total} bytes, more than the {MAX_FILES_BYTES} sent with "
            "every point: install large data on the workers instead",
            "files",
        )
    return files


def _expand(files: tuple[Path, ...]) -> list[Path]:
    """The listed files, with each listed folder replaced by every file under it."""
    return [f for entry in files for f in ([entry] if entry.is_file() else sorted(entry.rglob("*"))) if f.is_file()]


def point_id(point: dict[str, Any]) -> str:
    """A readable, stable file name for a point: its varying values and a short hash of all of them."""
    text = json.dumps(point, sort_keys=True)
    slug = "_".join(f"{k}={v}" for k, v in sorted(point.items()))[:80]
    slug = "".join(c if c.isalnum() or c in "=._-" else "-" for c in slug)
    return f"{slug}_{hashlib.sha1(text.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs besides the package: the notebook and its files, by content, not by path."""

    name: str  # the notebook's file name, for messages and the executed copy
    notebook: str  # the notebook as .ipynb JSON (a MyST source is converted on the client)
    files: dict[str, bytes]  # relative to the layout's root, which holds the notebook's folder
    cwd: str  # the notebook's folder relative to the layout's root: where the point runs
    git_commit: str | None  # the commit of the client's checkout that holds the notebook
    notebook_sha256: str  # of the notebook's file as the client read it: ties each record to its source


def point_task(spec: Spec) -> PointTask:
    """Read the spec's notebook and files on the client into what travels with every point."""
    import nbformat

    files = _expand(spec.files)
    root = Path(os.path.commonpath([spec.notebook.parent, *spec.files])) if spec.files else spec.notebook.parent
    return PointTask(
        name=spec.notebook.name,
        notebook=nbformat.writes(_read_notebook(spec.notebook)),
        files={str(f.relative_to(root)): f.read_bytes() for f in files},
        cwd=str(spec.notebook.parent.relative_to(root)),
        git_commit=_git_commit(spec.notebook.parent),
        notebook_sha256=file_sha256(spec.notebook),
    )


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes: what a table's provenance compares with the committed spec and notebook."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_commit(folder: Path) -> str | None:
    """The commit checked out at ``folder``, or None outside a git checkout."""
    try:
        return (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        return None


@cache
def _worker_provenance() -> dict[str, Any]:
    """Package version, torch version and device of the worker process that runs the points."""
    import torch

    from . import __version__

    return {
        "package_version": __version__,
        "torch_version": torch.__version__,
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
    }


def _worker_threads() -> int:
    """Threads per point on a Dask worker: its cores shared among the points it runs at once."""
    try:
        from distributed import get_worker

        slots = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        slots = 1
    return max(1, (os.cpu_count() or 1) // max(1, slots))


@contextmanager
def _kernel_environment(threads: int) -> Iterator[None]:
    """Thread counts (and strict MKL mode) for the kernel started inside, the caller's environment restored after:
    a test or notebook that runs a point in its own process must not inherit the point's threads."""
    # Strict MKL mode: a point's numbers do not depend on how many threads its worker has (see the Makefile).
    saved = dict(os.environ)
    os.environ.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass(frozen=True)
class PointResult:
    """What a worker returns for one point: its record and its executed notebook (None when none was written)."""

    record: dict[str, Any]
    executed: str | None


def run_point(task: PointTask, point: dict[str, Any], threads: int | None = None) -> PointResult:
    """Execute the notebook at one point in a private temporary folder; a failure is recorded, never raised."""
    import papermill

    threads = threads or _worker_threads()
    provenance = {**_worker_provenance(), "git_commit": task.git_commit, "notebook_sha256": task.notebook_sha256}
    record: dict[str, Any] = {"id": point_id(point), "parameters": point, **{k: provenance[k] for k in PROVENANCE_KEYS}}
    executed = None
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sweep-point-") as tmp:
        tree, io = Path(tmp, "tree"), Path(tmp, "io")
        for rel, data in task.files.items():
            (tree / rel).parent.mkdir(parents=True, exist_ok=True)
            (tree / rel).write_bytes(data)
        (tree / task.cwd).mkdir(parents=True, exist_ok=True)
        io.mkdir()
        (io / "in.ipynb").write_text(task.notebook)
        metrics_file = io / "metrics.json"  # private to this run: no other run of this point can touch it
        try:
            with _kernel_environment(threads):
                papermill.execute_notebook(
                    str(io / "in.ipynb"),
                    str(io / "out.ipynb"),
                    parameters={**point, METRICS_PARAMETER: str(metrics_file)},
                    cwd=str(tree / task.cwd),
                    kernel_name="python3",
                    progress_bar=False,
                    log_output=False,
                    start_timeout=300,  # a loaded or cold worker (CUDA torch imports) can take over a minute
                )
            if not metrics_file.exists():
                raise RuntimeError(
                    f"{task.name} ran to its end but never called "
                    f"record_metrics({METRICS_PARAMETER}, ...): the point has no result"
                )
            record["metrics"] = json.loads(metrics_file.read_text())
            record["status"], record["error"] = "ok", None
        except Exception as err:  # noqa: BLE001 - any failure of a point is data for its record
            record["metrics"], record["status"] = {}, "failed"
            error = "".join(traceback.format_exception_only(type(err), err)).strip()[-2000:]
            record["error"] = f"{error} ({MISSING_FILE_HINT})" if "FileNotFoundError" in error else error
        if (io / "out.ipynb").exists():
            executed = (io / "out.ipynb").read_text()
    record["wall_time_s"] = time.perf_counter() - start
    return PointResult(record=record, executed=executed)


def lost_point(point: dict[str, Any], cause: BaseException) -> PointResult:
    """The failed record of a point whose worker did not return (it died, or the cluster gave up on it)."""
    error = f"the worker running this point did not return: {type(cause).__name__}: {cause}"
    return PointResult(
        record={
            "id": point_id(point),
            "parameters": point,
            **dict.fromkeys(PROVENANCE_KEYS),
            "metrics": {},
            "status": "failed",
            "error": error,
            "wall_time_s": None,
        },
        executed=None,
    )


def save_point(output: Path, result: PointResult) -> None:
    """Write a point's executed notebook, then its record (the record last: it is what marks the point done)."""
    pid = result.record["id"]
    if result.executed is not None:
        _atomic_write(output / "runs" / f"{pid}.ipynb", result.executed)
    _atomic_write(output / "records" / f"{pid}.json", json.dumps(result.record, indent=1, default=_jsonable))


@dataclass
class SweepSummary:
    """What one call of ``run_sweep`` did: points run now, skipped as done, and failed."""

    ran: list[str]
    skipped: list[str]
    failed: list[str]
    table: Path


def done_ids(spec: Spec) -> set[str]:
    """Ids of the grid's points whose record says ok and was made from the notebook as it is now (a point of an
    edited notebook runs again), found from the records folder (not by listing the grid)."""
    done, notebook = set(), file_sha256(spec.notebook)
    for rec in (spec.output / "records").glob("*.json"):
        try:
            r = json.loads(rec.read_text())
        except (OSError, ValueError):
            continue  # not a record this package wrote: the point runs again
        params = r.get("parameters") if isinstance(r, dict) else None
        if (
            r.get("status") == "ok"
            and r.get("notebook_sha256") == notebook
            and isinstance(params, dict)
            and rec.stem == point_id(params)
            and spec.contains(params)
        ):
            done.add(rec.stem)
    return done


def pending(spec: Spec) -> tuple[list[dict[str, Any]], list[str]]:
    """Points still to run (no record, a record that is not ok or of another notebook) and ids of those done."""
    done = done_ids(spec)
    todo = [p for p in spec.points() if point_id(p) not in done]
    return todo, sorted(done)


def _lock(output: Path):
    """Hold the output folder for one sweep; refuse at once (one clear line) when another sweep holds it."""
    from filelock import FileLock, Timeout

    try:
        (output / "runs").mkdir(parents=True, exist_ok=True)
        # Under runs/, which git ignores; flock is released by the kernel when a killed sweep's process dies.
        lock = FileLock(str(output / "runs" / ".sweep.lock"), timeout=0)
        lock.acquire()
    except Timeout as err:
        raise OutputError(
            f"output folder {output} is in use by another sweep (lock {err.lock_file}): wait for it "
            "to finish, or give this spec another output"
        ) from err
    except OSError as err:
        raise OutputError(
            f"output folder {output} cannot be written: {err.strerror or err} ({err.filename or output})"
        ) from err
    return lock


def run_sweep(
    spec: Spec,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool = True,
    rerun: bool = False,
) -> SweepSummary:
    """Run every pending point (with ``rerun``, every point: after a library change) in parallel (process pool, or
    a Dask cluster at ``scheduler``), then aggregate."""
    workers = workers or os.cpu_count() or 1
    if workers < 1:
        raise ValueError(f"workers must be a positive integer, got {workers}")
    lock = _lock(spec.output)
    try:
        todo, done = (list(spec.points()), []) if rerun else pending(spec)
        task = point_task(spec)
        threads = None if scheduler else max(1, (os.cpu_count() or 1) // workers)
        ran, failed = [], []
        executor, client = _executor(workers, scheduler)
        futures: dict[Any, dict[str, Any]] = {}
        try:
            # On a cluster the notebook and its files go to every worker once, not once per point.
            payload = client.scatter(task, broadcast=True, hash=False) if client is not None and todo else task
            futures = {executor.submit(run_point, payload, p, threads): p for p in todo}
            for fut in tqdm(as_completed(futures), total=len(futures), disable=not progress, desc="sweep points"):
                try:
                    result = fut.result()
                except Exception as err:  # noqa: BLE001 - a dead worker or pool: recorded, and the next run retries
                    result = lost_point(futures[fut], err)
                save_point(spec.output, result)
                (ran if result.record["status"] == "ok" else failed).append(result.record["id"])
        finally:
            for fut in futures:  # after Ctrl-C: drop what has not started; finished points are already on disk
                fut.cancel()
            executor.shutdown(wait=False)
            if client is not None:
                client.close()
        return SweepSummary(ran=ran, skipped=done, failed=failed, table=aggregate(spec))
    finally:
        lock.release()


def _executor(workers: int, scheduler: str | None) -> tuple[Executor, Any]:
    """A local process pool, or dask.distributed's drop-in executor on the cluster at ``scheduler``."""
    if scheduler is None:
        return ProcessPoolExecutor(max_workers=workers), None
    from distributed import Client

    client = Client(scheduler)
    return client.get_executor(pure=False), client  # pure=False: no hashing of the payload for every point


def _table_row(record: dict[str, Any]) -> dict[str, Any]:
    """A record as one row: its parameters first; a metric or provenance named like a parameter goes to run_<name>."""
    row = dict(record["parameters"])
    scalars = {k: v for k, v in record.get("metrics", {}).items() if not isinstance(v, (list, dict))}
    for key, value in [*scalars.items(), *((k, record.get(k)) for k in TABLE_KEYS)]:
        row[f"run_{key}" if key in record["parameters"] else key] = value
    return row


def aggregate(spec: Spec) -> Path:
    """One tidy CSV row per point of the grid that has a record: parameters, metrics, status and provenance;
    and next to it, provenance.json: what the table was made from."""
    import pandas as pd

    records = []
    for point in spec.points():
        rec = spec.output / "records" / f"{point_id(point)}.json"
        if rec.exists():
            records.append(json.loads(rec.read_text()))
    rows = [_table_row(r) for r in records]
    # No record yet: a header alone, so that the table still reads as an empty frame with the right columns.
    columns = None if rows else list(_table_row({"parameters": dict.fromkeys([*spec.parameters, *spec.grid])}))
    table = spec.output / "table.csv"
    try:
        _atomic_write(table, pd.DataFrame(rows, columns=columns).to_csv(index=False))
        _atomic_write(spec.output / PROVENANCE_FILE, json.dumps(table_provenance(spec, records), indent=1) + "\n")
    except OSError as err:
        raise OutputError(f"output folder {spec.output} cannot be written: {err.strerror or err}") from err
    return table


def table_provenance(spec: Spec, records: list[dict[str, Any]]) -> dict[str, Any]:
    """What a table is made from: the commits its points ran at, and its spec and notebook with their sha256.

    Paths are relative to the output folder, so the file reads the same in any clone. The commits come from
    the records, not from the checkout that aggregates them: a table is made when its points run.
    """
    if spec.source is None:
        raise ValueError("the table's provenance needs the spec's file: load the spec with load_spec")
    commits = {r.get("git_commit") or UNKNOWN_COMMIT for r in records}
    return {
        "git_commits": sorted(commits),
        "spec": os.path.relpath(spec.source, spec.output),
        "spec_sha256": file_sha256(spec.source),
        "notebook": os.path.relpath(spec.notebook, spec.output),
        "notebook_sha256": file_sha256(spec.notebook),
        "points": len(records),
    }


def provenance_problems(spec: Spec) -> list[str]:
    """Every way in which the spec's table no longer matches its inputs, each with how to regenerate it."""
    import pandas as pd

    table, path = os.path.relpath(spec.output / "table.csv"), spec.output / PROVENANCE_FILE
    again = f"regenerate it: python -m implicit_bias sweep {os.path.relpath(spec.source or '')}"
    if not path.exists():
        return [f"{table} has no {PROVENANCE_FILE}: {again}"]
    made = json.loads(path.read_text())
    problems = [
        f"{table} was made from {name} {file} with sha256 {made[f'{name}_sha256'][:12]}, which has changed since "
        f"(now {file_sha256(file)[:12]}): {again}"
        for name, file in (("spec", spec.source), ("notebook", spec.notebook))
        if file_sha256(file) != made.get(f"{name}_sha256")
    ]
    rows = pd.read_csv(table, dtype=str, keep_default_na=False)
    others = sorted(set(rows.get("notebook_sha256", [""] * len(rows))) - {made["notebook_sha256"]})
    if others:
        problems.append(f"{table} has rows made from another notebook (sha256 {others}): {again}")
    if UNKNOWN_COMMIT in made["git_commits"]:
        problems.append(f"{table} has points run outside a git checkout (commit {UNKNOWN_COMMIT}): {again}")
    return problems
