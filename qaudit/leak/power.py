"""What an audit could have detected: the smallest AUC its tests find with a stated power.

A verdict without leakage ("no significant leakage") is only as strong as the audit's power. For the
one-sided Mann-Whitney test of one hypothesis at level ``alpha / m`` (Holm's first step: with *m*
hypotheses, a single real effect is rejected only if its p-value is at most alpha / m when every other
hypothesis is null -- the worst case, and Bonferroni's level), this module computes the **minimum
detectable AUC**: the smallest true AUC at which the test rejects with probability ``power`` (default
80 %) for ``n1`` members and ``n0`` non-members.

Normal approximation (docs/statistics.md, "Power"): the test rejects when the empirical AUC exceeds
``0.5 + (z_{1-level} * sd0 + 0.5) / (n1 * n0)`` in U units (``sd0`` the null standard deviation of U,
``0.5`` the continuity correction ``metrics.auc_p_value`` uses); under the alternative the AUC is
approximately normal with Hanley & McNeil's (1982) variance. Solved for the AUC by bisection.
``tests/test_power.py`` checks the stated power by simulation.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

_NORMAL = NormalDist()  # the standard normal, from the standard library: no scipy import at `qaudit leak`

DEFAULT_POWER = 0.8


def hanley_mcneil_se(auc: float, n1: int, n0: int) -> float:
    """Hanley & McNeil's (1982) standard error of an empirical AUC with n1 members and n0 non-members."""
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    return math.sqrt(max(var, 0.0))


def critical_auc(n1: int, n0: int, level: float) -> float:
    """The empirical AUC at which the one-sided Mann-Whitney test (normal approximation, continuity
    correction, no ties) rejects at *level*."""
    sd0 = math.sqrt(n1 * n0 * (n1 + n0 + 1) / 12.0)
    return 0.5 + (_NORMAL.inv_cdf(1 - level) * sd0 + 0.5) / (n1 * n0)


def power_at(auc: float, n1: int, n0: int, level: float) -> float:
    """Approximate probability that the test at *level* rejects when the true AUC is *auc*."""
    se = hanley_mcneil_se(auc, n1, n0)
    crit = critical_auc(n1, n0, level)
    if se == 0:
        return 1.0 if auc >= crit else 0.0
    return _NORMAL.cdf((auc - crit) / se)


def min_detectable_auc(n1: int, n0: int, level: float, power: float = DEFAULT_POWER) -> float | None:
    """Smallest AUC the test at *level* detects with probability *power*; None when no AUC below 1 does
    (too few samples for that level)."""
    if n1 < 1 or n0 < 1 or power_at(1 - 1e-9, n1, n0, level) < power:
        return None
    lo, hi = 0.5, 1 - 1e-9
    for _ in range(60):
        mid = (lo + hi) / 2
        if power_at(mid, n1, n0, level) >= power:
            hi = mid
        else:
            lo = mid
    return hi


def detectable(n1: int, n0: int, alpha: float, hypotheses: int, power: float = DEFAULT_POWER) -> dict[str, Any]:
    """The report's power statement for one tested group: its minimum detectable AUC at level
    alpha / hypotheses with the given power, and what it rests on."""
    level = alpha / max(hypotheses, 1)
    return {"auc": min_detectable_auc(n1, n0, level, power), "power": power, "level": level, "alpha": alpha,
            "hypotheses": hypotheses, "members": n1, "non_members": n0,
            "method": "one-sided Mann-Whitney at alpha/m (Holm's first step), normal approximation with "
                      "Hanley-McNeil variance"}


def text(statement: dict[str, Any]) -> str:
    """``AUC >= 0.563`` or ``no AUC < 1`` for a :func:`detectable` statement."""
    auc = statement["auc"]
    return "no AUC < 1" if auc is None else f"AUC >= {auc:.3f}"
