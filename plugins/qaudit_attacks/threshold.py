"""Threshold attacks: no training, the score is a statistic of the target's output.

* ``loss`` -- Yeom et al. (2018): members have lower loss; score = -cross-entropy.
* ``confidence`` -- score = p_y, the probability of the true class.
* ``entropy`` -- Song & Mittal (2021) modified entropy, score = -Mentr with
  Mentr(p, y) = -(1 - p_y) log p_y - Σ_{i≠y} p_i log(1 - p_i).

The threshold itself is swept by the ROC analysis, so these need no calibration.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qaudit_attacks.common import EPS, check_options, cross_entropy, true_class_prob


class _ThresholdAttack:
    name: ClassVar[str] = ""
    uses_known_labels: ClassVar[bool] = False
    description: ClassVar[str] = ""
    needs_reference: ClassVar[bool] = False
    #: A statistic of the target's outputs: runs on recorded outputs.
    signals: ClassVar[frozenset[str]] = frozenset({"outputs"})
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    check_options = classmethod(check_options)

    def fit(self, context: Any) -> _ThresholdAttack:
        """Nothing to learn: the ROC sweep picks the threshold."""
        return self

    def score(self, context: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Membership scores from the target's outputs on *X*."""
        return self.statistic(context.outputs(X).probs, np.asarray(y))

    def statistic(self, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Score from output probabilities (higher = member)."""
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        """Epochs, shot-noise modelling and reference models of the fitted attack (for the report)."""
        from qaudit_attacks.common import fitted_details

        return fitted_details(self)


class LossAttack(_ThresholdAttack):
    """Yeom et al. loss threshold."""

    name = "loss"
    roles: ClassVar[frozenset[str]] = frozenset({"default", "fast"})
    description = "loss threshold (Yeom et al. 2018): lower cross-entropy = member"

    def statistic(self, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -cross_entropy(probs, y)


class ConfidenceAttack(_ThresholdAttack):
    """True-class confidence threshold."""

    name = "confidence"
    roles: ClassVar[frozenset[str]] = frozenset({"default", "fast"})
    description = "confidence threshold: higher probability of the true class = member"

    def statistic(self, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
        return true_class_prob(probs, y)


class EntropyAttack(_ThresholdAttack):
    """Song & Mittal modified-entropy threshold."""

    name = "entropy"
    roles: ClassVar[frozenset[str]] = frozenset({"default"})
    description = "modified-entropy threshold (Song & Mittal 2021): lower Mentr = member"

    def statistic(self, probs: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = np.clip(probs, EPS, 1 - EPS)
        py = true_class_prob(p, y)
        rest = -p * np.log(1 - p)
        rest[np.arange(len(y)), y] = 0.0
        mentr = -(1 - py) * np.log(py) + rest.sum(axis=1)
        return -mentr
