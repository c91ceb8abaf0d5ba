"""Metric code against hand-computed cases and independent formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from qaudit.leak import metrics
from qaudit.sdk.errors import QauditError


def test_auc_hand_computed():
    # pairs (member, non-member): (0.35,0.1)+ (0.35,0.4)- (0.8,0.1)+ (0.8,0.4)+ -> 3/4
    s = [0.1, 0.4, 0.35, 0.8]
    m = [0, 0, 1, 1]
    assert metrics.auc(s, m) == pytest.approx(0.75)
    out = metrics.summarise(s, m, seed=0, n_bootstrap=200)
    assert out["n_members"] == 2 and out["n_non_members"] == 2
    assert out["calibration_members"] == 1 and out["test_members"] == 1  # thresholds never see the test half


def test_threshold_metrics_are_chosen_on_calibration_and_evaluated_on_test():
    s = np.r_[np.arange(10, 20), np.arange(10)].astype(float)  # perfectly separated
    m = np.r_[np.ones(10, bool), np.zeros(10, bool)]
    out = metrics.summarise(s, m, seed=0, n_bootstrap=50)
    cal, test = metrics.calibration_split(m, 0)
    assert not (cal & test).any() and (cal | test).all() and cal[m].sum() == 5 and cal[~m].sum() == 5
    thr = out["threshold"]
    assert thr > s[cal & ~m].max() and thr <= s[cal & m].min()  # separates the calibration half
    assert out["advantage"] == 1.0 and out["balanced_accuracy"] == 1.0 and out["tpr@10%fpr"] == 1.0
    # the 10 %-FPR threshold admits floor(0.1 * 5) = 0 calibration non-members
    assert out["operating_points"]["tpr@10%fpr"]["threshold"] == s[cal & ~m].max()


def test_tpr_at_fpr_picks_largest_tpr_under_fpr():
    fpr = np.array([0.0, 0.0, 0.005, 0.02, 0.1, 1.0])
    tpr = np.array([0.0, 0.1, 0.3, 0.4, 0.7, 1.0])
    assert metrics.tpr_at_fpr(fpr, tpr, 0.001) == 0.1
    assert metrics.tpr_at_fpr(fpr, tpr, 0.01) == 0.3
    assert metrics.tpr_at_fpr(fpr, tpr, 0.1) == 0.7
    assert metrics.fpr_key(0.001) == "tpr@0.1%fpr" and metrics.fpr_key(0.1) == "tpr@10%fpr"


def _random_cases(seed: int, count: int):
    """Score sets with and without ties, with small and large groups (both groups non-empty)."""
    rng = np.random.default_rng(seed)
    for trial in range(count):
        n = int(rng.integers(4, 300))
        m = np.zeros(n, bool)
        m[rng.choice(n, size=int(rng.integers(1, n)), replace=False)] = True
        s = rng.integers(0, 6, n).astype(float) if trial % 2 else rng.normal(size=n) + 0.3 * m
        yield s, m


def test_numpy_roc_auc_and_p_value_equal_sklearn_and_scipy():
    """roc/auc/auc_p_value are numpy re-implementations (the leak path imports neither sklearn nor
    scipy.stats): they must give sklearn's and scipy's numbers, ties and tiny groups included."""
    from scipy.stats import mannwhitneyu
    from sklearn.metrics import roc_curve

    for s, m in _random_cases(0, 200):
        for got, want in zip(metrics.roc(s, m), roc_curve(m, s, drop_intermediate=False), strict=True):
            np.testing.assert_array_equal(got, want)
        assert metrics.auc(s, m) == pytest.approx(roc_auc_score(m, s), abs=1e-12)
        if np.ptp(s) > 0:
            want_p = mannwhitneyu(s[m], s[~m], alternative="greater").pvalue
            assert metrics.auc_p_value(s, m) == pytest.approx(want_p, abs=1e-12)


@pytest.mark.parametrize("ties", [True, False])
def test_bootstrap_aucs_from_counts_equal_brute_force(ties):
    """Each replicate's AUC from resampling counts equals roc_auc_score on the materialised resample
    (with member/non-member score ties, and without: the path that counts one insertion point)."""
    rng = np.random.default_rng(2)
    pos, neg = (rng.integers(0, 5, 30).astype(float), rng.integers(0, 5, 20).astype(float)) if ties else \
        (rng.normal(0.5, 1, 30), rng.normal(0, 1, 20))
    member_draws, non_member_draws = rng.integers(0, 30, (6, 30)), rng.integers(0, 20, (6, 20))
    got = metrics._bootstrap_aucs(pos, neg, member_draws, non_member_draws)
    for i in range(6):
        s = np.r_[pos[member_draws[i]], neg[non_member_draws[i]]]
        m = np.r_[np.ones(pos.size, bool), np.zeros(neg.size, bool)]
        assert got[i] == pytest.approx(roc_auc_score(m, s), abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 1.0])
def test_bootstrap_interval_covers_the_true_auc_at_its_level(shift):
    """Binormal scores (members N(shift, 1), non-members N(0, 1)) have AUC = Phi(shift / sqrt 2).
    300 simulated audits: the 95 % interval covers it within the binomial 99.9 % band around 95 %
    (a 90 % interval, an unstratified or mis-scaled bootstrap falls outside; measured 94-95 %)."""
    from scipy.stats import binom, norm

    rng = np.random.default_rng(7)
    runs, covered, true = 300, 0, norm.cdf(shift / math.sqrt(2))
    m = np.r_[np.ones(120, bool), np.zeros(80, bool)]
    for run in range(runs):
        s = np.r_[rng.normal(shift, 1, 120), rng.normal(0, 1, 80)]
        lo, hi = metrics.auc_ci(s, m, seed=run, n_bootstrap=400)
        covered += lo <= true <= hi
    assert binom.ppf(0.001, runs, 0.95) <= covered <= binom.ppf(0.999, runs, 0.95), covered / runs


def test_clopper_pearson_closed_forms():
    # k = 0: upper = 1 - (alpha/2)^(1/n); k = n: lower = (alpha/2)^(1/n)
    lo, hi = metrics.clopper_pearson(np.array([0, 10]), 10, alpha=0.05)
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert hi[0] == pytest.approx(1 - 0.025 ** 0.1, rel=1e-10)
    assert lo[1] == pytest.approx(0.025 ** 0.1, rel=1e-10)
    # k = 5 of 10 -- textbook value (0.187086, 0.812914)
    lo, hi = metrics.clopper_pearson(5, 10)
    assert float(lo) == pytest.approx(0.187086, abs=1e-6) and float(hi) == pytest.approx(0.812914, abs=1e-6)


def test_distinguishability_perfect_separation_hand_computed():
    n = 100
    s = np.r_[np.ones(n), np.zeros(n)]
    m = np.r_[np.ones(n, bool), np.zeros(n, bool)]
    out = metrics.summarise(s, m, 0, n_bootstrap=50, delta=1e-5, alpha=0.05)
    bound = 1 - 0.025 ** (1 / (n // 2))  # one-sided 97.5 % CP upper bound for 0 errors out of the 50 test samples
    want = math.log((1 - 1e-5 - bound) / bound)
    assert out["distinguishability"] == pytest.approx(want, rel=1e-9)
    assert out["distinguishability_confidence"] == 0.95 and out["delta"] == 1e-5


def test_distinguishability_zero_for_useless_attack():
    s = np.zeros(200)
    m = np.r_[np.ones(100, bool), np.zeros(100, bool)]
    out = metrics.summarise(s, m, 0, n_bootstrap=50)
    assert out["distinguishability"] == 0.0 and out["auc"] == 0.5 and out["advantage"] == 0.0


def test_bootstrap_ci_seeded_and_about_the_right_width():
    rng = np.random.default_rng(0)
    n1, n0 = 1000, 500
    s = np.r_[rng.normal(0.8, 1, n1), rng.normal(0, 1, n0)]
    m = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    a = metrics.auc(s, m)
    lo, hi = metrics.auc_ci(s, m, seed=3)
    assert (lo, hi) == metrics.auc_ci(s, m, seed=3)
    assert lo < a < hi
    # Hanley & McNeil (1982) standard error, an independent formula
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    se = math.sqrt((a * (1 - a) + (n1 - 1) * (q1 - a * a) + (n0 - 1) * (q2 - a * a)) / (n1 * n0))
    assert (hi - lo) == pytest.approx(2 * 1.96 * se, rel=0.2)


def test_random_scores_give_chance_metrics():
    rng = np.random.default_rng(5)
    s = rng.normal(size=1500)
    m = np.r_[np.ones(1000, bool), np.zeros(500, bool)]
    out = metrics.summarise(s, m, seed=0)
    assert out["auc_low"] < 0.5 < out["auc_high"]
    assert out["distinguishability"] < 0.5


def test_null_scores_rarely_reject_or_bound_distinguishability():
    """Under the null (members and non-members exchangeable) the one-sided test rejects at about its
    level and the held-out distinguishability bound is positive at most about beta of the time."""
    from scipy.stats import binom

    rng = np.random.default_rng(11)
    runs, rejected, positive = 400, 0, 0
    m = np.r_[np.ones(120, bool), np.zeros(80, bool)]
    for _ in range(runs):
        out = metrics.summarise(rng.normal(size=200), m, seed=int(rng.integers(1 << 30)), n_bootstrap=10)
        rejected += out["p_value"] <= 0.05
        positive += out["distinguishability"] > 0
    limit = binom.ppf(0.999, runs, 0.05)  # a correct 5 % test exceeds this once in 1000 suites
    assert rejected <= limit and positive <= limit, (rejected, positive)


def test_p_value_and_distinguishability_detect_a_real_signal():
    rng = np.random.default_rng(3)
    m = np.r_[np.ones(200, bool), np.zeros(200, bool)]
    s = np.r_[rng.normal(2.0, 1, 200), rng.normal(0, 1, 200)]
    out = metrics.summarise(s, m, seed=0, n_bootstrap=100)
    assert out["p_value"] < 1e-10 and out["distinguishability"] > 0.5


def test_holm_hand_computed():
    p = {"a": 0.01, "b": 0.04, "c": 0.03, "d": 0.2}
    out = metrics.holm(p, alpha=0.05)
    # sorted: a .01*4=.04 (reject: .01 <= .0125), c .03*3=.09 (.03 > .05/3: stop), b, d
    assert out["a"] == (pytest.approx(0.04), True)
    assert out["c"] == (pytest.approx(0.09), False)
    assert out["b"] == (pytest.approx(0.09), False)  # monotone: max(.04*2=.08, .09)
    assert out["d"] == (pytest.approx(0.2), False)


def test_delong_interval_matches_bootstrap_width():
    rng = np.random.default_rng(4)
    m = np.r_[np.ones(300, bool), np.zeros(200, bool)]
    s = np.r_[rng.normal(0.5, 1, 300), rng.normal(0, 1, 200)]
    lo, hi = metrics.delong_ci(s, m, 0.95)
    blo, bhi = metrics.auc_ci(s, m, seed=0, n_bootstrap=2000)
    assert lo < metrics.auc(s, m) < hi
    assert (hi - lo) == pytest.approx(bhi - blo, rel=0.15)
    wide = metrics.delong_ci(s, m, 1 - 0.05 / 40)
    assert wide[0] < lo and wide[1] > hi


def test_curve_points_keep_endpoints_and_monotone():
    rng = np.random.default_rng(2)
    s = rng.normal(size=3000)
    m = rng.random(3000) < 0.5
    fpr, tpr, _ = metrics.roc(s, m)
    f, t = metrics.curve_points(fpr, tpr, max_points=100)
    assert len(f) <= 100 and f[0] == 0.0 and f[-1] == 1.0
    assert np.all(np.diff(f) >= 0) and np.all(np.diff(t) >= 0)


def test_bad_inputs():
    with pytest.raises(QauditError):
        metrics.summarise([0.1, 0.2], [1, 1])
    with pytest.raises(QauditError):
        metrics.summarise([0.1, float("nan")], [1, 0])
    with pytest.raises(QauditError):
        metrics.summarise([0.1, 0.2, 0.3], [1, 0])
