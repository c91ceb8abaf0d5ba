"""Coverage of the AUC intervals (docs/statistics.md §2, §3; issue 25).

Binormal scores (members N(d, 1), non-members N(0, 1)) have the known AUC Phi(d / sqrt 2). The default run
checks a few settings with a few hundred samples each and shows, on the same draws, that the old
intervals (DeLong's Wald interval, the slice interval before issue 25) fail the same check -- so the
check can fail. The slow versions check the whole grid of the issue's floors with thousands of samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtri
from scipy.stats import binom

from qaudit.leak import metrics


def _sample(rng: np.random.Generator, n1: int, n0: int, auc: float) -> tuple[np.ndarray, np.ndarray]:
    d = np.sqrt(2.0) * ndtri(auc)
    return np.r_[rng.normal(d, 1, n1), rng.normal(0, 1, n0)], np.r_[np.ones(n1, bool), np.zeros(n0, bool)]


def _coverage(method, n: int, auc: float, reps: int, level: float, seed: int) -> int:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        s, m = _sample(rng, n, n, auc)
        lo, hi = method(s, m, level)
        hits += lo <= auc <= hi
    return hits


def _family_coverage(method, families: int, cells: int, seed: int) -> int:
    """Families of *cells* independent slice cells (5..500 per side, AUC 0.5..0.95), each interval at
    the Bonferroni level 1 - 0.05 / cells: how many families have every interval covering."""
    rng = np.random.default_rng(seed)
    sizes, aucs = np.array([5, 10, 20, 50, 100, 200, 500]), np.array([0.5, 0.7, 0.8, 0.9, 0.95])
    level, full = 1 - 0.05 / cells, 0
    for _ in range(families):
        ok = True
        for _ in range(cells):
            n1, n0, a = int(rng.choice(sizes)), int(rng.choice(sizes)), float(rng.choice(aucs))
            d = np.sqrt(2.0) * ndtri(a)
            s, m = np.r_[rng.normal(d, 1, n1), rng.normal(0, 1, n0)], np.r_[np.ones(n1, bool), np.zeros(n0, bool)]
            lo, hi = method(s, m, level)
            ok = ok and lo <= a <= hi
        full += ok
    return full


def test_score_interval_ends_match_a_grid_search():
    """The quartic's roots are the ends of {theta: (value - theta)^2 <= z^2 V(theta)} around the value,
    found independently on a fine grid."""
    rng = np.random.default_rng(0)
    grid = np.linspace(0, 1, 100_001)
    for _ in range(60):
        n1, n0 = (int(v) for v in rng.integers(2, 400, 2))
        value = float(rng.choice([rng.random(), 0.0, 1.0, 0.5]))
        z = float(ndtri(0.5 + rng.choice([0.95, 0.99875]) / 2))
        lo, hi = metrics._newcombe_score(value, n1, n0, z)
        inside = (value - grid) ** 2 <= z * z * metrics._newcombe_variance(grid, n1, n0)
        i = int(round(value * 100_000))
        outside = np.flatnonzero(~inside)
        j = int(outside[outside < i].max()) + 1 if (outside < i).any() else 0
        k = int(outside[outside > i].min()) - 1 if (outside > i).any() else 100_000
        assert lo == pytest.approx(grid[j], abs=2e-5) and hi == pytest.approx(grid[k], abs=2e-5)


def test_no_zero_width_interval_from_finite_data():
    """A perfectly separated 5-vs-5 slice: DeLong's variance is 0 there (its Wald interval is (1, 1));
    the reported interval reaches down. At 95 % it still excludes 0.5, as the exact Mann-Whitney test
    does (p = 1/252); at a Bonferroni level for 40 cells (p 0.004 > 0.05/40) it does not."""
    s, m = np.r_[np.ones(5), np.zeros(5)], np.r_[np.ones(5, bool), np.zeros(5, bool)]
    assert metrics.delong_ci(s, m, 0.95) == (1.0, 1.0)
    lo, hi = metrics.auc_interval(s, m, 0.95)
    assert hi == 1.0 and 0.5 < lo < 0.9
    lo, hi = metrics.auc_interval(s, m, 1 - 0.05 / 40)
    assert hi == 1.0 and lo < 0.5
    lo, hi = metrics.auc_interval(-s, m, 0.95)
    assert lo == 0.0 and 0.1 < hi < 0.5
    lo, hi = metrics.auc_interval(np.zeros(10), m, 0.95)  # constant scores: AUC 0.5, DeLong variance 0
    assert lo < 0.5 < hi and hi - lo > 0.3
    with pytest.raises(Exception, match="level"):
        metrics.auc_interval(s, m, 1.0)


def test_interval_contains_estimate_and_narrows_with_n():
    rng = np.random.default_rng(1)
    widths = []
    for n in (20, 200, 2000):
        s, m = _sample(rng, n, n, 0.8)
        lo, hi = metrics.auc_interval(s, m)
        assert lo < metrics.auc(s, m) < hi
        widths.append(hi - lo)
    assert widths[0] > widths[1] > widths[2]
    # at large n and moderate AUC it is DeLong's interval (the hull adds almost nothing)
    s, m = _sample(rng, 1000, 800, 0.7)
    lo, hi = metrics.auc_interval(s, m)
    dlo, dhi = metrics.delong_ci(s, m)
    assert lo == pytest.approx(dlo, abs=0.004) and hi == pytest.approx(dhi, abs=0.004)


@pytest.mark.parametrize(("n", "auc"), [(20, 0.5), (20, 0.96), (50, 0.96), (200, 0.9), (1000, 0.96)])
def test_overall_interval_covers(n, auc):
    """250 samples per setting: the 95 % interval covers at least as often as a 94 % interval would
    within its binomial 99.9 % band; DeLong's Wald interval on the same draws does not at high AUC and
    small n (measured 80 % at n = 20, AUC 0.96) -- the check has power."""
    reps = 250
    floor = binom.ppf(0.001, reps, 0.94)
    covered = _coverage(metrics.auc_interval, n, auc, reps, 0.95, seed=n)
    assert covered >= floor, covered / reps
    if (n, auc) == (20, 0.96):
        assert _coverage(metrics.delong_ci, n, auc, reps, 0.95, seed=n) < floor


def test_slice_intervals_cover_simultaneously():
    """60 families of 12 slice cells at 1 - 0.05/12: every interval covers in at least 95 % of families
    (within the binomial 99.9 % band); the Bonferroni-DeLong intervals on the same draws do not."""
    families, cells = 60, 12
    floor = binom.ppf(0.001, families, 0.95)
    assert _family_coverage(metrics.auc_interval, families, cells, seed=3) >= floor
    assert _family_coverage(metrics.delong_ci, families, cells, seed=3) < floor


@pytest.mark.slow
@pytest.mark.parametrize("n", [20, 50, 100, 200, 500, 1000])
def test_overall_interval_covers_the_whole_grid(n):
    """The issue's floor: >= 94 % at n = 20..1000 per side and AUC 0.5..0.96 (2000 samples each; a true
    94 % falls below 93 % less than once in 100 settings)."""
    for auc in (0.5, 0.6, 0.7, 0.8, 0.9, 0.96):
        covered = _coverage(metrics.auc_interval, n, auc, 2000, 0.95, seed=n + int(auc * 100))
        assert covered / 2000 >= 0.93, (n, auc, covered / 2000)


@pytest.mark.slow
def test_slice_intervals_cover_simultaneously_at_scale():
    """500 families of 40 cells (5..500 per side, AUC 0.5..0.95), every cell at 1 - 0.05/40: at least
    95 % of families fully covered, within binomial noise (measured in benchmarks/intervals.py)."""
    families = 500
    assert _family_coverage(metrics.auc_interval, families, 40, seed=11) >= binom.ppf(0.01, families, 0.95)
