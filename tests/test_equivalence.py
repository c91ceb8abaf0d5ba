"""The judgement's tests against retraining (qaudit/unlearn/equivalence.py): error rates on simulated data, the
paired standard errors against independent computations, and the reason line."""

from __future__ import annotations

import numpy as np
import pytest

from qaudit.leak import metrics
from qaudit.unlearn import equivalence as eq


def _simulate(rng, delta, sigma=0.02, k=5, n=400, p=0.6):
    """An unlearned accuracy whose population value is the retrains' + delta: K retrains and the unlearned
    model spread by *sigma* across seeds, each scored on n samples (paired: a shared per-sample difficulty)."""
    difficulty = rng.uniform(size=n)
    def model(shift):
        acc = np.clip(p + shift + sigma * rng.standard_normal(), 0.01, 0.99)
        return difficulty < acc  # correct on the easiest samples (+ per-model noise below)

    r = np.array([model(0.0) ^ (rng.uniform(size=n) < 0.05) for _ in range(k)])
    u = model(delta) ^ (rng.uniform(size=n) < 0.05)
    return u, r


@pytest.mark.parametrize("kind", [eq.EQUIVALENCE, eq.NON_INFERIORITY])
def test_size_at_the_margin_is_at_most_alpha(kind):
    """A model exactly one margin worse than retraining is passed at most alpha of the time (binomial CI)."""
    rng = np.random.default_rng(0)
    margin, runs, passed = 0.05, 400, 0
    for _ in range(runs):
        u, r = _simulate(rng, -margin)
        c = eq.figure_check("x", "x", kind, u.mean(), (0, 1), list(r.mean(axis=1)), eq.accuracy_se(u, r), margin)
        passed += c.passed
    low, _ = metrics.clopper_pearson(passed, runs)
    assert low <= eq.ALPHA, passed / runs


def test_power_when_the_model_is_a_retrain():
    """A model drawn like the retrains passes the equivalence test nearly always when the margin is ~5 of its SEs."""
    rng = np.random.default_rng(1)
    runs = 300
    passed = 0
    for _ in range(runs):
        u, r = _simulate(rng, 0.0, sigma=0.015)
        c = eq.figure_check("x", "x", eq.EQUIVALENCE, u.mean(), (0, 1), list(r.mean(axis=1)), eq.accuracy_se(u, r),
                            0.10)
        passed += c.passed
    assert passed / runs >= 0.95


def test_accuracy_se_is_the_paired_standard_error():
    rng = np.random.default_rng(2)
    u = rng.uniform(size=50) < 0.7
    r = rng.uniform(size=(3, 50)) < 0.6
    d = u.astype(float) - r.mean(axis=0)
    assert eq.accuracy_se(u, r) == pytest.approx(d.std(ddof=1) / np.sqrt(50))


def test_auc_difference_se_matches_a_bootstrap():
    """DeLong's SE of AUC_U - mean AUC_k against a stratified paired bootstrap of the same difference."""
    rng = np.random.default_rng(3)
    pos = np.r_[np.ones(80, bool), np.zeros(60, bool)]
    base = rng.normal(size=pos.size) + 0.5 * pos
    u = base + 0.3 * rng.normal(size=pos.size)
    rs = [base + 0.3 * rng.normal(size=pos.size) for _ in range(3)]
    se = eq.auc_difference_se(u, rs, pos)
    ip, ineg = np.flatnonzero(pos), np.flatnonzero(~pos)
    diffs = []
    for _ in range(2000):
        idx = np.r_[rng.choice(ip, ip.size), rng.choice(ineg, ineg.size)]
        m = pos[idx]
        diffs.append(metrics.auc(u[idx], m) - np.mean([metrics.auc(r[idx], m) for r in rs]))
    assert se == pytest.approx(np.std(diffs), rel=0.15)
    # one model against itself: no difference, no noise
    assert eq.auc_difference_se(u, [u], pos) == pytest.approx(0.0, abs=1e-12)


def test_spread_and_degrees_of_freedom():
    c = eq.figure_check("a", "retained accuracy", eq.NON_INFERIORITY, 0.331, (0.302, 0.36),
                        [0.57, 0.56, 0.585], 0.0, 0.10)
    s = np.std([0.57, 0.56, 0.585], ddof=1)
    assert c.se_spread == pytest.approx(s * np.sqrt(1 + 1 / 3))
    assert c.df == pytest.approx(2.0)  # spread only: K - 1
    assert not c.passed
    line = c.reason()
    assert line.startswith("retained accuracy 33.1 % [30.2, 36.0] vs retraining 57.2 ± 1.3 % (3 retrains)")
    assert "utility lost" in line
    ok = eq.figure_check("a", "forget accuracy", eq.EQUIVALENCE, 0.0, (0, 0.03), [0.0, 0.0], 0.0, 0.10)
    assert ok.passed and ok.df == float("inf")
