"""Sweeps on workers that share nothing with the client, and workers killed in the middle of a point."""

import os
import signal
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from implicit_bias.sweep import load_spec, point_id, run_sweep

# A point that reads a file relative to its folder (it must travel with it) and, when given a marker path,
# says which processes run the first point to start: its worker (the kernel's parent) and its kernel.
POINT = """---
kernelspec: {display_name: Python 3, language: python, name: python3}
---

```{code-cell} ipython3
:tags: [parameters]

a = 1
pause = 0.0
marker = ""
metrics_path = None
```

```{code-cell} ipython3
import os
import time
from pathlib import Path

from implicit_bias.sweep import record_metrics

factor = float(Path("data/factor.txt").read_text())
if marker and not os.path.exists(marker):
    Path(f"{marker}.{os.getpid()}").write_text(f"{os.getppid()} {os.getpid()}")
    os.replace(f"{marker}.{os.getpid()}", marker)
time.sleep(pause)
record_metrics(metrics_path, product=a * factor)
```
"""


def client_folder(tmp_path: Path, **parameters) -> Path:
    """The client's side: the point notebook, its data file and a spec; returns the spec's path."""
    folder = tmp_path / "client"
    (folder / "data").mkdir(parents=True)
    (folder / "point.md").write_text(POINT)
    (folder / "data" / "factor.txt").write_text("2.5")
    fixed = ", ".join(f"{k}: {v!r}" for k, v in parameters.items())
    spec = folder / "spec.yaml"
    spec.write_text(f"notebook: point.md\noutput: out\nfiles: [data]\nparameters: {{{fixed}}}\ngrid: {{a: [1, 2]}}\n")
    return spec


def comparable(table_csv: Path) -> pd.DataFrame:
    """A sweep table without what legitimately differs run to run (the wall time), in a fixed row order."""
    return pd.read_csv(table_csv).drop(columns=["wall_time_s"]).sort_values("id").reset_index(drop=True)


def kill_worker_of_first_point(marker: Path, killed: list[int]) -> None:
    """Wait until a point says which worker runs it, then SIGKILL that worker process (not its kernel)."""
    deadline = time.time() + 120
    while time.time() < deadline and not marker.exists():
        time.sleep(0.05)
    worker, kernel = map(int, marker.read_text().split())
    assert worker not in (os.getpid(), os.getppid())
    os.kill(worker, signal.SIGKILL)
    killed.extend([worker, kernel])


def _isolate(workdir: str, forbidden: str) -> None:
    """On a Dask worker: move to ``workdir`` and fail any access to the client's folder (an audit hook)."""
    os.chdir(workdir)
    touched = sys.touched_client_folder = []  # the hook's list lives in the worker process, read back later

    def hook(event: str, args: tuple) -> None:
        if (
            event in ("open", "os.mkdir", "os.rename", "os.remove", "os.listdir", "os.scandir")
            and args
            and isinstance(args[0], (str, bytes, os.PathLike))
            and os.path.abspath(os.fsdecode(args[0])).startswith(forbidden)
        ):
            touched.append(f"{event} {os.fsdecode(args[0])}")
            raise PermissionError(f"a worker touched the client's folder: {event} {args[0]}")

    sys.addaudithook(hook)


def _forget() -> None:
    """On a Dask worker: clear the list of accesses (after the guard's own check)."""
    sys.touched_client_folder.clear()


def _touched() -> list[str]:
    """On a Dask worker: what it tried to access in the client's folder."""
    return sys.touched_client_folder


@pytest.fixture
def cluster():
    """A local Dask cluster of two worker processes, one point at a time each."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c,
        distributed.Client(c) as client,
    ):
        yield c, client


def test_cluster_workers_never_touch_the_client_folder_and_the_table_is_complete(tmp_path, cluster):
    import cloudpickle

    local, client = cluster
    spec_path = client_folder(tmp_path)
    (tmp_path / "worker").mkdir()
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    client.run(_isolate, str(tmp_path / "worker"), str(tmp_path / "client"))
    with pytest.raises(PermissionError, match="a worker touched the client's folder"):  # the guard works
        client.submit(Path.read_text, spec_path, pure=False).result()
    client.run(_forget)
    spec = load_spec(spec_path)
    summary = run_sweep(spec, scheduler=local.scheduler_address, progress=False)
    assert client.run(_touched) == {w: [] for w in client.scheduler_info()["workers"]}
    assert len(summary.ran) == 2 and summary.failed == []
    table = pd.read_csv(summary.table).sort_values("a")
    assert table.status.tolist() == ["ok"] * 2 and table["product"].tolist() == [2.5, 5.0]
    for point in spec.points():  # the executed notebooks came back; the worker never saw the client's paths
        executed = (spec.output / "runs" / f"{point_id(point)}.ipynb").read_text()
        assert "record_metrics" in executed and str(tmp_path / "client") not in executed


def test_a_cluster_worker_killed_mid_point_loses_nothing(tmp_path, cluster):
    local, _ = cluster
    marker = tmp_path / "marker"
    spec = load_spec(client_folder(tmp_path, pause=1.5, marker=str(marker)))
    killed: list[int] = []
    killer = threading.Thread(target=kill_worker_of_first_point, args=(marker, killed))
    killer.start()
    first = run_sweep(spec, scheduler=local.scheduler_address, progress=False)
    killer.join()
    assert killed, "no worker was killed"
    # Dask runs the lost point again on a live worker; were it given up, the point would be recorded failed
    # with the cause, and the resume below would run it.
    second = run_sweep(spec, scheduler=local.scheduler_address, progress=False)
    assert sorted(first.ran + second.ran) == sorted(point_id(p) for p in spec.points())
    table = comparable(second.table)
    assert table.status.tolist() == ["ok"] * 2 and sorted(table["product"]) == [2.5, 5.0]


def test_a_pool_worker_killed_mid_point_is_recorded_and_a_resume_equals_an_uninterrupted_run(tmp_path):
    marker = tmp_path / "marker"
    spec = load_spec(client_folder(tmp_path, pause=1.0, marker=str(marker)))
    killed: list[int] = []
    killer = threading.Thread(target=kill_worker_of_first_point, args=(marker, killed))
    killer.start()
    first = run_sweep(spec, workers=2, progress=False)
    killer.join()
    assert killed and first.failed, "the killed worker's point must be recorded as failed"
    failed = pd.read_csv(first.table).query("status == 'failed'")
    assert failed.error.str.contains("the worker running this point did not return: BrokenProcessPool").all()
    second = run_sweep(spec, workers=2, progress=False)
    assert sorted(second.ran) == sorted(first.failed) and second.failed == []
    reference = run_sweep(replace(spec, output=tmp_path / "reference"), workers=2, progress=False)
    pd.testing.assert_frame_equal(comparable(second.table), comparable(reference.table))
