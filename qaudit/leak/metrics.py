"""Membership-inference metrics computed from scores, the same way for every attack.

Inputs everywhere: ``scores`` (n,) float, higher = "more likely a member", and
``is_member`` (n,) bool ground truth. The scores must be *held out*: computed by an
attack that was not fitted on these samples (``qaudit.leak.audit`` cross-fits).
ROC curves and AUCs are computed in numpy (the same arrays as ``sklearn.metrics``, tested), so an
audit imports neither scikit-learn nor ``scipy.stats``; nothing here knows which attack produced the
scores. Every convention below is written out, with citations, in
``docs/statistics.md``.

Threshold-free:

* ``auc`` -- area under the ROC curve; ``auc_low``/``auc_high`` its 95 % interval
  (:func:`auc_interval`: the hull of the logit-DeLong and Newcombe's score interval, coverage
  simulated in docs/statistics.md); ``auc_bootstrap`` the seeded stratified percentile-bootstrap
  interval, for comparison only.
* ``p_value`` -- one-sided Mann-Whitney U test of "no membership signal"
  (AUC = 0.5) against AUC > 0.5 (the AUC *is* the normalised U statistic).

Threshold-based figures are *held out too*: the scored samples are split
(stratified, seeded) into a calibration half, on which every threshold is chosen,
and a test half, on which it is evaluated:

* ``tpr@X%fpr`` -- the threshold admits at most X % of the calibration
  non-members (Carlini et al. 2022's low-FPR regime); the reported TPR and the
  realised FPR (``operating_points``) are the test half's, with the number of
  test false positives it rests on, a Clopper-Pearson 95 % interval of the TPR
  (``tpr_ci``) and ``flagged`` = True when the rate rests on fewer than
  :data:`MIN_EXPECTED_FALSE_POSITIVES` expected false positives (target FPR x test
  non-members): reports then print the interval and the flag, not a bare number.
* ``balanced_accuracy`` (TPR + TNR) / 2 and ``advantage`` TPR - FPR (Yeom et al.
  2018) at the threshold maximising TPR - FPR on the calibration half.
* ``distinguishability`` -- how well the attack's fixed threshold tells this model's
  members from its non-members, on the epsilon scale: for a threshold and direction
  fixed on the calibration half, one-sided Clopper-Pearson upper bounds FPR+ and FNR+
  on the test half, each at 1 - beta/2, give with confidence >= 1 - beta
  ``log((1 - delta - FPR) / FNR) >= log((1 - delta - FPR+) / FNR+)`` (or the mirrored
  form) for the rates over this model's member and non-member populations. It is *not*
  a lower bound on a DP epsilon (one fixed training run, membership not randomised, no
  correction across attacks): DP claims are ``qaudit audit-dp``'s (docs/statistics.md §5).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError

#: Low-FPR operating points reported for every attack (fractions).
FPR_POINTS = (0.001, 0.01, 0.1)

#: Gateable metric names, in report order. Higher always means more leakage.
METRICS = ("auc", "auc_low", "auc_high", "tpr@0.1%fpr", "tpr@1%fpr", "tpr@10%fpr",
           "balanced_accuracy", "advantage", "distinguishability")

DEFAULT_BOOTSTRAP = 1000
MAX_BOOTSTRAP = 100_000
#: Family-wise error rate of the LEAKS verdict and 1 - confidence of the distinguishability bound.
DEFAULT_ALPHA = 0.05
#: delta in the distinguishability figure log((1 - delta - FPR+) / FNR+).
DEFAULT_DELTA = 1e-5
#: Share of the scored samples used to choose thresholds (the rest evaluates them).
CALIBRATION_FRACTION = 0.5
#: A TPR@FPR figure whose FPR rests on fewer expected false positives than this (target FPR x
#: non-members) is flagged as unreliable and shown with its interval (docs/statistics.md).
MIN_EXPECTED_FALSE_POSITIVES = 10.0


def fpr_key(fpr: float) -> str:
    """Metric name for the TPR at FPR *fpr* (a fraction): ``0.01 -> "tpr@1%fpr"``."""
    pct = fpr * 100
    text = f"{pct:g}"
    return f"tpr@{text}%fpr"


def _check(scores: Any, is_member: Any) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(scores, dtype=np.float64).ravel()
    m = np.asarray(is_member).ravel().astype(bool)
    if s.shape != m.shape:
        raise QauditError(f"{s.size} scores but {m.size} membership labels")
    if not np.all(np.isfinite(s)):
        raise QauditError("membership scores contain NaN or infinite values")
    if m.all() or not m.any():
        raise QauditError("membership metrics need both members and non-members")
    return s, m


def _average_ranks(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average ranks (1-based, ties share their mean rank) of the 1-d *s* and the tie-group sizes,
    as ``scipy.stats.rankdata(s)`` -- in numpy, so the leak path does not import ``scipy.stats``."""
    order = np.argsort(s, kind="mergesort")
    ordered = s[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    sizes = np.diff(np.r_[starts, s.size])
    mean_rank = starts + (sizes + 1) / 2.0  # ranks starts+1 .. starts+sizes
    ranks = np.empty(s.size)
    ranks[order] = np.repeat(mean_rank, sizes)
    return ranks, sizes


def roc(scores: Any, is_member: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)``: every ROC point, the first threshold ``inf``; the same arrays as
    ``sklearn.metrics.roc_curve(..., drop_intermediate=False)`` (checked in tests/test_metrics.py),
    written in numpy because importing ``sklearn.metrics`` costs more than a whole audit's metrics."""
    s, m = _check(scores, is_member)
    order = np.argsort(s, kind="mergesort")[::-1]
    ordered, labels = s[order], m[order]
    last = np.r_[np.flatnonzero(np.diff(ordered)), s.size - 1]  # last index of each distinct score
    tps = np.cumsum(labels)[last]
    fps = 1 + last - tps
    tps, fps = np.r_[0, tps], np.r_[0, fps]
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, ordered[last]]


