"""The one-run privacy audit bound (Steinke, Nasr & Jagielski, *Privacy auditing with one (1) training
run*, NeurIPS 2023, arXiv 2305.08846; Theorem 3.1 with its delta term, computed as in the paper's
Appendix D).

m canaries are each included in training independently with probability 1/2. The auditor guesses
"in" or "out" for r of them (abstaining on the rest) and gets v right. If training is
(epsilon, delta)-DP, the number of correct guesses is stochastically dominated so that

    P[V >= v] <= beta + 2 m delta alpha,   beta = P[Binomial(r, q) >= v],  q = e^eps / (1 + e^eps),
    alpha = max_{1 <= i <= v}  P[v - i <= Binomial(r, q) < v] / i,

(the p-value of observing v correct guesses under the null "(epsilon, delta)-DP"). The audited
lower bound at confidence 1 - p is the largest epsilon whose p-value is still below p: with
probability at least 1 - p over the canaries' inclusion, the training algorithm is *not*
(epsilon', delta)-DP for any epsilon' below it. The p-value increases with epsilon, so the bound is
found by bisection. Everything here is vectorised with scipy; no Python loop over i.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from qaudit.sdk.errors import QauditError

#: Bisection steps: the bound is exact to (upper bracket) / 2**BISECTION_STEPS.
BISECTION_STEPS = 40


def _check(m: int, r: int, v: int, delta: float) -> None:
    if not (isinstance(m, int) and isinstance(r, int) and isinstance(v, int) and 0 <= v <= r <= m):
        raise QauditError(f"one-run audit needs integers 0 <= correct ({v}) <= guesses ({r}) <= canaries ({m})")
    if not 0.0 <= delta < 1.0:
        raise QauditError(f"one-run audit: delta must lie in [0, 1), got {delta}")


def p_value(m: int, r: int, v: int, epsilon: float, delta: float) -> float:
    """Probability of at least *v* correct guesses out of *r* among *m* canaries under
    (*epsilon*, *delta*)-DP (an upper bound, capped at 1)."""
    _check(m, r, v, delta)
    if v == 0:
        return 1.0
    q = 1.0 / (1.0 + math.exp(-epsilon))  # accuracy of epsilon-DP randomised response
    beta = float(stats.binom.sf(v - 1, r, q))
    if delta == 0.0:
        return min(beta, 1.0)
    i = np.arange(1, v + 1)
    # P[v - i <= B < v] for i = 1..v: cumulative sums of pmf(v - 1), pmf(v - 2), ..., pmf(0).
    window = np.cumsum(stats.binom.pmf(v - i, r, q))
    alpha = float(np.max(window / i))
    return min(beta + 2.0 * m * delta * alpha, 1.0)


def epsilon_lower_bound(m: int, r: int, v: int, delta: float, p: float = 0.05) -> float:
    """The largest epsilon whose :func:`p_value` is below *p* (confidence 1 - p); 0 when even
    epsilon = 0 cannot be rejected."""
    _check(m, r, v, delta)
    if not 0.0 < p < 1.0:
        raise QauditError(f"one-run audit: 1 - confidence must lie in (0, 1), got {p}")
    if p_value(m, r, v, 0.0, delta) >= p:
        return 0.0
    low, high = 0.0, 1.0
    while p_value(m, r, v, high, delta) < p:
        low, high = high, 2.0 * high
        if high > 1e3:  # v = r guesses all right with delta = 0 still has a finite bound; guard anyway
            return low
    for _ in range(BISECTION_STEPS):
        mid = 0.5 * (low + high)
        if p_value(m, r, v, mid, delta) < p:
            low = mid
        else:
            high = mid
    return low


def correct_guesses(scores: np.ndarray, included: np.ndarray, k: int) -> int:
    """Guess "in" for the *k* highest scores and "out" for the *k* lowest (ties broken by a stable
    sort of the canary order); return how many of the 2k guesses are right."""
    scores = np.asarray(scores, dtype=np.float64)
    included = np.asarray(included, dtype=bool)
    if not 1 <= 2 * k <= len(scores):
        raise QauditError(f"one-run audit: 2 x {k} guesses need at least {2 * k} canaries, got {len(scores)}")
    order = np.argsort(scores, kind="stable")
    return int(included[order[-k:]].sum() + (~included[order[:k]]).sum())
