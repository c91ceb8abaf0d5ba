"""Minibatch training with SGD / momentum / Nesterov (PyTorch semantics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from qaudit.checkpoints import current_training
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
    random_batch: bool = False,
) -> list[float]:
    """Shuffle and step through minibatches; return the mean loss per epoch.

    ``random_batch``: each "epoch" is one step on a single batch of ``batch_size`` samples drawn without
    replacement (the authors' iteration scheme, QMU ``QNN/Training.py`` lines 174-177).

    Returns the number of gradient evaluations as ``len(X) * epochs`` implicitly
    (callers account cost).
    """
    check_option("epochs", epochs, "int", 0, MAX_EPOCHS)
    check_option("batch_size", batch_size, "int", 1, MAX_BATCH_SIZE)
    n = len(X)
    batches = 1 if random_batch else max(1, -(-n // batch_size))
    checkpoint = current_training()
    slot = checkpoint.next_slot() if checkpoint is not None else None
    first, history = _restore(checkpoint, slot, weights, optimizer, rng, epochs)
    with progress.track(description, epochs * batches) as task:
        progress.advance(task, first * batches)
        for epoch in range(first, epochs):
            order = rng.choice(n, min(batch_size, n), replace=False) if random_batch else rng.permutation(n)
            total = 0.0
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                loss, grads = loss_and_grad(X[idx], y[idx])
                optimizer.step(weights, grads)
                total += loss * len(idx)
                progress.advance(task, epoch=epoch + 1, loss=loss)
            history.append(total / len(order))
            if checkpoint is not None:
                checkpoint.save(slot, _state(weights, optimizer, rng, history, epoch + 1, epochs))
    return history


def _state(weights: dict[str, np.ndarray], optimizer: SGD, rng: np.random.Generator, history: list[float],
           done: int, epochs: int) -> dict:
    """Everything the next epoch depends on, as JSON."""
    from qaudit import arrays

    return {"done": done, "epochs": epochs, "history": [float(h) for h in history],
            "weights": {k: arrays.encode(v) for k, v in weights.items()},
            "velocity": {k: arrays.encode(v) for k, v in optimizer.velocity.items()},
            "rng": rng.bit_generator.state}


def _restore(checkpoint: object, slot: str | None, weights: dict[str, np.ndarray], optimizer: SGD,
             rng: np.random.Generator, epochs: int) -> tuple[int, list[float]]:
    """Load a slot's state into the weights, optimiser and generator; (finished epochs, history)."""
    state = checkpoint.load(slot) if checkpoint is not None else None
    if not isinstance(state, dict) or state.get("epochs") != epochs or set(state.get("weights", {})) != set(weights):
        return 0, []
    from qaudit import arrays
    from qaudit.errors import QauditError

    try:
        restored = {k: arrays.decode(v, f"checkpoint.{k}", weights[k].shape) for k, v in state["weights"].items()}
        velocity = {k: arrays.decode(v, f"checkpoint.velocity.{k}", weights[k].shape)
                    for k, v in state["velocity"].items()}
        rng.bit_generator.state = state["rng"]
    except (QauditError, KeyError, TypeError, ValueError):
        return 0, []  # a broken checkpoint is ignored: train from the start
    for k, v in restored.items():
        weights[k][...] = v
    optimizer.velocity = velocity
    return int(state["done"]), [float(h) for h in state["history"]]
