"""Minibatch training with SGD / momentum / Nesterov (PyTorch semantics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qaudit.limits import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, check_option
from qaudit.progress import SILENT, Progress

LossGrad = Callable[[np.ndarray, np.ndarray], tuple[float, dict[str, np.ndarray]]]


@dataclass
class SGD:
    """``v = μ·v + g``; step ``g + μ·v`` (Nesterov) or ``v``; ``θ -= lr·step``.

    ``sign=-1`` ascends instead (gradient ascent for unlearning).
    """

    lr: float
    momentum: float = 0.0
    nesterov: bool = False
    sign: float = 1.0

    def __post_init__(self) -> None:
        self.lr = check_option("lr", self.lr, "float", 0.0, MAX_LR, low_open=True)
        self.momentum = check_option("momentum", self.momentum, "float", 0.0, 0.999)
        self.nesterov = check_option("nesterov", self.nesterov, "bool")
        self.velocity: dict[str, np.ndarray] = {}

    def step(self, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        for name, g in grads.items():
            g = self.sign * g
            if self.momentum:
                v = self.velocity.get(name)
                v = g.copy() if v is None else self.momentum * v + g
                self.velocity[name] = v
                g = g + self.momentum * v if self.nesterov else v
            weights[name] -= self.lr * g


def run_epochs(
    weights: dict[str, np.ndarray],
    loss_and_grad: LossGrad,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    optimizer: SGD,
    rng: np.random.Generator,
    progress: Progress = SILENT,
    description: str = "training",
) -> list[float]:
    """Shuffle and step through minibatches; return the mean loss per epoch.

    Returns the number of gradient evaluations as ``len(X) * epochs`` implicitly
    (callers account cost).
    """
    check_option("epochs", epochs, "int", 0, MAX_EPOCHS)
    check_option("batch_size", batch_size, "int", 1, MAX_BATCH_SIZE)
    n = len(X)
    history: list[float] = []
    batches = max(1, -(-n // batch_size))
    with progress.track(description, epochs * batches) as task:
        for epoch in range(epochs):
            order = rng.permutation(n)
            total = 0.0
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                loss, grads = loss_and_grad(X[idx], y[idx])
                optimizer.step(weights, grads)
                total += loss * len(idx)
                progress.advance(task, epoch=epoch + 1, loss=loss)
            history.append(total / n)
    return history
