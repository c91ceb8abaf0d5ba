"""A model trained with shot-estimated (parameter-shift) gradients, checked against the exact ones."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError

SHIFT = np.pi / 2


# --------------------------------------------------------------------------- shot-estimated gradients
def _is_circuit_classifier(model: Any) -> bool:
    from qaudit.train.classifier import CircuitClassifier

    return isinstance(model, CircuitClassifier) and set(model.weights) == {"theta", "W", "b"}


def require_shot_gradients(model: Any, kind: str) -> None:
    """Refuse models whose gradient a QPU cannot estimate by parameter shift + a classical head."""
    if not _is_circuit_classifier(model):
        raise QauditError(f"shot-estimated unlearning needs a circuit classifier (circuit parameters + dense head, "
                          f"e.g. basic-qnn); model kind {kind!r} has other trainable weights")


class ShotEstimatedModel:
    """A circuit classifier seen through finite shots on *backend*.

    ``loss_and_grad``/``per_sample_grads`` estimate the cross-entropy gradient
    from S-shot expectation values: d<Z_j>/dθ_k by the parameter-shift rule
    ``(<Z_j>(θ + π/2 e_k) - <Z_j>(θ - π/2 e_k)) / 2`` with fresh shots for each
    shifted circuit, the head's gradient and dL/d<Z> from the unshifted S-shot
    values. ``predict_proba`` is S-shot too. ``shots=None`` gives the exact
    parameter-shift gradient (used to check the rule). Every other attribute is
    the wrapped model's; ``copy()`` wraps a copy and shares the random stream.
    """

    def __init__(self, model: Any, backend: Any, shots: int | None, seed: int):
        from qaudit.run.query import exact_backend

        self._model = model
        self.backend = exact_backend() if backend is None else backend
        self.shots = shots
        self._rng = np.random.default_rng(seed)
        self.circuit_runs = [0]  # shared with copies: circuits executed (each with ``shots`` shots)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name == "_model":
            raise AttributeError(name)
        return getattr(self._model, name)

    @property
    def weights(self) -> dict[str, np.ndarray]:
        """The wrapped model's weights (updated in place by optimisers)."""
        return self._model.weights

    def unwrap(self) -> Any:
        """The wrapped model."""
        return self._model

    def copy(self) -> ShotEstimatedModel:
        """A wrapper around a copy of the model, sharing the shot stream and the run counter."""
        other = object.__new__(ShotEstimatedModel)
        other.__dict__.update(self.__dict__)
        other._model = self._model.copy()
        return other

    def _expectations(self, task: Any, theta: np.ndarray) -> np.ndarray:
        """S-shot expectation values of *task* with circuit parameters *theta* (one backend run)."""
        from qaudit.run.query import run_task

        self.circuit_runs[0] += task.n_samples
        seed = int(self._rng.integers(0, 2**31 - 1))
        shifted = copy.copy(task)  # not dataclasses.replace: it would build a deferred circuit
        shifted.param_values = np.asarray(theta, dtype=np.float64)
        return run_task(shifted, self.backend, self.shots, seed)[0]

    def predict_proba(self, X: np.ndarray, **_: Any) -> np.ndarray:
        """S-shot class probabilities (what an unlearning method sees on hardware)."""
        m = self._model
        return m.head(self._expectations(m.task(X), m.weights["theta"]))

    def _grads(self, X: np.ndarray, y: np.ndarray, per_sample: bool) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        from qaudit.train.classifier import cross_entropy_grad

        m = self._model
        y = np.asarray(y)
        task = m.task(X)
        theta = m.weights["theta"]
        ev = self._expectations(task, theta)
        losses, dlogits = cross_entropy_grad(m.head(ev), y)
        if per_sample:
            dlogits = dlogits * len(y)
        d_ev = dlogits @ m.weights["W"].T  # (n, n_obs)
        g_theta = np.zeros((len(y), theta.size)) if per_sample else np.zeros(theta.size)
        for k in range(theta.size):
            plus, minus = theta.copy(), theta.copy()
            plus[k] += SHIFT
            minus[k] -= SHIFT
            dev = (self._expectations(task, plus) - self._expectations(task, minus)) / 2.0  # d<Z_j>/dθ_k per sample
            contrib = np.sum(d_ev * dev, axis=1)
            if per_sample:
                g_theta[:, k] = contrib
            else:
                g_theta[k] = contrib.sum()
        if per_sample:
            return losses, {"theta": g_theta, "W": ev[:, :, None] * dlogits[:, None, :], "b": dlogits}
        return losses, {"theta": g_theta, "W": ev.T @ dlogits, "b": dlogits.sum(axis=0)}

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy and its shot-estimated gradient (parameter shift for θ)."""
        losses, grads = self._grads(X, y, per_sample=False)
        return float(np.mean(losses)), grads

    def per_sample_grads(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Shot-estimated gradient of every sample's own loss (for Fisher importances)."""
        return self._grads(X, y, per_sample=True)[1]

    def losses(self, X: np.ndarray, y: np.ndarray, **_: Any) -> np.ndarray:
        """S-shot per-sample cross-entropies."""
        from qaudit.train.classifier import cross_entropy_grad

        return cross_entropy_grad(self.predict_proba(X), np.asarray(y))[0]


def check_parameter_shift(model: Any, X: np.ndarray, y: np.ndarray, backend: Any,
                          tol: float = 1e-6) -> float:
    """Relative error of the exact parameter-shift gradient against the model's adjoint gradient.

    Raises :class:`QauditError` when it exceeds *tol* (the two-term rule does not hold).
    """
    shift = ShotEstimatedModel(model, backend, None, 0)
    _, g_ps = shift.loss_and_grad(X, y)
    _, g_ad = model.loss_and_grad(X, y)
    num = np.sqrt(sum(float(np.sum((g_ps[k] - g_ad[k]) ** 2)) for k in g_ad))
    den = max(np.sqrt(sum(float(np.sum(g_ad[k] ** 2)) for k in g_ad)), 1e-12)
    rel = float(num / den)
    if not rel <= tol:
        raise QauditError(f"the parameter-shift rule does not reproduce this model's exact gradient (relative "
                          f"error {rel:.2e}); shot-estimated unlearning needs gates exp(-i θ P / 2)")
    return rel
