"""Membership-inference metrics computed from scores, the same way for every attack.

Inputs everywhere: ``scores`` (n,) float, higher = "more likely a member", and
``is_member`` (n,) bool ground truth. ROC curves come from
``sklearn.metrics.roc_curve``; nothing here knows which attack produced the scores.

Definitions (all "best threshold" quantities pick the threshold on the same
scores they are reported for, as TF Privacy and ML Privacy Meter do; they are
an auditor's upper estimate, not a held-out attack accuracy):

* ``auc`` -- area under the ROC curve; ``auc_low``/``auc_high`` a seeded
  stratified bootstrap percentile 95 % interval.
* ``tpr@X%fpr`` -- the largest TPR among ROC points with FPR <= X % (Carlini et
  al. 2022 report the low-FPR regime; at 0.1 % FPR with 500 non-members this
  is the TPR at zero false positives).
* ``balanced_accuracy`` -- max over thresholds of (TPR + TNR) / 2.
* ``advantage`` -- membership advantage max(TPR - FPR) (Yeom et al. 2018).
* ``epsilon`` -- a lower bound on the differential-privacy epsilon any
  (epsilon, delta)-DP training would need to allow this attack, from
  Clopper-Pearson upper confidence bounds on FPR and FNR (Jagielski et al. 2020,
  Nasr et al. 2021): max over thresholds of
  ``max(log((1 - delta - FPR_hi) / FNR_hi), log((1 - delta - FNR_hi) / FPR_hi))``,
  each one-sided bound at 1 - alpha/2 so the pair holds with >= 1 - alpha confidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.errors import QauditError

#: Low-FPR operating points reported for every attack (fractions).
FPR_POINTS = (0.001, 0.01, 0.1)

#: Gateable metric names, in report order. Higher always means more leakage.
METRICS = ("auc", "auc_low", "auc_high", "tpr@0.1%fpr", "tpr@1%fpr", "tpr@10%fpr",
           "balanced_accuracy", "advantage", "epsilon")

DEFAULT_BOOTSTRAP = 1000


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


def roc(scores: Any, is_member: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(fpr, tpr, thresholds)`` from ``sklearn.metrics.roc_curve`` (all points kept)."""
    from sklearn.metrics import roc_curve

    s, m = _check(scores, is_member)
    fpr, tpr, thr = roc_curve(m, s, drop_intermediate=False)
    return fpr, tpr, thr


def auc(scores: Any, is_member: Any) -> float:
    """ROC AUC (``sklearn.metrics.roc_auc_score``)."""
    from sklearn.metrics import roc_auc_score

    s, m = _check(scores, is_member)
    return float(roc_auc_score(m, s))


