"""Low-FPR honesty: a TPR@FPR figure resting on fewer than 10 expected false positives is flagged and
carries its Clopper-Pearson interval; reports print the interval instead of a bare number."""

from __future__ import annotations

import numpy as np
import pytest

from qaudit.leak import metrics


@pytest.mark.parametrize("n_non_members,flagged", [(400, {0.001: True, 0.01: True, 0.1: False}),
                                                   (4000, {0.001: True, 0.01: False, 0.1: False})])
def test_flag_follows_expected_false_positives(n_non_members, flagged):
    rng = np.random.default_rng(0)
    s = np.r_[rng.normal(1, 1, 400), rng.normal(0, 1, n_non_members)]
    m = np.r_[np.ones(400, bool), np.zeros(n_non_members, bool)]
    points = metrics.summarise(s, m, n_bootstrap=50)["operating_points"]
    n_test = n_non_members // 2
    for fpr, want in flagged.items():
        p = points[metrics.fpr_key(fpr)]
        assert p["expected_false_positives"] == pytest.approx(fpr * n_test)
        assert p["flagged"] is want
        lo, hi = p["tpr_ci"]
        assert lo <= p["tpr"] <= hi
        text = metrics.low_fpr_text(p)
        assert ("unreliable" in text) is want and (f"[{lo:.3f}, {hi:.3f}]" in text) is want


def test_interval_matches_clopper_pearson():
    out = metrics.low_fpr_flag(0.001, 500, 0.25, 200)
    lo, hi = metrics.clopper_pearson(50, 200)
    assert out["flagged"] and out["tpr_ci"] == [pytest.approx(float(lo)), pytest.approx(float(hi))]
    assert out["expected_false_positives"] == pytest.approx(0.5)