def auc(scores: Any, is_member: Any) -> float:
    """ROC AUC, ties counted 1/2: the normalised Mann-Whitney U (equal to ``sklearn.metrics.roc_auc_score``)."""
    s, m = _check(scores, is_member)
    ranks, _ = _average_ranks(s)
    n1 = int(m.sum())
    n0 = s.size - n1
    return float((ranks[m].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _row_bincount(values: np.ndarray, size: int) -> np.ndarray:
    """(b, size) int64: per row of *values* (b, k), how often each of 0..size-1 occurs."""
    b = values.shape[0]
    return np.bincount((values + size * np.arange(b)[:, None]).ravel(), minlength=b * size).reshape(b, size)


def _bootstrap_aucs(pos: np.ndarray, neg: np.ndarray, member_draws: np.ndarray,
                    non_member_draws: np.ndarray) -> np.ndarray:
    """AUC of each bootstrap resample: row r resamples the members *pos* at indices ``member_draws[r]``
    and the non-members *neg* at ``non_member_draws[r]``.

    AUC = sum_ij w_i v_j [1(pos_i > neg_j) + 1/2 1(pos_i = neg_j)] / (n1 n0) with w, v the resampling
    counts. With the non-members sorted, C[k] = how many resampled non-members lie among the k
    smallest; member i beats C[lo_i] and ties C[hi_i] - C[lo_i] (lo/hi: its left/right insertion
    points), so 2 n1 n0 AUC = sum_k C[k] X[k] with X[k] = how many drawn members have lo = k, plus how
    many have hi = k. Both are bincounts, so a replicate costs O(n1 + n0) instead of a sort; the sums
    are exact integers up to the final division."""
    order = np.argsort(neg, kind="mergesort")
    sorted_neg = neg[order]
    rank = np.empty(neg.size, dtype=np.int64)
    rank[order] = np.arange(neg.size)
    lo = np.searchsorted(sorted_neg, pos, side="left")
    hi = np.searchsorted(sorted_neg, pos, side="right")
    size = neg.size + 1
    ties = not np.array_equal(lo, hi)  # without member/non-member ties X = 2 x (counts by lo): half the work
    out = np.empty(member_draws.shape[0])
    for start in range(0, out.size, 128):  # blocks of rows whose counts stay in cache
        rows = slice(start, start + 128)
        drawn = member_draws[rows]
        x = _row_bincount(np.concatenate([lo[drawn], hi[drawn]], axis=1) if ties else lo[drawn], size)
        cum = np.zeros_like(x)
        np.cumsum(_row_bincount(rank[non_member_draws[rows]], neg.size), axis=1, out=cum[:, 1:])
        out[rows] = np.einsum("ij,ij->i", cum, x) / ((1.0 if ties else 0.5) * 2.0 * pos.size * neg.size)
    return out


def auc_ci(scores: Any, is_member: Any, seed: int = 0, n_bootstrap: int = DEFAULT_BOOTSTRAP,
           level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC (reported as ``auc_bootstrap`` beside the headline
    :func:`auc_interval`, for comparison: it under-covers at high AUC and small n, docs/statistics.md).

    Members and non-members are resampled separately (stratified), so every
    replicate keeps both populations at their observed sizes. Seeded. Each replicate's AUC
    is computed from its resampling counts (:func:`_bootstrap_aucs`), not by re-ranking.
    """
    s, m = _check(scores, is_member)
    rng = np.random.default_rng(seed)
    pos, neg = s[m], s[~m]
    chunk = max(1, 4_000_000 // max(1, s.size))  # the draw order (members, non-members per chunk) is fixed
    values = []
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        member_draws = rng.integers(0, pos.size, size=(b, pos.size))
        non_member_draws = rng.integers(0, neg.size, size=(b, neg.size))
        values.append(_bootstrap_aucs(pos, neg, member_draws, non_member_draws))
    boots = np.concatenate(values)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(boots, [alpha, 1 - alpha])
    return float(lo), float(hi)


def tpr_at_fpr(fpr: np.ndarray, tpr: np.ndarray, target: float) -> float:
    """Largest TPR among ROC points with FPR <= *target*."""
    ok = fpr <= target + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def clopper_pearson(k: np.ndarray | int, n: int, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided exact binomial interval ``(low, high)`` for k successes in n trials."""
    from scipy.special import betaincinv  # beta.ppf without importing scipy.stats

    k = np.asarray(k, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, betaincinv(np.maximum(k, 1e-300), n - k + 1, alpha / 2), 0.0)
        high = np.where(k < n, betaincinv(k + 1, np.maximum(n - k, 1e-300), 1 - alpha / 2), 1.0)
    return np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=1.0)


def curve_points(fpr: np.ndarray, tpr: np.ndarray, max_points: int = 200) -> tuple[list[float], list[float]]:
    """A thinned ROC curve for reports: log-spaced in FPR (keeps the low-FPR corner)."""
    if fpr.size <= max_points:
        return [float(v) for v in fpr], [float(v) for v in tpr]
    grid = np.unique(np.concatenate([[0.0], np.geomspace(max(fpr[fpr > 0].min(), 1e-6), 1.0, max_points - 1)]))
    idx = np.searchsorted(fpr, grid, side="right") - 1  # last point with fpr <= grid value
    idx = np.unique(np.clip(idx, 0, fpr.size - 1))
    return [float(v) for v in fpr[idx]], [float(v) for v in tpr[idx]]


def auc_p_value(scores: Any, is_member: Any) -> float:
    """One-sided Mann-Whitney U p-value of H0 "AUC = 0.5" against "members score higher".

    The same p-value as ``scipy.stats.mannwhitneyu(members, non_members, alternative="greater")``
    (checked in tests/test_metrics.py): the normal approximation with tie correction and continuity
    correction, in numpy; scipy's exact null distribution where scipy's "auto" picks it (both
    groups of at most 8 samples without ties)."""
    s, m = _check(scores, is_member)
    if np.ptp(s) == 0:
        return 1.0  # constant scores carry no evidence
    ranks, ties = _average_ranks(s)
    n1 = int(m.sum())
    n0 = s.size - n1
    if min(n1, n0) <= 8 and not (ties > 1).any():
        from scipy.stats import mannwhitneyu

        return float(mannwhitneyu(s[m], s[~m], alternative="greater").pvalue)  # scipy picks its exact law here
    from scipy.special import ndtr

    u = ranks[m].sum() - n1 * (n1 + 1) / 2
    n = n1 + n0
    sd = np.sqrt(n1 * n0 / 12 * ((n + 1) - np.sum(ties.astype(np.float64) ** 3 - ties) / (n * (n - 1))))
    return float(np.clip(ndtr(-(u - n1 * n0 / 2 - 0.5) / sd), 0.0, 1.0))


def _delong(s: np.ndarray, m: np.ndarray) -> tuple[float, float]:
    """(AUC, DeLong et al.'s (1988) variance estimate of it), placement values from three rankings
    (Sun & Xu 2014's O(n log n) form); ties count 1/2."""
    pos, neg = s[m], s[~m]
    n1, n0 = pos.size, neg.size
    ranks_all = _average_ranks(s)[0]
    value = (ranks_all[m].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    v10 = (ranks_all[m] - _average_ranks(pos)[0]) / n0  # placement of each member among non-members
    v01 = 1.0 - (ranks_all[~m] - _average_ranks(neg)[0]) / n1
    var = (np.var(v10, ddof=1) / n1 if n1 > 1 else 0.0) + (np.var(v01, ddof=1) / n0 if n0 > 1 else 0.0)
    return float(value), float(max(var, 0.0))


def delong_ci(scores: Any, is_member: Any, level: float = 0.95) -> tuple[float, float]:
    """Wald interval of the AUC with DeLong et al.'s (1988) variance, clipped to [0, 1]. Kept for
    comparison only: it under-covers at high AUC and in small samples and is zero-width under perfect
    separation (docs/statistics.md section 2); reports use :func:`auc_interval`."""
    from scipy.special import ndtri

    value, var = _delong(*_check(scores, is_member))
    half = float(ndtri(0.5 + level / 2) * np.sqrt(var))
    return float(max(value - half, 0.0)), float(min(value + half, 1.0))


def _newcombe_variance(theta: np.ndarray, n1: int, n0: int) -> np.ndarray:
    """Hanley & McNeil's (1982) variance of the AUC as a function of the AUC theta (their exponential
    model: Q1 = theta / (2 - theta), Q2 = 2 theta^2 / (1 + theta)) with both n1 - 1 and n0 - 1 replaced
    by N* - 1, N* = (n1 + n0) / 2 (Newcombe 2006, method 5)."""
    n_star = (n1 + n0) / 2.0
    return theta * (1 - theta) / (n1 * n0) * (1 + (n_star - 1) * ((1 - theta) / (2 - theta) + theta / (1 + theta)))


def _newcombe_score(value: float, n1: int, n0: int, z: float) -> tuple[float, float]:
    """Newcombe's (2006) method-5 score interval: the theta in [0, 1] around *value* with
    (value - theta)^2 <= z^2 V(theta), V from :func:`_newcombe_variance`. Multiplying by
    n1 n0 (1 + theta)(2 - theta) > 0 turns the boundary into the quartic
    n1 n0 (value - theta)^2 (2 + theta - theta^2) = z^2 theta (1 - theta) [(2 + theta - theta^2)
    + (N* - 1)(1 + 2 theta - 2 theta^2)]; the ends are its real roots nearest *value* on either side
    (0 or 1 where there is none). Never zero-width for finite n: V > 0 inside (0, 1)."""
    P = np.polynomial.polynomial
    g = np.array([2.0, 1.0, -1.0])  # (1 + theta)(2 - theta), coefficients in increasing powers
    lhs = n1 * n0 * P.polymul(P.polymul([value, -1.0], [value, -1.0]), g)
    rhs = z * z * P.polymul([0.0, 1.0, -1.0], P.polyadd(g, ((n1 + n0) / 2.0 - 1) * np.array([1.0, 2.0, -2.0])))
    roots = P.polyroots(P.polysub(lhs, rhs))
    real = np.sort(roots.real[np.abs(roots.imag) <= 1e-9 * np.maximum(1.0, np.abs(roots.real))])
    tol = 1e-12
    below, above = real[(real < value - tol) & (real >= -tol)], real[(real > value + tol) & (real <= 1 + tol)]
    lo = float(below.max()) if below.size else 0.0
    hi = float(above.min()) if above.size else 1.0
    return min(max(lo, 0.0), value), max(min(hi, 1.0), value)


def _logit_delong(value: float, var: float, z: float) -> tuple[float, float] | None:
    """The DeLong interval on the logit scale (Pepe 2003; Pohar Perme & Manevski 2019), mapped back
    (the logistic function as (1 + tanh(x/2))/2, which cannot overflow): None when it is undefined
    (AUC 0 or 1, or zero variance)."""
    if not (0.0 < value < 1.0) or var <= 0.0:
        return None
    half = z * math.sqrt(var) / (value * (1 - value))
    centre = math.log(value / (1 - value))
    return 0.5 * (1 + math.tanh((centre - half) / 2)), 0.5 * (1 + math.tanh((centre + half) / 2))


def auc_interval(scores: Any, is_member: Any, level: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the AUC at *level*: the hull of the logit-transformed DeLong interval and
    Newcombe's (2006) method-5 score interval.

    The hull contains each of the two, so it covers whenever either does: the logit-DeLong interval is
    distribution-free and covers at moderate AUC, the score interval covers at AUC near 0 or 1 and in
    small samples, where DeLong's variance estimate collapses (perfect separation gives variance 0).
    Simulated coverage is in docs/statistics.md section 2 (tests/test_intervals.py keeps it). It is never
    zero-width for finite data and needs no resampling, so it serves both the overall AUC and the slices'
    Bonferroni-adjusted intervals (level 1 - alpha / m)."""
    from scipy.special import ndtri

    s, m = _check(scores, is_member)
    if not 0.0 < level < 1.0:
        raise QauditError(f"interval level must lie in (0, 1), got {level}")
    n1 = int(m.sum())
    n0 = s.size - n1
    value, var = _delong(s, m)
    z = float(ndtri(0.5 + level / 2))
    lo, hi = _newcombe_score(value, n1, n0, z)
    logit = _logit_delong(value, var, z)
    if logit is not None:
        lo, hi = min(lo, logit[0]), max(hi, logit[1])
    return float(max(lo, 0.0)), float(min(hi, 1.0))


def holm(p_values: dict[Any, float], alpha: float = DEFAULT_ALPHA) -> dict[Any, tuple[float, bool]]:
    """Holm-Bonferroni (Holm 1979): key -> (adjusted p-value, rejected at family-wise level *alpha*)."""
    keys = sorted(p_values, key=lambda k: (p_values[k], str(k)))
    m = len(keys)
    out: dict[Any, tuple[float, bool]] = {}
    running = 0.0
    still_rejecting = True
    for i, key in enumerate(keys):
        running = max(running, min(1.0, (m - i) * p_values[key]))
        still_rejecting = still_rejecting and p_values[key] <= alpha / (m - i)
        out[key] = (running, still_rejecting)
    return out


def calibration_split(is_member: np.ndarray, seed: int,
                      fraction: float = CALIBRATION_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (calibration, test), stratified by membership, seeded."""
    rng = np.random.default_rng([int(seed), 104729])
    cal = np.zeros(is_member.size, bool)
    for group in (np.flatnonzero(is_member), np.flatnonzero(~is_member)):
        k = int(round(fraction * group.size))
        cal[rng.choice(group, size=min(max(k, 1), group.size - 1), replace=False)] = True
    return cal, ~cal


def _rates(s: np.ndarray, m: np.ndarray, threshold: float) -> tuple[float, float, int]:
    """(TPR, FPR, false positives) of "member if score > threshold"."""
    called = s > threshold
    return float(called[m].mean()), float(called[~m].mean()), int(called[~m].sum())


def _fpr_threshold(neg: np.ndarray, target: float) -> float:
    """The smallest threshold t with at most floor(target * n) of *neg* strictly above it."""
    allowed = int(np.floor(target * neg.size + 1e-9))
    ordered = np.sort(neg)[::-1]
    return float(ordered[allowed]) if allowed < ordered.size else float(ordered[-1]) - 1.0


def _distinguishability_terms(fp: Any, n0: int, fn: Any, n1: int, delta: float,
                              beta: float) -> tuple[np.ndarray, np.ndarray]:
    """(log((1 - delta - FPR+) / FNR+), mirrored form) with one-sided CP bounds at 1 - beta/2 each."""
    fpr_hi = clopper_pearson(fp, n0, beta)[1]  # two-sided alpha=beta gives one-sided 1 - beta/2
    fnr_hi = clopper_pearson(fn, n1, beta)[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.clip(1 - delta - fpr_hi, 0, None) / fnr_hi)
        b = np.log(np.clip(1 - delta - fnr_hi, 0, None) / fpr_hi)
    return np.nan_to_num(a, nan=-np.inf), np.nan_to_num(b, nan=-np.inf)


def low_fpr_flag(target_fpr: float, n_non_members: int, tpr: float, n_members: int) -> dict[str, Any]:
    """The reliability of a TPR at FPR *target_fpr* evaluated on *n_non_members* / *n_members*:
    the expected false positives (target x non-members), ``flagged`` when they are fewer than
    :data:`MIN_EXPECTED_FALSE_POSITIVES`, and the TPR's two-sided 95 % Clopper-Pearson interval."""
    expected = float(target_fpr) * int(n_non_members)
    k = int(round(tpr * n_members))
    lo, hi = clopper_pearson(k, max(int(n_members), 1))
    return {"expected_false_positives": expected, "flagged": bool(expected < MIN_EXPECTED_FALSE_POSITIVES),
            "tpr_ci": [float(lo), float(hi)]}


def low_fpr_text(point: dict[str, Any], digits: int = 3) -> str:
    """A report cell for one operating point: the TPR, or -- when flagged -- the TPR with its interval
    and the number of expected false positives it rests on."""
    value = f"{point['tpr']:.{digits}f}"
    if not point.get("flagged"):
        return value
    lo, hi = point["tpr_ci"]
    return f"{value} [{lo:.{digits}f}, {hi:.{digits}f}] unreliable ({point['expected_false_positives']:.1f} exp. FP)"


def held_out_distinguishability(s_cal: np.ndarray, m_cal: np.ndarray, s_test: np.ndarray, m_test: np.ndarray,
                     delta: float, beta: float) -> dict[str, Any]:
    """The distinguishability figure (module docstring): threshold and direction fixed on calibration,
    bound on test."""
    fpr, tpr, thr = roc(s_cal, m_cal)
    n1, n0 = int(m_cal.sum()), int((~m_cal).sum())
    a, b = _distinguishability_terms(np.rint(fpr * n0), n0, np.rint((1 - tpr) * n1), n1, delta, beta)
    i_a, i_b = int(np.argmax(a)), int(np.argmax(b))
    mirrored = bool(b[i_b] > a[i_a])
    threshold = float(thr[i_b if mirrored else i_a])
    called = s_test >= threshold
    fp, fn = int(called[~m_test].sum()), int((~called[m_test]).sum())
    ta, tb = _distinguishability_terms(fp, int((~m_test).sum()), fn, int(m_test.sum()), delta, beta)
    value = float(tb if mirrored else ta)
    return {"distinguishability": max(value, 0.0) if np.isfinite(value) else 0.0,
            "distinguishability_threshold": threshold, "distinguishability_confidence": 1.0 - beta, "delta": delta}


def held_out_operating_points(s: np.ndarray, m: np.ndarray, seed: int, delta: float,
                              beta: float) -> dict[str, Any]:
    """TPR at low FPR, balanced accuracy, advantage and distinguishability with thresholds chosen on a calibration
    half and evaluated on the test half (see the module docstring)."""
    cal, test = calibration_split(m, seed)
    s_cal, m_cal, s_test, m_test = s[cal], m[cal], s[test], m[test]
    out: dict[str, Any] = {"calibration_members": int(m_cal.sum()), "calibration_non_members": int((~m_cal).sum()),
                           "test_members": int(m_test.sum()), "test_non_members": int((~m_test).sum())}
    points = {}
    for point in FPR_POINTS:
        threshold = _fpr_threshold(s_cal[~m_cal], point)
        tpr, fpr, fp = _rates(s_test, m_test, threshold)
        out[fpr_key(point)] = tpr
        points[fpr_key(point)] = {"threshold": threshold, "tpr": tpr, "fpr": fpr, "false_positives": fp,
                                  **low_fpr_flag(point, int((~m_test).sum()), tpr, int(m_test.sum()))}
    out["operating_points"] = points
    fpr_c, tpr_c, thr_c = roc(s_cal, m_cal)
    i = int(np.argmax(tpr_c - fpr_c))
    threshold = float(thr_c[i]) if np.isfinite(thr_c[i]) else float(np.max(s_cal)) + 1.0
    called = s_test >= threshold
    tpr, fpr = float(called[m_test].mean()), float(called[~m_test].mean())
    out["balanced_accuracy"] = (tpr + 1.0 - fpr) / 2.0
    out["advantage"] = tpr - fpr
    out["threshold"], out["threshold_tpr"], out["threshold_fpr"] = threshold, tpr, fpr
    out.update(held_out_distinguishability(s_cal, m_cal, s_test, m_test, delta, beta))
    return out


def summarise(scores: Any, is_member: Any, seed: int = 0, n_bootstrap: int = DEFAULT_BOOTSTRAP,
              delta: float = DEFAULT_DELTA, alpha: float = DEFAULT_ALPHA) -> dict[str, Any]:
    """Every metric in :data:`METRICS` plus the p-value, counts and operating points, as plain values."""
    s, m = _check(scores, is_member)
    n1, n0 = int(m.sum()), int((~m).sum())
    if n1 < 2 or n0 < 2:
        raise QauditError("membership metrics need at least 2 members and 2 non-members")
    lo, hi = auc_interval(s, m)
    result: dict[str, Any] = {"n_members": n1, "n_non_members": n0, "auc": auc(s, m), "auc_low": lo, "auc_high": hi,
                              "auc_bootstrap": list(auc_ci(s, m, seed=seed, n_bootstrap=n_bootstrap)),
                              "p_value": auc_p_value(s, m)}
    result.update(held_out_operating_points(s, m, seed, delta, alpha))
    return result


def member_rate(scores: Any, threshold: float) -> float:
    """Fraction of *scores* at or above *threshold* (e.g. members the attack calls "member")."""
    s = np.asarray(scores, dtype=np.float64)
    return float(np.mean(s >= threshold)) if s.size else float("nan")
