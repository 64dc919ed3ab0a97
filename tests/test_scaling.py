"""Power-law fits with bootstrap intervals over seeds, and the claims ledger's values at sweep scale."""

import ast
import shutil
from pathlib import Path

import jupytext
import nbformat
import numpy as np
import pandas as pd
import pytest

from implicit_bias import scaling
from implicit_bias.scaling import by_seed, fit_power_law

ROOT = Path(__file__).resolve().parents[1]


def table(noise: float, seeds: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    x = np.repeat([4.0, 16.0, 64.0, 256.0], seeds)
    seed = np.tile(np.arange(seeds), 4)
    return pd.DataFrame({"x": x, "seed": seed, "y": 2.0 * x**0.5 * np.exp(noise * rng.standard_normal(len(x)))})


def test_recovers_exponent_and_prefactor_exactly_without_noise():
    law = fit_power_law(table(0.0), "x", "y")
    assert law.exponent == pytest.approx(0.5) and law.prefactor == pytest.approx(2.0)
    assert law.high - law.low < 1e-9 and law.low - 1e-9 <= 0.5 <= law.high + 1e-9
    assert law(np.array([9.0]))[0] == pytest.approx(6.0)


def test_interval_widens_with_noise_and_covers_the_truth():
    law = fit_power_law(table(0.05), "x", "y", boot=500)
    assert 0.0 < law.high - law.low < 0.1 and law.low <= 0.5 <= law.high
    assert not law.low <= 0.7 <= law.high


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="column 'z' is not in the table"):
        fit_power_law(table(0.0), "x", "z")
    bad = table(0.0)
    bad.loc[0, "y"] = -1
    with pytest.raises(ValueError, match="needs 'x' and 'y' > 0"):
        fit_power_law(bad, "x", "y")
    with pytest.raises(ValueError, match="at least two distinct values"):
        fit_power_law(table(0.0)[lambda t: t.x == 4.0], "x", "y")
    with pytest.raises(ValueError, match="level must be in \\(0, 1\\), got 1.5"):
        fit_power_law(table(0.0), "x", "y", level=1.5)


def test_by_seed_lays_out_one_column_per_seed_in_x_order():
    t = table(0.0, seeds=3).sample(frac=1.0, random_state=0)  # shuffled rows
    xs, ys = by_seed(t, "x", "y")
    assert xs.tolist() == [4.0, 16.0, 64.0, 256.0] and ys.shape == (4, 3)
    assert np.allclose(ys, 2.0 * xs[:, None] ** 0.5)


def test_by_seed_refuses_repeats_and_holes():
    t = table(0.0, seeds=3)
    with pytest.raises(ValueError, match=r"repeated \('x', 'seed'\) pairs"):
        by_seed(pd.concat([t, t.iloc[:1]]), "x", "y")
    with pytest.raises(ValueError, match="the grid is incomplete"):
        by_seed(t.iloc[1:], "x", "y")
    with pytest.raises(ValueError, match="column 'q' is not in the table"):
        by_seed(t, "q", "y")


POINT = nbformat.v4.new_notebook(
    cells=[nbformat.v4.new_code_cell("d = 4\nm = 8\nseed = 0\nmetrics_path = None", metadata={"tags": ["parameters"]})]
)


def sweep_root(tmp_path, ratios=(1.0, 2.0, 4.0, 3.0)):
    """A repository root holding one committed sweep: spec, point notebook and table (d x seed, m fixed)."""
    (tmp_path / "sweeps" / "book").mkdir(parents=True)
    nbformat.write(POINT, tmp_path / "sweeps" / "point.ipynb")
    spec = "notebook: ../point.ipynb\noutput: ../results/toy\nparameters: {m: 8}\ngrid: {d: [4, 16], seed: [0, 1]}\n"
    (tmp_path / "sweeps" / "book" / "toy.yaml").write_text(spec)
    (tmp_path / "sweeps" / "results" / "toy").mkdir(parents=True)
    table = pd.DataFrame({"m": 8, "d": [4, 4, 16, 16], "seed": [0, 1, 0, 1], "ratio": ratios, "status": "ok"})
    table.to_csv(tmp_path / "sweeps" / "results" / "toy" / "table.csv", index=False)
    return str(tmp_path)


def test_sweep_value_reads_median_range_and_grid_from_the_table(tmp_path):
    root = sweep_root(tmp_path)
    value = scaling.sweep_value("toy", "ratio", root=root)
    assert (value.median, value.low, value.high, value.runs) == (2.5, 1.0, 4.0, 4)
    assert value.grid == "d ∈ {4, 16} × seed ∈ {0, 1}; m = 8"
    assert str(value) == "2.5 (range 1 to 4, 4 runs)"
    picked = scaling.sweep_value("toy", "ratio", "d >= 16", root)
    assert (picked.median, picked.low, picked.high, picked.runs) == (3.5, 3.0, 4.0, 2)
    # Another table, another value: nothing is cached or typed.
    assert scaling.sweep_value("toy", "ratio", root=sweep_root(tmp_path / "b", (5.0, 5.0, 5.0, 7.0))).median == 5.0


def test_sweep_value_refuses_what_the_table_cannot_answer(tmp_path):
    root = sweep_root(tmp_path)
    with pytest.raises(ValueError, match="column 'r50' is not in sweep 'toy'"):
        scaling.sweep_value("toy", "r50", root=root)
    with pytest.raises(ValueError, match="where='q > 1' is not a query on the columns of sweep 'toy'"):
        scaling.sweep_value("toy", "ratio", "q > 1", root)
    with pytest.raises(ValueError, match="where='d > 100' keeps no run of sweep 'toy'"):
        scaling.sweep_value("toy", "ratio", "d > 100", root)
    with pytest.raises(FileNotFoundError, match="sweep table .* not found"):
        scaling.sweep_value("other", "ratio", root=root)


def ledger_sweep_claims() -> list[dict]:
    """The arguments of every scaling.sweep_scale call in the claims ledger's code cells."""
    calls = []
    for cell in jupytext.read(ROOT / "chapters" / "claims.md").cells:
        if cell.cell_type != "code" or "scaling.sweep_scale(" not in cell.source:
            continue
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "scaling.sweep_scale":
                calls.append(ast.literal_eval(node.args[0]))
    return calls


def test_the_ledger_sweep_column_comes_from_the_committed_tables(tmp_path):
    """Every sweep value of the claims ledger is the committed table's: shift the column in a copy of the
    sweeps and the ledger's value shifts with it."""
    calls = ledger_sweep_claims()
    assert len(calls) >= 4 and all(calls), "the ledger has lost its sweep-scale tables"
    shutil.copytree(ROOT / "sweeps", tmp_path / "sweeps")
    for claims in calls:
        before = scaling.sweep_scale(claims, str(ROOT))
        for claim, (sweep, column, where) in claims.items():
            path = tmp_path / "sweeps" / "results" / sweep / "table.csv"
            table = pd.read_csv(path)
            pd.concat([table.drop(columns=column), table[column] + 10.0], axis=1).to_csv(path, index=False)
            shifted = scaling.sweep_value(sweep, column, where, str(ROOT)).median + 10.0
            after = scaling.sweep_scale(claims, str(tmp_path)).loc[claim].iloc[0]
            assert after != before.loc[claim].iloc[0] and after.startswith(f"{shifted:.3g} "), claim
            assert f"{sweep}: {column}" in before.loc[claim].iloc[1]
            table.to_csv(path, index=False)
