"""Seam: machine-unlearning methods (``register_unlearning_methods``): request, cost and outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

if TYPE_CHECKING:
    from qaudit.sdk.progress import Progress
    from qaudit.sdk.protocols.extensions import Executor
    from qaudit.sdk.protocols.models import Model


@dataclass
class UnlearningRequest:
    """Data handed to an unlearning method (only what it declared it ``needs``)."""

    X_forget: np.ndarray
    y_forget: np.ndarray
    X_retain: np.ndarray | None = None
    y_retain: np.ndarray | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    #: Progress display for long steps; None is silent.
    progress: Progress | None = None
    #: Dataset indices of the forget / retained samples (rows of X_forget / X_retain), when known.
    forget_ids: np.ndarray | None = None
    retain_ids: np.ndarray | None = None
    #: Classes forgotten as a whole (``--forget-class``), empty for an index-based request.
    forget_classes: list[int] = field(default_factory=list)
    #: Number of classes of the model's task.
    n_classes: int | None = None
    #: The :class:`Executor` for independent jobs inside the method (e.g. SISA's shards), or None (in-process).
    executor: Executor | None = None


@dataclass
class UnlearningCost:
    """Work an unlearning method spent: per-sample circuit executions (forward passes),
    per-sample gradient evaluations and wall-clock seconds."""

    circuit_evaluations: int = 0
    gradient_evaluations: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"circuit_evaluations": int(self.circuit_evaluations),
                "gradient_evaluations": int(self.gradient_evaluations), "seconds": round(float(self.seconds), 4)}


@dataclass
class UnlearningOutcome:
    """The new model, what producing it cost, and method-specific details (JSON-serialisable)."""

    model: Model
    cost: UnlearningCost
    details: dict[str, Any] = field(default_factory=dict)


class UnlearningMethod(Protocol):
    """Removes data from a trained model. Registered via ``register_unlearning_methods``.

    ``needs`` is a subset of ``{"forget", "retain", "train"}``: ``retain`` means the
    retained training data (``X_retain``), ``train`` the whole training set (forget +
    retained, handed over as both parts). Methods take options as keyword arguments
    (``qaudit unlearn -O key=value``) and reject unknown ones with ``QauditError``.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    needs: ClassVar[frozenset[str]]
    #: ``{"oracle"}`` for the method that retrains from scratch with ``request.seed`` as the model's seed (the
    #: verification trains its K reference retrains with it, one seed each).
    roles: ClassVar[frozenset[str]]

    def check(self, model: Model, options: dict[str, Any]) -> None:
        """Optional: refuse an unusable model or options with QauditError before any work starts."""
        ...

    def unlearn(self, model: Model, request: UnlearningRequest) -> UnlearningOutcome:
        """Return a new model (never modify *model*) and the cost spent."""
        ...
