"""The robustness chapters' figure helpers: what they draw is the data they were given."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from implicit_bias import plots  # noqa: E402


def test_radius_cdfs_counts_unflipped_points_in_the_denominator():
    fig, ax = plt.subplots()
    plots.radius_cdfs({"a": np.array([0.5, 1.0, np.inf, 2.0])}, {"theory": 1.0}, "r", ax)
    line = ax.get_lines()[0]
    np.testing.assert_allclose(line.get_xdata(), [0.0, 0.5, 1.0, 2.0])
    np.testing.assert_allclose(line.get_ydata(), [0.0, 0.25, 0.5, 0.75])  # the inf point never counts as flipped
    assert ax.get_lines()[1].get_xdata()[0] == 1.0  # the reference line
    plt.close(fig)


def test_margin_paths_draws_medians_of_relative_margins_and_needs_r_zero():
    fig, ax = plt.subplots()
    margins = np.array([[2.0, 4.0, 1.0], [1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    plots.margin_paths(np.array([0.0, 1.0, 2.0]), {"U": margins}, "r", ax, references={"theory": 2.0})
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="radii must be a 1-D grid starting at 0"):
        plots.margin_paths(np.array([0.5, 1.0, 2.0]), {"U": margins}, "r", ax)
    plt.close(fig)


def test_measured_vs_theory_and_distance_brackets_draw_every_series():
    fig, (a, b) = plt.subplots(1, 2)
    x = np.array([10.0, 40.0, 160.0])
    plots.measured_vs_theory(x, {"m": np.sqrt(1000 / x)}, lambda n: np.sqrt(1000 / n), "theory", "n", "r", a, log=True)
    assert len(a.get_lines()) == 2 and a.get_xscale() == "log"
    np.testing.assert_allclose(a.get_lines()[1].get_ydata()[[0, -1]], np.sqrt(1000 / x[[0, -1]]))
    plots.distance_brackets(
        np.array([1.0, 2.0]), {"lower": np.array([0.5, 1.0]), "attack": np.array([1.1, np.inf])}, "exact", "measured", b
    )
    assert len(b.get_lines()) == 3 and b.get_xlim()[1] == pytest.approx(2.1)
    plt.close(fig)


def test_labelled_series_draws_seed_means_and_reference_lines():
    fig, ax = plt.subplots()
    values = np.array([[0.0, 1.0], [0.5, 0.5]])  # (T, R): two x values, two seeds
    plots.labelled_series(np.array([1.0, 3.0]), {"acc": values}, "p", "accuracy", ax, references={"theory": 0.7})
    assert ax.get_lines()[0].get_ydata()[0] == 0.7  # the reference line, drawn first
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), [0.5, 0.5])  # means over seeds
    plt.close(fig)


def test_alignment_milestones_draws_one_heat_map_per_milestone_in_one_figure():
    from implicit_bias.alignment import Phases

    phases = Phases(
        epoch=np.array([0, 5, 10, 60]),
        norm=np.array([1e-5, 6e-5, 4e-3, 5.0]),
        centre=np.array([0.1, 0.6, 0.97, 0.99]),
        class_sum=np.array([0.1, 0.2, 0.3, 0.4]),
    )
    snapshots = {e: np.full((3, 2), e / 60) for e in (0, 5, 10, 60)}
    axes = plots.alignment_milestones(phases, snapshots, ["a", "b"], "centre", "p = 3")
    assert [ax.get_title() for ax in axes] == [
        "p = 3, epoch 0, ‖W‖ = 1e-05",
        "p = 3, epoch 5, ‖W‖ = 6e-05",
        "p = 3, epoch 10, ‖W‖ = 4e-03",
        "p = 3, epoch 60, ‖W‖ = 5e+00",
    ]
    np.testing.assert_allclose(axes[2].images[0].get_array(), snapshots[10])
    assert len({ax.figure for ax in axes}) == 1 and len(axes[0].figure.axes) == 5  # four maps, one colour bar
    plt.close(axes[0].figure)
