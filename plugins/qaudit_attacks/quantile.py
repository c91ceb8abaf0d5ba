"""Quantile-regression membership inference (Bertran et al., NeurIPS 2023): no reference models.

Statistic: the target's logit-scaled true-class confidence s(x, y) = log(p_y / (1 - p_y)).
On attacker-known **non-members** (the audit's known non-members plus population data the target
never saw) a scikit-learn ``HistGradientBoostingRegressor(loss="quantile", quantile=1 - alpha)``
learns q(x, y), the per-sample (1 - alpha) quantile of s among non-members that look like x
(inputs: the raw features and the one-hot label). Score: s(x, y) - q(x, y); "member" above the
decision threshold.

**Calibrated by construction** (split-conformal, Romano et al. 2019): the non-members are split
(seeded) into a fitting part and a calibration part; the threshold is the
ceil((n_cal + 1)(1 - alpha))-th smallest calibration residual s - q, so a fresh non-member is
called "member" with probability at most alpha (and more than alpha - 1/(n_cal + 1)), whatever
the regressor's quality. With fewer than 1/alpha - 1 calibration non-members no threshold has
that guarantee: the attack then never calls "member" and says so in its details.

``class_level=true`` replaces the regressor by the per-class empirical (1 - alpha) quantile of s
(the forget-class setting, where the question is about a whole class and reference models never
saw it; Thaker et al. 2025). The audit cross-fits the attack (``uses_known_labels``), so no
scored non-member is ever in the data the regressor or the calibration saw.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import QauditError
from qaudit_attacks.common import logit_confidence, options

#: Regressor settings: shallow trees and large leaves (digits-sized non-member sets overfit otherwise).
MAX_ITER = 100
MIN_LEAF = 20


def check_alpha(value: Any, owner: str = "attack quantile") -> float:
    """alpha must be a number strictly between 0 and 1 (one-line error otherwise)."""
    from qaudit.sdk import check_option

    alpha = check_option("option alpha", value, "float", owner=owner)
    if not 0.0 < alpha < 1.0:
        raise QauditError(f"{owner}: option alpha must lie strictly between 0 and 1, got {value!r}")
    return alpha


class QuantileRegressionAttack:
    """Bertran et al. 2023 quantile regression on non-member scores, split-conformal threshold."""

    name: ClassVar[str] = "quantile"
    description: ClassVar[str] = ("quantile regression on non-member scores (Bertran et al. 2023); no reference "
                                  "models; FPR = alpha by construction (split-conformal)")
    roles: ClassVar[frozenset[str]] = frozenset()
    needs_reference: ClassVar[bool] = False
    uses_known_labels: ClassVar[bool] = True
    DEFAULTS: ClassVar[dict[str, Any]] = {"alpha": 0.01, "class_level": False, "calibration_fraction": 0.5}
    RANGES: ClassVar[dict[str, tuple[Any, ...]]] = {"calibration_fraction": (0.1, 0.9)}
    decision_threshold: float | None = None

    @classmethod
    def check_options(cls, all_options: dict[str, Any]) -> None:
        """Fail fast on bad options; alpha outside (0, 1) is an input error."""
        from types import SimpleNamespace

        o = options(SimpleNamespace(options=all_options), cls.name, cls.DEFAULTS, cls.RANGES)
        check_alpha(o["alpha"])

    def fit(self, context: Any) -> QuantileRegressionAttack:
        """Fit q on one part of the known non-members (+ population), calibrate the threshold on the rest."""
        o = options(context, self.name, self.DEFAULTS, self.RANGES)
        self.alpha_ = alpha = check_alpha(o["alpha"])
        self.class_level_ = bool(o["class_level"])
        X, y = self._non_members(context)
        if len(X) < 4:
            raise QauditError("attack quantile needs known non-members or population data to fit on")
        self.n_classes_ = int(context.n_classes or (int(np.max(y)) + 1))
        s = logit_confidence(context.outputs(X).probs, y)
        rng = np.random.default_rng([int(context.seed), 0x9A47])
        perm = rng.permutation(len(X))
        n_fit = int(round(o["calibration_fraction"] * len(X)))
        fit_idx, cal_idx = perm[:n_fit], perm[n_fit:]
        self._fit_quantile(X[fit_idx], y[fit_idx], s[fit_idx], 1.0 - alpha, context.seed)
        residual = np.sort(s[cal_idx] - self._predict(X[cal_idx], y[cal_idx]))
        rank = int(np.ceil((len(residual) + 1) * (1.0 - alpha)))
        self.calibrated_ = rank <= len(residual)
        self.decision_threshold = float(residual[rank - 1]) if self.calibrated_ else float(residual[-1]) + 1.0
        self.n_fit_, self.n_calibration_ = len(fit_idx), len(cal_idx)
        return self

    @staticmethod
    def target_samples(context: Any) -> np.ndarray | None:
        """The population samples ``fit`` queries the target on besides the known non-members."""
        population = context.population_X
        return population if population is not None and len(population) else None

    @staticmethod
    def _non_members(context: Any) -> tuple[np.ndarray, np.ndarray]:
        parts = [(context.X_non_members, context.y_non_members)]
        if context.population_X is not None and len(context.population_X):
            parts.append((context.population_X, context.population_y))
        parts = [(np.asarray(a), np.asarray(b)) for a, b in parts if a is not None and len(a)]
        if not parts:
            return np.zeros((0, 1)), np.zeros(0, np.int64)
        return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts]).astype(np.int64)

    def _inputs(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        onehot = np.zeros((len(y), self.n_classes_))
        onehot[np.arange(len(y)), np.clip(y, 0, self.n_classes_ - 1)] = 1.0
        return np.hstack([np.asarray(X, dtype=np.float64).reshape(len(y), -1), onehot])

    def _fit_quantile(self, X: np.ndarray, y: np.ndarray, s: np.ndarray, q: float, seed: int) -> None:
        if self.class_level_:
            overall = float(np.quantile(s, q))
            self.class_q_ = np.full(self.n_classes_, overall)
            for c in np.unique(y):
                self.class_q_[int(c)] = float(np.quantile(s[y == c], q))
            return
        from sklearn.ensemble import HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        reg = HistGradientBoostingRegressor(loss="quantile", quantile=q, max_iter=MAX_ITER,
                                            min_samples_leaf=MIN_LEAF, random_state=int(seed) % 2**32)
        with threadpool_limits(limits=1):  # small data: threads only contend on a shared machine
            self.model_ = reg.fit(self._inputs(X, y), s)

    def _predict(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.int64)
        if self.class_level_:
            return self.class_q_[np.clip(y, 0, self.n_classes_ - 1)]
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return self.model_.predict(self._inputs(X, y))

    def score(self, context: Any, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """s(x, y) - q(x, y): how far the target's confidence lies above the non-member quantile."""
        y = np.asarray(y, dtype=np.int64)
        return logit_confidence(context.outputs(X).probs, y) - self._predict(X, y)

    def details(self) -> dict[str, Any]:
        """alpha, the mode, the fitting/calibration sizes and whether the threshold has its guarantee."""
        return {"alpha": self.alpha_, "class_level": self.class_level_, "fit_non_members": self.n_fit_,
                "calibration_non_members": self.n_calibration_, "calibrated": self.calibrated_,
                "decision_threshold": self.decision_threshold}
