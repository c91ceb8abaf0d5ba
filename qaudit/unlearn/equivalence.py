"""Is an unlearned model like retraining? Equivalence and non-inferiority tests against retrains.

The reference is not one retrained model but K retrains from independent seeds (the oracles). For
each verification figure theta (forget accuracy, forget-MIA AUC, retained and holdout accuracy) the
difference D = theta(unlearned) - mean_k theta(oracle k) is tested with a standard error that holds
both sources of noise:

* the retraining spread: s^2 (1 + 1/K), s the oracles' sample standard deviation (a new retrain
  differs from the mean of K by this much);
* the evaluation-sample noise of D itself, paired because every model is scored on the same samples:
  for an accuracy the standard error of the mean of c_U(i) - mean_k c_k(i) (c = 1 if sample i is
  classified correctly); for an AUC DeLong et al.'s (1988) variance of the same linear combination of
  correlated AUCs (structural components from placement values).

Degrees of freedom by Welch-Satterthwaite (the evaluation part counted as known). Forgetting figures
are *equivalence* tests (Schuirmann's two one-sided tests, TOST): passed when the (1 - 2 alpha)
interval of D lies inside (-margin, +margin). Utility figures are *non-inferiority* tests: passed
when D's one-sided (1 - alpha) lower bound lies above -margin. "Met" needs every check to pass: an
intersection-union test (Berger 1982), so P(met | some figure is outside its margin) <= alpha with
no multiplicity correction. Conventions: docs/statistics.md section 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Level of every check (and of the "met" claim, by the intersection-union principle).
ALPHA = 0.05
EQUIVALENCE = "equivalence"
NON_INFERIORITY = "non-inferiority"


@dataclass
class Check:
    """One figure of the unlearned model against the retrains, and its test."""

    key: str
    label: str
    kind: str  # EQUIVALENCE or NON_INFERIORITY
    percent: bool  # shown in % (accuracies) or as a number (AUC)
    value: float
    value_interval: tuple[float, float]  # 95 % evaluation-noise interval of the unlearned value
    reference: list[float]  # the oracles' values
    difference: float
    interval: tuple[float, float]  # (1 - 2 alpha) interval of the difference (TOST)
    margin: float
    se_spread: float
    se_eval: float
    df: float
    passed: bool

    @property
    def reference_mean(self) -> float:
        return float(np.mean(self.reference))

    @property
    def reference_sd(self) -> float:
        return float(np.std(self.reference, ddof=1)) if len(self.reference) > 1 else 0.0

    def _num(self, v: float) -> str:
        return f"{100 * v:.1f}" if self.percent else f"{v:.3f}"

    def describe(self) -> str:
        """``retained accuracy 33.1 % [30.2, 36.0] vs retraining 57.1 ± 1.2 % (5 retrains)``."""
        unit = " %" if self.percent else ""
        lo, hi = self.value_interval
        return (f"{self.label} {self._num(self.value)}{unit} [{self._num(lo)}, {self._num(hi)}] vs retraining "
                f"{self._num(self.reference_mean)} ± {self._num(self.reference_sd)}{unit} "
                f"({len(self.reference)} retrain{'s' if len(self.reference) != 1 else ''})")

    def reason(self) -> str:
        """The one-line reason a failed check gives (its figure, interval and what failed)."""
        step = "points" if self.percent else ""
        margin = f"{self._num(self.margin)}{' ' + step if step else ''}"
        lo, hi = self.interval
        if self.kind == NON_INFERIORITY:
            what = (f"utility lost (may be more than {margin} below retraining: difference "
                    f"{self._num(self.difference)}, lower {100 * (1 - ALPHA):.0f} % bound {self._num(lo)})")
        else:
            what = (f"not shown within ±{margin} of retraining (difference {self._num(self.difference)}, "
                    f"{100 * (1 - 2 * ALPHA):.0f} % interval [{self._num(lo)}, {self._num(hi)}])")
        return f"{self.describe()}: {what}"

    def worst(self) -> float:
        """The bound the check compares with its margin (|bound| for equivalence, -lower for non-inferiority)."""
        lo, hi = self.interval
        return float(-lo) if self.kind == NON_INFERIORITY else float(max(-lo, hi))

    def to_json(self) -> dict[str, Any]:
        """JSON form (``payload.result.judgement.checks[]``)."""
        return {"key": self.key, "label": self.label, "test": self.kind, "value": self.value,
                "value_interval": list(self.value_interval), "reference": list(self.reference),
                "reference_mean": self.reference_mean, "reference_sd": self.reference_sd,
                "difference": self.difference, "interval": list(self.interval), "margin": self.margin,
                "se_spread": self.se_spread, "se_eval": self.se_eval,
                "df": None if math.isinf(self.df) else self.df, "alpha": ALPHA, "passed": self.passed}


def _t_quantile(p: float, df: float) -> float:
    from scipy.special import ndtri, stdtrit

    return float(ndtri(p)) if math.isinf(df) or df > 1e6 else float(stdtrit(df, p))


def figure_check(key: str, label: str, kind: str, value: float, value_interval: tuple[float, float],
         reference: list[float], se_eval: float, margin: float, percent: bool = True,
         alpha: float = ALPHA) -> Check:
    """The equivalence (``kind`` EQUIVALENCE) or non-inferiority test of *value* against the retrains'
    *reference* values, with the paired evaluation standard error *se_eval* of the difference."""
    k = len(reference)
    s2 = float(np.var(reference, ddof=1)) if k > 1 else 0.0
    spread = s2 * (1 + 1 / k) if k > 1 else 0.0
    eval2 = float(se_eval) ** 2
    se = math.sqrt(spread + eval2)
    df = math.inf if spread <= 0 else (spread + eval2) ** 2 * (k - 1) / spread ** 2
    d = float(value - np.mean(reference))
    half = _t_quantile(1 - alpha, df) * se
    lo, hi = d - half, d + half
    passed = lo > -margin if kind == NON_INFERIORITY else (lo > -margin and hi < margin)
    return Check(key, label, kind, percent, float(value), (float(value_interval[0]), float(value_interval[1])),
                 [float(r) for r in reference], d, (lo, hi), float(margin), math.sqrt(spread), float(se_eval), df,
                 bool(passed))


def accuracy_se(correct_u: np.ndarray, correct_r: np.ndarray) -> float:
    """Paired standard error of mean(c_U) - mean_k mean(c_k) over the same samples (*correct_r*: K x n)."""
    d = np.asarray(correct_u, np.float64) - np.asarray(correct_r, np.float64).mean(axis=0)
    return float(np.std(d, ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0


def _placements(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong placement values (V10 of the positives, V01 of the negatives), Sun & Xu's ranking form."""
    from qaudit.leak.metrics import _average_ranks

    pos, neg = scores[positive], scores[~positive]
    ranks = _average_ranks(scores)[0]
    v10 = (ranks[positive] - _average_ranks(pos)[0]) / neg.size
    v01 = 1.0 - (ranks[~positive] - _average_ranks(neg)[0]) / pos.size
    return v10, v01


def auc_difference_se(scores_u: np.ndarray, scores_r: list[np.ndarray], positive: np.ndarray) -> float:
    """DeLong standard error of AUC_U - mean_k AUC_k, all AUCs on the same positives/negatives."""
    positive = np.asarray(positive, bool)
    if positive.sum() < 2 or (~positive).sum() < 2:
        return 0.0
    u10, u01 = _placements(np.asarray(scores_u, np.float64), positive)
    parts = [_placements(np.asarray(s, np.float64), positive) for s in scores_r]
    v10 = u10 - np.mean([p[0] for p in parts], axis=0)
    v01 = u01 - np.mean([p[1] for p in parts], axis=0)
    return float(math.sqrt(np.var(v10, ddof=1) / v10.size + np.var(v01, ddof=1) / v01.size))


def all_met(checks: list[Check]) -> bool:
    """The intersection-union decision: met when every check passed."""
    return all(c.passed for c in checks)