def _rank_auc(s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """AUC of each row of *s* (b, n) with labels *m* (b, n) via the Mann-Whitney rank sum."""
    from scipy.stats import rankdata

    ranks = rankdata(s, axis=1)  # average ranks handle ties like roc_auc_score
    n1 = m.sum(axis=1)
    n0 = m.shape[1] - n1
    return ((ranks * m).sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def auc_ci(scores: Any, is_member: Any, seed: int = 0, n_bootstrap: int = DEFAULT_BOOTSTRAP,
           level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the AUC.

    Members and non-members are resampled separately (stratified), so every
    replicate keeps both populations at their observed sizes. Seeded.
    """
    s, m = _check(scores, is_member)
    rng = np.random.default_rng(seed)
    pos, neg = s[m], s[~m]
    lo, hi = [], []
    chunk = max(1, 4_000_000 // max(1, s.size))
    values = []
    for start in range(0, n_bootstrap, chunk):
        b = min(chunk, n_bootstrap - start)
        bp = pos[rng.integers(0, pos.size, size=(b, pos.size))]
        bn = neg[rng.integers(0, neg.size, size=(b, neg.size))]
        labels = np.concatenate([np.ones((b, pos.size), bool), np.zeros((b, neg.size), bool)], axis=1)
        values.append(_rank_auc(np.concatenate([bp, bn], axis=1), labels))
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
    from scipy.stats import beta

    k = np.asarray(k, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(k > 0, beta.ppf(alpha / 2, k, n - k + 1), 0.0)
        high = np.where(k < n, beta.ppf(1 - alpha / 2, k + 1, n - k), 1.0)
    return np.nan_to_num(low, nan=0.0), np.nan_to_num(high, nan=1.0)


def epsilon_lower_bound(fpr: np.ndarray, tpr: np.ndarray, n_members: int, n_non_members: int,
                        delta: float = 0.0, alpha: float = 0.05) -> float:
    """DP epsilon lower bound from ROC points with Clopper-Pearson bounds (see module doc).

    ``fpr``/``tpr`` are the ROC points; the counts they came from are recovered
    as ``fpr * n_non_members`` and ``(1 - tpr) * n_members``. Returns 0.0 when no
    threshold gives a positive bound.
    """
    fp = np.rint(np.asarray(fpr) * n_non_members)
    fn = np.rint((1 - np.asarray(tpr)) * n_members)
    fpr_hi = clopper_pearson(fp, n_non_members, alpha)[1]
    fnr_hi = clopper_pearson(fn, n_members, alpha)[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.log(np.clip(1 - delta - fpr_hi, 0, None) / fnr_hi)
        b = np.log(np.clip(1 - delta - fnr_hi, 0, None) / fpr_hi)
    best = np.nanmax(np.concatenate([a, b]))
    return float(max(best, 0.0)) if np.isfinite(best) else 0.0


def best_threshold(fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray) -> tuple[float, float, float]:
    """``(threshold, tpr, fpr)`` at the ROC point maximising TPR - FPR."""
    i = int(np.argmax(tpr - fpr))
    return float(thresholds[i]), float(tpr[i]), float(fpr[i])


def curve_points(fpr: np.ndarray, tpr: np.ndarray, max_points: int = 200) -> tuple[list[float], list[float]]:
    """A thinned ROC curve for reports: log-spaced in FPR (keeps the low-FPR corner)."""
    if fpr.size <= max_points:
        return [float(v) for v in fpr], [float(v) for v in tpr]
    grid = np.unique(np.concatenate([[0.0], np.geomspace(max(fpr[fpr > 0].min(), 1e-6), 1.0, max_points - 1)]))
    idx = np.searchsorted(fpr, grid, side="right") - 1  # last point with fpr <= grid value
    idx = np.unique(np.clip(idx, 0, fpr.size - 1))
    return [float(v) for v in fpr[idx]], [float(v) for v in tpr[idx]]


def summarise(scores: Any, is_member: Any, seed: int = 0, n_bootstrap: int = DEFAULT_BOOTSTRAP,
              delta: float = 0.0) -> dict[str, Any]:
    """Every metric in :data:`METRICS` plus counts and the best threshold, as plain floats."""
    s, m = _check(scores, is_member)
    fpr, tpr, thr = roc(s, m)
    n1, n0 = int(m.sum()), int((~m).sum())
    lo, hi = auc_ci(s, m, seed=seed, n_bootstrap=n_bootstrap)
    threshold, t_tpr, t_fpr = best_threshold(fpr, tpr, thr)
    result: dict[str, Any] = {"n_members": n1, "n_non_members": n0, "auc": auc(s, m), "auc_low": lo, "auc_high": hi}
    for point in FPR_POINTS:
        result[fpr_key(point)] = tpr_at_fpr(fpr, tpr, point)
    result["balanced_accuracy"] = float(np.max((tpr + 1 - fpr) / 2))
    result["advantage"] = float(np.max(tpr - fpr))
    result["epsilon"] = epsilon_lower_bound(fpr, tpr, n1, n0, delta=delta)
    result["threshold"] = threshold if np.isfinite(threshold) else None
    result["threshold_tpr"], result["threshold_fpr"] = t_tpr, t_fpr
    return result


def member_rate(scores: Any, threshold: float) -> float:
    """Fraction of *scores* at or above *threshold* (e.g. members the attack calls "member")."""
    s = np.asarray(scores, dtype=np.float64)
    return float(np.mean(s >= threshold)) if s.size else float("nan")
