"""DP-SGD (Abadi et al., CCS 2016) through the model protocol's members only.

Every step: Poisson sampling (each training sample joins the batch independently with probability
q = batch_size / n, so the batch size varies), per-sample gradients from ``Model.per_sample_grads``
(one batched call -- no loop over samples), each sample's gradient -- all weights together, as one
vector -- clipped to L2 norm ``clip``, the clipped gradients summed, Gaussian noise
N(0, (noise_multiplier * clip)^2) added to every coordinate of the sum, and the sum divided by the
*expected* batch size q·n (so an empty batch still takes a pure-noise step). The update itself is
the model's own optimiser settings (SGD with momentum / Nesterov, :class:`qaudit.train.training.SGD`) --
post-processing of the noisy gradient, which costs no privacy.

The model is initialised with ``Model.initialise`` (pre-processing fitted on the training data, as
the non-private ``fit`` does: the pre-processing itself is not privatised -- docs/dp.md says so).
The number of steps is ceil(epochs / q); the accountant (:mod:`qaudit.dp.accounting`) composes the
Poisson-subsampled Gaussian mechanism over exactly these steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.dp import accounting
from qaudit.dp.spec import DPSpec
from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import MAX_STEPS
from qaudit.sdk.progress import SILENT, Progress
from qaudit.train.training import SGD

#: The optimiser settings used when the model's ``get_params()`` does not declare them.
DEFAULT_TRAINING = {"epochs": 10, "lr": 0.05, "batch_size": 32, "momentum": 0.0, "nesterov": False}


def supports_dp(model_cls: Any) -> bool:
    """True when the model kind has what DP-SGD needs: ``initialise`` and ``per_sample_grads``."""
    return callable(getattr(model_cls, "initialise", None)) and callable(getattr(model_cls, "per_sample_grads",
                                                                                 None))


def require_dp(model_cls: Any, kind: str) -> None:
    """One-line error when model kind *kind* cannot be trained with DP-SGD."""
    if not supports_dp(model_cls):
        raise QauditError(f"model kind {kind!r} cannot be trained with --dp: it has no per-sample gradients "
                          "(Model.initialise and Model.per_sample_grads)")


@dataclass
class DPRecord:
    """What a DP training claims and how: saved as the model file's ``training.dp``."""

    epsilon: float
    delta: float
    noise_multiplier: float
    clip: float
    sampling_rate: float
    steps: int
    epochs: int
    expected_batch_size: float
    seed: int
    target: str
    accountant: str = accounting.ACCOUNTANT
    library: str = ""
    sampling: str = "poisson"

    def to_json(self) -> dict[str, Any]:
        return {"epsilon": round(self.epsilon, 6), "delta": self.delta, "accountant": self.accountant,
                "library": self.library, "noise_multiplier": round(self.noise_multiplier, 6), "clip": self.clip,
                "sampling": self.sampling, "sampling_rate": self.sampling_rate, "steps": self.steps,
                "epochs": self.epochs, "expected_batch_size": self.expected_batch_size, "seed": self.seed,
                "target": self.target}


def plan(spec: DPSpec, n: int, params: dict[str, Any]) -> tuple[DPRecord, dict[str, Any]]:
    """Sampling rate, steps and noise for *n* training samples and the model's optimiser *params*."""
    train = {k: params.get(k, v) for k, v in DEFAULT_TRAINING.items()}
    epochs, batch = int(train["epochs"]), int(train["batch_size"])
    q = min(1.0, batch / n)
    steps = max(1, math.ceil(epochs / q)) if epochs else 0
    if steps > MAX_STEPS:
        raise QauditError(f"--dp: {epochs} epochs at sampling rate {q:.4g} need {steps} steps (at most {MAX_STEPS})")
    if spec.noise_multiplier is not None:
        sigma = spec.noise_multiplier
        target = "noise_multiplier"
    else:
        sigma = accounting.noise_multiplier(spec.epsilon, q, max(steps, 1), spec.delta)
        target = "epsilon"
    eps = accounting.epsilon(sigma, q, max(steps, 1), spec.delta) if steps else 0.0
    record = DPRecord(eps, spec.delta, sigma, spec.clip, q, steps, epochs, q * n, 0, target,
                      library=accounting.library_version())
    return record, train


def clipped_sum(grads: dict[str, np.ndarray], clip: float) -> dict[str, np.ndarray]:
    """Sum over samples of per-sample gradients each scaled to L2 norm at most *clip* (all weights
    together); *grads* maps names to (batch, *shape) arrays."""
    names = list(grads)
    b = len(grads[names[0]])
    sq = np.zeros(b)
    for k in names:
        sq += np.einsum("ij,ij->i", grads[k].reshape(b, -1), grads[k].reshape(b, -1))
    factor = clip / np.maximum(np.sqrt(sq), clip)
    return {k: np.tensordot(factor, grads[k], axes=1) for k in names}


def private_fit(model: Any, X: np.ndarray, y: np.ndarray, *, n_classes: int | None, spec: DPSpec, seed: int,
                progress: Progress = SILENT) -> DPRecord:
    """Train *model* from scratch with DP-SGD; return what it claims (the weights change in place)."""
    require_dp(type(model), getattr(model, "name", type(model).__name__))
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    record, train = plan(spec, len(X), model.get_params())
    record.seed = int(seed)
    model.initialise(X, y, n_classes)
    optimizer = SGD(lr=train["lr"], momentum=train["momentum"], nesterov=train["nesterov"])
    rng = np.random.default_rng([int(seed), 0xD95])
    n, q, sigma, clip = len(X), record.sampling_rate, record.noise_multiplier, record.clip
    with progress.track(f"DP-SGD {getattr(model, 'name', '')}", record.steps) as task:
        for _ in range(record.steps):
            idx = np.flatnonzero(rng.random(n) < q)
            if idx.size:
                total = clipped_sum(model.per_sample_grads(X[idx], y[idx]), clip)
            else:
                total = {k: np.zeros_like(w) for k, w in model.weights.items()}
            noisy = {k: (g + rng.normal(0.0, sigma * clip, size=g.shape)) / (q * n) for k, g in total.items()}
            optimizer.step(model.weights, noisy)
            progress.advance(task)
    if hasattr(model, "gradient_evaluations"):  # optional Model member
        model.gradient_evaluations = int(round(record.steps * q * n))
    return record
