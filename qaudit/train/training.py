"""Minibatch training with SGD / momentum / Nesterov or Adam (PyTorch semantics)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.files.checkpoints import current_training
from qaudit.sdk.limits import MAX_BATCH_SIZE, MAX_EPOCHS, MAX_LR, check_option
from qaudit.sdk.progress import SILENT, Progress

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
        # In place where the result is bitwise the same (μ·v then +g, as before): the velocity is
        # the optimiser's own array, and a fresh temporary per op costs a page-faulting pass over
        # large layers (a 256x980 weight: 715 -> 490 µs per step, benchmarks/hqnn.py --vs-torch).
        for name, g in grads.items():
            if self.sign != 1.0:
                g = self.sign * g
            if self.momentum:
                v = self.velocity.get(name)
                if v is None:
                    v = g.copy()
                elif v.flags.writeable:  # (a velocity decoded from a checkpoint may be read-only)
                    v *= self.momentum
                    v += g
                else:
                    v = self.momentum * v + g
                self.velocity[name] = v
                g = g + self.momentum * v if self.nesterov else v
            weights[name] -= self.lr * g


@dataclass
class Adam:
    """PyTorch's ``torch.optim.Adam`` (no weight decay, no AMSGrad): ``m = β1·m + (1−β1)·g``,
    ``v = β2·v + (1−β2)·g²``, ``θ -= lr · (m / (1−β1^t)) / (sqrt(v / (1−β2^t)) + eps)``.

    ``sign=-1`` ascends instead. ``velocity`` holds the first moments, ``squares`` the second, ``steps`` t.
    """

    lr: float
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    sign: float = 1.0
    velocity: dict[str, np.ndarray] = field(default_factory=dict)
    squares: dict[str, np.ndarray] = field(default_factory=dict)
    steps: int = 0

    def __post_init__(self) -> None:
        self.lr = check_option("lr", self.lr, "float", 0.0, MAX_LR, low_open=True)
        self.beta1 = check_option("beta1", self.beta1, "float", 0.0, 0.999999)
        self.beta2 = check_option("beta2", self.beta2, "float", 0.0, 0.999999)
        self.eps = check_option("eps", self.eps, "float", 0.0, 1.0, low_open=True)

    def step(self, weights: dict[str, np.ndarray], grads: dict[str, np.ndarray]) -> None:
        self.steps += 1
        correction1 = 1.0 - self.beta1**self.steps
        root2 = np.sqrt(1.0 - self.beta2**self.steps)
        for name, g in grads.items():
            if self.sign != 1.0:
                g = self.sign * g
            m = self.velocity.get(name)
            v = self.squares.get(name)
            m = (1.0 - self.beta1) * g if m is None else self.beta1 * m + (1.0 - self.beta1) * g
            v = (1.0 - self.beta2) * g * g if v is None else self.beta2 * v + (1.0 - self.beta2) * g * g
            self.velocity[name], self.squares[name] = m, v
            weights[name] -= (self.lr / correction1) * m / (np.sqrt(v) / root2 + self.eps)

    def settings(self) -> dict[str, Any]:
        """The hyper-parameters as recorded in a recipe."""
        return {"betas": [self.beta1, self.beta2], "eps": self.eps}


#: Optimisers by a model's option ``optimizer`` (:func:`make_optimizer`).
OPTIMIZERS = ("sgd", "adam")


def make_optimizer(options: Mapping[str, Any], lr: float | None = None, sign: float = 1.0) -> SGD | Adam:
    """The optimiser a model's options name: ``optimizer`` ``"sgd"`` (default; ``momentum``, ``nesterov``) or
    ``"adam"`` (PyTorch's defaults, betas (0.9, 0.999), eps 1e-8); *lr* overrides the option ``lr``."""
    lr = options["lr"] if lr is None else lr
    kind = options.get("optimizer", "sgd")
    if kind == "adam":
        return Adam(lr=lr, sign=sign)
    if kind != "sgd":
        from qaudit.sdk.errors import QauditError

        raise QauditError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {kind!r}")
    return SGD(lr=lr, momentum=options["momentum"], nesterov=options["nesterov"], sign=sign)


def run_epochs(
    weights: dict[str, np.ndarray],
    loss_and_grad: LossGrad,
    X: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    optimizer: SGD | Adam,
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


def _state(weights: dict[str, np.ndarray], optimizer: SGD | Adam, rng: np.random.Generator, history: list[float],
           done: int, epochs: int) -> dict:
    """Everything the next epoch depends on, as JSON (Adam adds its second moments and step count)."""
    from qaudit.files import arrays

    state = {"done": done, "epochs": epochs, "history": [float(h) for h in history],
             "weights": {k: arrays.encode(v) for k, v in weights.items()},
             "velocity": {k: arrays.encode(v) for k, v in optimizer.velocity.items()},
             "rng": rng.bit_generator.state}
    if isinstance(optimizer, Adam):
        state["adam"] = {"steps": optimizer.steps,
                         "squares": {k: arrays.encode(v) for k, v in optimizer.squares.items()}}
    return state


#: Largest integer in a generator state (PCG64's 128-bit state and increment).
_RNG_INT_MAX = 2**128 - 1


def _check_rng_state(saved: Any, template: Any, where: str = "rng") -> None:
    """*saved* has the structure of the generator state *template*: same keys, same strings, integers in
    0..2**128-1 (no bools, no floats)."""
    from qaudit.sdk.errors import QauditError

    if isinstance(template, dict):
        if not isinstance(saved, dict) or set(saved) != set(template):
            raise QauditError(f"{where} must be a {type(template).__name__} generator state with keys "
                              f"{', '.join(sorted(template))}")
        for k in template:
            _check_rng_state(saved[k], template[k], f"{where}.{k}")
    elif isinstance(template, str):
        if saved != template:
            raise QauditError(f"{where} must be {template!r}")
    else:
        check_option(where, saved, "int", 0, _RNG_INT_MAX)


def _parse_state(state: Any, weights: dict[str, np.ndarray], optimizer: SGD | Adam, rng: np.random.Generator,
                 epochs: int) -> dict[str, Any]:
    """A stored epoch state, every field checked against this run: its epoch count, ``done`` in 1..epochs,
    a finite loss per finished epoch, the weights' names and shapes, the optimiser's moments and a
    generator state of this generator's type."""
    from qaudit.files import arrays
    from qaudit.sdk.errors import QauditError

    keys = {"done", "epochs", "history", "weights", "velocity", "rng"} | ({"adam"} if isinstance(optimizer, Adam)
                                                                          else set())
    if not isinstance(state, dict) or set(state) != keys:
        raise QauditError(f"expected an object with keys {', '.join(sorted(keys))}")
    check_option("epochs", state["epochs"], "int", epochs, epochs, hint="the epochs of this run")
    done = check_option("done", state["done"], "int", 1, epochs, hint="finished epochs")
    history = arrays.decode(state["history"], "history", (done,)) if done else np.zeros(0)
    if not isinstance(state["weights"], dict) or set(state["weights"]) != set(weights):
        raise QauditError(f"weights must be {', '.join(sorted(weights))}")
    out: dict[str, Any] = {"done": done, "history": [float(h) for h in history]}
    out["weights"] = {k: arrays.decode(v, f"weights.{k}", weights[k].shape) for k, v in state["weights"].items()}
    out["velocity"] = _moments(state["velocity"], weights, "velocity")
    if isinstance(optimizer, Adam):
        adam = state["adam"]
        if not isinstance(adam, dict) or set(adam) != {"steps", "squares"}:
            raise QauditError("adam must hold steps and squares")
        out["steps"] = check_option("adam.steps", adam["steps"], "int", 0, MAX_EPOCHS * MAX_BATCH_SIZE)
        out["squares"] = _moments(adam["squares"], weights, "adam.squares")
    _check_rng_state(state["rng"], rng.bit_generator.state)
    probe = type(rng.bit_generator)()
    probe.state = state["rng"]  # the generator's own checks (ValueError / TypeError)
    out["rng"] = state["rng"]
    return out


def _moments(value: Any, weights: dict[str, np.ndarray], where: str) -> dict[str, np.ndarray]:
    from qaudit.files import arrays
    from qaudit.sdk.errors import QauditError

    if not isinstance(value, dict) or not set(value) <= set(weights):
        raise QauditError(f"{where} must map weight names to arrays")
    return {k: arrays.decode(v, f"{where}.{k}", weights[k].shape) for k, v in value.items()}


def _restore(checkpoint: Any, slot: str | None, weights: dict[str, np.ndarray], optimizer: SGD | Adam,
             rng: np.random.Generator, epochs: int) -> tuple[int, list[float]]:
    """Load a slot's state into the weights, optimiser and generator; (finished epochs, history). A stored
    state that does not fit this run is refused in one line (:meth:`TrainingCheckpoint.load`)."""
    if checkpoint is None:
        return 0, []
    state = checkpoint.load(slot, lambda s: _parse_state(s, weights, optimizer, rng, epochs))
    if state is None:
        return 0, []
    for k, v in state["weights"].items():
        weights[k][...] = v
    optimizer.velocity = state["velocity"]
    if isinstance(optimizer, Adam):
        optimizer.squares, optimizer.steps = state["squares"], state["steps"]
    rng.bit_generator.state = state["rng"]
    return state["done"], state["history"]
