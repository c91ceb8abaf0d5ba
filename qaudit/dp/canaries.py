"""Canaries for one-run audits (Steinke, Nasr & Jagielski 2023, Section 2 "canaries").

m dataset samples are set aside (never members, never holdout) and turned into canaries:

* ``mislabel`` (default): the sample with a wrong label drawn uniformly from the other classes --
  a model can only fit it by memorising it, which makes membership visible;
* ``ood``: out-of-distribution inputs -- features drawn uniformly from the per-feature range of the
  data -- with uniformly random labels.

Each canary is included in training independently with probability 1/2, from a recorded seed:
the randomness the audit's theorem rests on. All draws use ``numpy.random.default_rng([seed, tag])``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import MAX_CANARIES, MIN_SPLIT, check_option

#: Canary designs ``--canary-kind`` accepts.
KINDS = ("mislabel", "ood")


@dataclass
class Canaries:
    """m canaries: the dataset indices they were made from, their features and labels as trained
    on, and which were included in training."""

    ids: np.ndarray
    X: np.ndarray
    y: np.ndarray
    included: np.ndarray
    kind: str
    seed: int

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "seed": self.seed, "m": int(len(self.ids)), "ids": self.ids.tolist(),
                "labels": self.y.tolist(), "included": self.included.astype(int).tolist()}


def check_count(m: Any, n_samples: int, n_train: int | None = None, n_holdout: int | None = None) -> int:
    """A canary count that leaves the requested members and holdout (at least ``MIN_SPLIT`` each)."""
    m = check_option("--canaries", m, "int", 2, MAX_CANARIES)
    reserved = max(n_train or 0, MIN_SPLIT) + max(n_holdout or 0, MIN_SPLIT)
    room = n_samples - reserved
    if m > room:
        raise QauditError(f"--canaries {m} is more than the data allows: the dataset has {n_samples} samples "
                          f"and {reserved} must stay members/holdout (at most {max(room, 0)} canaries)")
    return m


def make_canaries(X: np.ndarray, y: np.ndarray, m: int, kind: str, seed: int, n_classes: int) -> Canaries:
    """Choose m samples of (X, y) and make them canaries of *kind*, each included with probability 1/2."""
    if kind not in KINDS:
        raise QauditError(f"--canary-kind must be one of {', '.join(KINDS)}, got {kind!r}")
    m = check_count(m, len(X))
    if n_classes < 2:
        raise QauditError("canaries need at least 2 classes")
    rng = np.random.default_rng([int(seed), 0xCA9A])
    ids = np.sort(rng.choice(len(X), size=m, replace=False))
    features = np.array(X[ids], dtype=np.float64)
    if kind == "mislabel":
        labels = (np.asarray(y[ids]) + rng.integers(1, n_classes, size=m)) % n_classes
    else:
        low, high = X.min(axis=0), X.max(axis=0)
        features = low + (high - low) * rng.random(features.shape)
        labels = rng.integers(0, n_classes, size=m)
    included = np.random.default_rng([int(seed), 0x1AC1]).random(m) < 0.5
    return Canaries(ids, features, labels.astype(np.int64), included, kind, int(seed))
