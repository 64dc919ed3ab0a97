"""The shared experiment pipeline and its statistics."""

import numpy as np
import pytest
import torch

from implicit_bias import alignment, experiments
from implicit_bias.network import polynomial_net


def test_wilson_interval_covers_the_proportion_and_is_honest_at_zero():
    lo, hi = experiments.wilson_interval(np.array([0, 50, 1000]), 1000)
    assert lo[0] == pytest.approx(0, abs=1e-12) and 0.003 < hi[0] < 0.005  # no error seen: still an upper bound
    assert lo[1] < 0.05 < hi[1] and hi[1] - lo[1] == pytest.approx(2 * 1.96 * np.sqrt(0.05 * 0.95 / 1000), rel=0.05)
    assert hi[2] == pytest.approx(1, abs=1e-12)


def test_fit_exponential_decay_recovers_the_rate_and_needs_two_points():
    x = np.array([4.0, 8.0, 16.0, 32.0])
    err = np.exp(0.5 - 0.3 * x)
    err[-1] = 0.0  # zeros are left out of the fit
    c, a = experiments.fit_exponential_decay(x, err)
    assert c == pytest.approx(0.3) and a == pytest.approx(0.5)
    assert experiments.fit_exponential_decay(x, np.array([0.1, 0, 0, 0])) is None


def test_train_cluster_network_fits_and_generalizes_on_an_easy_mixture():
    trained = experiments.train_cluster_network(50, 4, 8, runs=2, steps=300, n_test=500, seed=3)
    assert trained.train.n == 32 and torch.bincount(trained.train.cluster).min() == 8
    assert trained.result.history.train_acc[-1].tolist() == [1.0, 1.0]
    err = trained.test_error()
    assert err.shape == (2,) and err.max() < 0.02
    flipped = {k: -v if k == "v" else v for k, v in trained.params.items()}  # negate the outer layer
    assert np.allclose(experiments.test_error(trained.net, flipped, trained.test), 1 - err)
    assert experiments.score_error(lambda X: -trained.test.y, trained.test) == 1.0


def test_construction_over_flip_scale_is_sqrt_k_over_2_for_numbers_and_arrays():
    assert experiments.construction_over_flip_scale(4) == 1.0 and isinstance(
        experiments.construction_over_flip_scale(16), float
    )
    np.testing.assert_allclose(experiments.construction_over_flip_scale(np.array([4, 16, 25])), [1.0, 2.0, 2.5])
    with pytest.raises(ValueError, match="k must be a number of clusters"):
        experiments.construction_over_flip_scale(0)


def test_sphere_network_fits_random_labels_and_flips_at_sqrt_d_over_n():
    trained = experiments.train_sphere_network(8, 200, 16, runs=2, steps=400, seed=1)
    assert trained.train.n == 8 and trained.params["W"].shape == (2, 16, 200)
    assert trained.result.history.train_acc[-1].tolist() == [1.0, 1.0]
    assert torch.all(trained.margins(1) > 0)
    prof = experiments.vardi_flip_profile(trained)
    ratio = prof.r50 / np.sqrt(200 / 8)
    print(f"r50 / sqrt(d/n) = {ratio:.3f}")
    assert 0.7 < ratio < 1.5 and torch.all(torch.isfinite(prof.radius))
    # Every training point is within 10% of the smallest margin here, so the margin-point direction agrees.
    q = trained.margins()
    if bool(torch.all(q <= 1.1 * q.min())):
        torch.testing.assert_close(experiments.vardi_flip_profile(trained, margin_tol=0.1).radius, prof.radius)


