"""The power statement of a PASS (qaudit.leak.power): the stated minimum detectable AUC is detected ~80 % of the
time."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from qaudit.leak import metrics, power


@pytest.mark.parametrize("n1,n0,hypotheses", [(100, 100, 1), (1078, 719, 5), (40, 25, 44), (200, 50, 10)])
def test_stated_power_holds_by_simulation(n1, n0, hypotheses):
    """Binormal scores with true AUC = the stated minimum detectable AUC, tested with the audit's own
    Mann-Whitney p-value at level alpha/m: rejections within the binomial 99.9 % band around 80 %.
    (A variance under the null instead of Hanley-McNeil's, or a missing 1/m, moves the rate out of it.)"""
    level = 0.05 / hypotheses
    auc = power.min_detectable_auc(n1, n0, level)
    assert auc is not None and 0.5 < auc < 1
    d = np.sqrt(2) * norm.ppf(auc)  # binormal, equal variances: AUC = Phi(d / sqrt 2)
    rng = np.random.default_rng(n1 + n0 + hypotheses)
    member = np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
    runs = 1000
    rejected = sum(metrics.auc_p_value(np.r_[rng.normal(d, 1, n1), rng.normal(0, 1, n0)], member) <= level
                   for _ in range(runs))
    band = 3.29 * np.sqrt(0.8 * 0.2 / runs)
    assert abs(rejected / runs - 0.8) <= band, (auc, rejected / runs)


def test_power_curve_is_monotone_and_sensible():
    assert power.power_at(0.5, 500, 500, 0.05) == pytest.approx(0.05, abs=0.01)  # at the null: the level
    assert power.min_detectable_auc(50, 50, 0.05) > power.min_detectable_auc(500, 500, 0.05)  # more data, smaller
    assert power.min_detectable_auc(500, 500, 0.05 / 40) > power.min_detectable_auc(500, 500, 0.05)  # more tests
    assert power.min_detectable_auc(5, 5, 0.05 / 40) is None  # 5 vs 5 cannot reach p <= 0.00125 at all
    statement = power.detectable(1078, 719, 0.05, 5)
    assert statement["level"] == pytest.approx(0.01) and power.text(statement).startswith("AUC >= 0.5")
