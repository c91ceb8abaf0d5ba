"""The LEAKS / no-leakage verdict of an audit, with its family-wise error controlled.

Every attack's overall scores and, with ``--slice``, every (attack, slice) cell with enough
samples is one hypothesis "no membership signal" (AUC = 0.5), tested one-sided with the
Mann-Whitney U test on held-out scores. Holm-Bonferroni (Holm 1979) over the whole family
keeps the probability of *any* false "LEAKS" at most alpha, however many attacks and slices
are looked at. Slice AUC intervals are Bonferroni-adjusted (level 1 - alpha / m_slices,
``metrics.auc_interval``) so the worst slice is not an artefact of looking at many.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.leak import metrics

#: Slices with fewer members or non-members than this are not tested.
MIN_SLICE = 5
SLICES = ("class", "correctness", "loss-decile")
TEST_NAME = "one-sided Mann-Whitney U per attack and slice, Holm-Bonferroni"


@dataclass
class SliceCell:
    """One (slice, attack) cell: its AUC, adjusted interval and p-value."""

    kind: str
    label: str
    attack: str
    members: int
    non_members: int
    auc: float
    p_value: float
    ci: tuple[float, float] = (0.0, 1.0)
    p_adjusted: float = 1.0
    rejected: bool = False


@dataclass
class Verdict:
    """The audit's decision and what it rests on."""

    leaks: bool
    alpha: float
    hypotheses: int
    rejected: list[str] = field(default_factory=list)
    adjusted: dict[str, float] = field(default_factory=dict)
    cells: list[SliceCell] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The verdict's JSON form (in the report's ``payload.verdict``)."""
        return {"test": TEST_NAME, "alpha": self.alpha, "hypotheses": self.hypotheses, "leaks": self.leaks,
                "rejected": self.rejected, "adjusted_p_values": self.adjusted}


def slice_groups(kind: str, y: np.ndarray, loss: np.ndarray, correct: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(label, mask) of every group of slice *kind* over the scored samples."""
    if kind == "class":
        return [(f"class {c}", y == c) for c in np.unique(y)]
    if kind == "correctness":
        return [("correct", correct), ("misclassified", ~correct)]
    edges = np.quantile(loss, np.linspace(0, 1, 11))
    decile = np.clip(np.searchsorted(edges, loss, side="right") - 1, 0, 9)
    return [(f"loss decile {d + 1}", decile == d) for d in range(10)]


def slice_cells(kinds: list[str], scores: dict[str, np.ndarray], is_member: np.ndarray, y: np.ndarray,
                loss: np.ndarray, correct: np.ndarray) -> list[SliceCell]:
    """Every testable (slice, attack) cell with its AUC and unadjusted p-value."""
    cells = []
    for kind in kinds:
        for label, mask in slice_groups(kind, y, loss, correct):
            nm, nn = int((mask & is_member).sum()), int((mask & ~is_member).sum())
            if nm < MIN_SLICE or nn < MIN_SLICE:
                continue
            for attack, s in scores.items():
                cells.append(SliceCell(kind, label, attack, nm, nn, metrics.auc(s[mask], is_member[mask]),
                                       metrics.auc_p_value(s[mask], is_member[mask])))
    return cells


def decide(overall_p: dict[str, float], cells: list[SliceCell], scores: dict[str, np.ndarray],
           is_member: np.ndarray, slice_masks: dict[tuple[str, str], np.ndarray], alpha: float) -> Verdict:
    """Holm over the attacks' overall tests and every slice cell; adjusted slice intervals."""
    family = {f"{name}": p for name, p in overall_p.items()}
    family.update({f"{c.attack} on {c.kind}: {c.label}": c.p_value for c in cells})
    holm = metrics.holm(family, alpha)
    level = 1.0 - alpha / max(len(cells), 1)
    for c in cells:
        c.p_adjusted, c.rejected = holm[f"{c.attack} on {c.kind}: {c.label}"]
        mask = slice_masks[(c.kind, c.label)]
        c.ci = metrics.auc_interval(scores[c.attack][mask], is_member[mask], level)
    rejected = sorted((k for k, (_, r) in holm.items() if r), key=lambda k: holm[k][0])
    return Verdict(bool(rejected), alpha, len(family), rejected, {k: v[0] for k, v in holm.items()}, cells)