def test_train_synthetic_batches_alphas_and_repeats_and_keeps_snapshots():
    run = experiments.train_synthetic(
        3,
        [0.0, 0.2],
        D=12,
        K=4,
        K1=2,
        n=100,
        n_test=50,
        width=8,
        epochs=4,
        repeats=2,
        batch_size=20,
        snapshot_epochs=[1, 3],
        seed=5,
    )
    assert run.alpha.tolist() == [0.0, 0.0, 0.2, 0.2] and run.repeat.tolist() == [0, 1, 0, 1]
    assert [e for e, _ in run.snapshots] == [0, 1, 3, 4]
    assert run.params["W"].shape == (4, 8, 12)
    # Within a repeat alpha is the only difference: same clusters, same initialization.
    assert torch.equal(run.train[0].cluster, run.train[2].cluster)
    torch.testing.assert_close(run.snapshots[0][1]["W"][0], run.snapshots[0][1]["W"][2])
    assert np.all(np.diff(run.history.step) > 0) and run.history.step[-1] == 4 * (100 // 20)
    assert run.test_accuracy().shape == (4,)
    ph = alignment.phases(run.net, run.snapshots, run.mixtures[1], run=1)
    assert ph.epoch.tolist() == [0, 1, 3, 4] and ph.milestones()[0] == 0 and ph.milestones()[-1] == 3


@pytest.mark.parametrize("p", [1.0, 3.0])
def test_centred_score_is_one_homogeneous_around_the_centre_and_sums_its_features(p):
    net = polynomial_net(6, 5, p, bias=False)
    params = net.init(runs=1, scale=1.0, seed=2)
    centre = torch.linspace(0, 1, 6)
    score = experiments.CentredScore(net, params, centre)
    Z = torch.randn(10, 6, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(score(centre + 2.5 * Z), 2.5 * score(centre + Z))
    torch.testing.assert_close(score.features(centre + Z) @ params["v"][0], score(centre + Z))
    assert experiments.stable_rank(torch.ones(4, 3)) == pytest.approx(1.0)
    assert experiments.stable_rank(torch.eye(5)) == pytest.approx(5.0)


def test_min_vidal_experiments_bad_inputs_name_the_parameter_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"alphas must hold at least one noise level"):
        experiments.train_synthetic(1, [])
    with pytest.raises(ValueError, match=r"snapshot_epochs must be <= epochs=3, got 5"):
        experiments.train_synthetic(1, [0.1], D=8, K=4, K1=2, n=20, epochs=3, batch_size=10, snapshot_epochs=[5])


def test_error_rate_counts_zero_and_negative_margins_along_the_last_axis():
    margins = torch.tensor([[1.0, 0.0, -2.0, 3.0], [1.0, 1.0, 1.0, -1.0]])
    torch.testing.assert_close(experiments.error_rate(margins), torch.tensor([0.5, 0.25], dtype=torch.float64))


def test_vardi_robustness_brackets_the_robust_network_and_counts_margin_points():
    res = experiments.vardi_robustness(6, 60, 12, steps=300, margin_tol=0.05, seed=1)
    assert 1 <= res.margin_points <= 6 and res.along_z.radius.shape == (6,)
    assert torch.all(res.robust_attacked >= res.certified * (1 - 1e-9))  # no attack beats the certificate
    assert torch.all(res.certified > 0)


def test_frei_robustness_compares_the_trained_network_with_a_correct_robust_one():
    res = experiments.frei_robustness(40, 4, 8, n_per_cluster=4, steps=300, n_test=60, n_attack=10, seed=2)
    assert res.error == 0.0 and res.certified.shape == (60,) and res.attacked["best"].radius.shape == (10,)
    assert torch.all(res.attacked["best"].radius >= res.certified[:10] * (1 - 1e-9))
    assert res.universal.radius.shape == (60,)


def test_synthetic_report_reads_every_measure_off_one_run():
    run = experiments.train_synthetic(
        1,
        [0.0, 0.1],
        D=12,
        K=4,
        K1=2,
        n=80,
        n_test=40,
        width=8,
        epochs=3,
        repeats=2,
        batch_size=20,
        snapshot_epochs=[1],
        seed=3,
    )
    eps = np.array([0.0, 0.3, 0.6])
    report = experiments.synthetic_report(run, n_attack=10, eps=eps, pgd_iterations=5, seed=0)
    assert report.sup.shape == (2, 2) and report.cosines.shape == (8, 6) and sorted(report.snapshots) == [0, 1, 3]
    np.testing.assert_array_equal(report.curves.eps, eps)
    assert report.curves.flipped["PGD on exp loss (theirs)"].shape == (3, 10)
    assert report.test_acc == run.test_accuracy().min() and report.phases.epoch.tolist() == [0, 1, 3]


def test_digits_report_trains_and_attacks_in_both_norms():
    from implicit_bias.data import even_odd

    digits = even_odd("digits", seed=0)
    rep = experiments.digits_report(
        3, digits, linf_eps=[0.0, 0.05], l2_eps=[0.0, 0.5], apgd_iterations=2, width=8, epochs=1, record_every=1
    )
    assert rep.fit.epoch.tolist() == [0, 1] and rep.linf.accuracy().shape == (2,) and rep.l2.accuracy().shape == (2,)
    # Radius 0 counts only the misclassified points: the clean accuracy of the last record.
    assert rep.linf.at(0.0) == pytest.approx(rep.fit.test_acc[-1])
