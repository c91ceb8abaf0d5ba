"""The evidence a leak report shows beside its verdict: the member and non-member score histograms of
the hypothesis the verdict rejected (the first by adjusted p-value: an attack overall or on one slice),
or of the strongest attack when nothing was rejected. Counts only; reporters draw them
(``payload.score_histogram``, documented in docs/statistics.md §3)."""

from __future__ import annotations

from typing import Any

import numpy as np

#: Bins of the score histograms.
BINS = 30
#: Share of scores (at least one) left out of the binned range at each end (counted in the end bins), so
#: one extreme score (a log-likelihood ratio of 40) does not squeeze every other bin into one.
TAIL = 0.005


def _subject(rejected: list[str], cells: list[Any], attacks: list[str], best: str) -> tuple[str, Any, str]:
    """(attack, slice cell or None, why) of the histogram."""
    by_key = {f"{c.attack} on {c.kind}: {c.label}": c for c in cells}
    for key in rejected:
        if key in attacks:
            return key, None, "rejected"
        if key in by_key:
            return by_key[key].attack, by_key[key], "rejected"
    return best, None, "strongest"


def score_histogram(rejected: list[str], cells: list[Any], scores: dict[str, np.ndarray], is_member: np.ndarray,
                    masks: dict[tuple[str, str], np.ndarray], best: str, bins: int = BINS) -> dict[str, Any]:
    """Histogram (shared bin edges) of the held-out member and non-member scores of the rejected
    hypothesis (or of attack *best*): counts per bin, the attack, the slice and why it was chosen."""
    attack, cell, why = _subject(rejected, cells, list(scores), best)
    mask = np.ones(is_member.size, bool) if cell is None else masks[(cell.kind, cell.label)]
    s, m = np.asarray(scores[attack], dtype=np.float64)[mask], is_member[mask]
    lo, hi = float(np.quantile(s, TAIL, method="higher")), float(np.quantile(s, 1 - TAIL, method="lower"))
    if not hi > lo:
        lo, hi = float(s.min()) - 0.5, float(s.max()) + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    clipped = np.clip(s, lo, hi)
    return {"attack": attack, "slice": None if cell is None else f"{cell.kind}: {cell.label}", "why": why,
            "edges": [float(v) for v in edges],
            "members": [int(v) for v in np.histogram(clipped[m], edges)[0]],
            "non_members": [int(v) for v in np.histogram(clipped[~m], edges)[0]]}
