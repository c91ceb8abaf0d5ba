"""Sample inputs for plugin tests: a report exercising every part, synthetic outputs files, and a way to
compare JSON reports of two runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def sample_report() -> Any:
    """A :class:`qaudit.report.results.Report` exercising every part (tables, curves, findings,
    measurements, a non-finite cell) -- the default input of :func:`check_reporter`."""
    from qaudit.report.results import Curve, Finding, Report, Table

    report = Report(kind="leak", title="sample leak report", schema="qaudit.leak/1",
                    verdict="sample verdict", summary={"model": "tiny-model.json", "auc": 0.61},
                    seeds={"attack": 0}, settings={"backend": "engine", "shots": None},
                    location="tiny-model.json")
    report.tables.append(Table("attacks", ["attack", "auc", "tpr@1%fpr", "note"],
                               [["attack-a", 0.61, 0.02, "a, \"quoted\" cell"], ["attack-b", float("nan"), None, ""]]))
    report.curves.append(Curve("attack-a", [0.0, 0.5, 1.0], [0.0, 0.7, 1.0], 0.61))
    report.measurements = {"attack-a": {"auc": 0.61, "tpr@1%fpr": 0.02}}
    report.apply_findings([Finding("leak/auc", "attack-a", "auc", 0.61, 0.6, False, "attack-a: auc 0.610 > 0.600",
                                   "tiny-model.json")])
    return report


def timeless(document: object, drop: Sequence[str] = ()) -> object:
    """A JSON report without what legitimately differs between runs of the same command: its wall-clock
    fields (``seconds``, ``*_seconds``) and any keys in *drop* (e.g. ``("command",)``)."""
    if isinstance(document, dict):
        return {k: timeless(v, drop) for k, v in document.items()
                if k != "seconds" and not k.endswith("_seconds") and k not in drop}
    if isinstance(document, list):
        return [timeless(v, drop) for v in document]
    return document


def synthetic_outputs(n: int = 200, K: int = 8, classes: int = 10, seed: int = 0,
                      memorise: float = 0.0) -> dict[str, np.ndarray]:
    """Arrays of an outputs file (docs/outputs-format.md): a target's and K reference models' logits on n
    samples, half of them members -- for testing attacks and audits of recorded outputs.

    Every sample has a difficulty shared by all models (so reference outputs predict the target's);
    a model that trained on a sample adds *memorise* to its true-class logit. ``memorise=0`` is a null
    model: members and non-members are drawn from the same distribution and nothing depends on membership.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, classes, n)
    base = rng.normal(0, 1, (n, classes))
    base[np.arange(n), labels] += rng.normal(1.5, 1.0, n)  # per-sample difficulty
    membership = np.r_[np.ones(n // 2, np.int64), np.zeros(n - n // 2, np.int64)]
    keep = (np.argsort(rng.random((K, n)), axis=0) < K // 2).astype(np.int64)

    def logits(inside: np.ndarray) -> np.ndarray:
        z = base + rng.normal(0, 0.5, (n, classes))
        z[np.arange(n), labels] += memorise * inside
        return z

    return {"logits": logits(membership), "labels": labels, "membership": membership,
            "ref_logits": np.stack([logits(keep[k]) for k in range(K)]), "ref_membership": keep}
