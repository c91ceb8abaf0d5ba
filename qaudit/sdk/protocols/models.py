"""Seam: model kinds and datasets (``register_models``, ``register_datasets``, ``load_model``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from qaudit.sdk.protocols.backends import Backend, QuantumTask

if TYPE_CHECKING:
    from qaudit.files.data import Dataset
    from qaudit.sdk.progress import Progress


@runtime_checkable
class Model(Protocol):
    """A trainable QNN classifier (scikit-learn conventions).

    A model is classical pre-processing + a parameterised circuit (:meth:`task`) +
    a classical head (:meth:`head`). The host evaluates it only through
    :func:`qaudit.run.query.query`: ``head(backend.expectation(task(X)))``, so any backend can
    run any model; plugins (attacks, unlearning methods) call :meth:`predict_proba`.
    ``from_options`` stores options only; ``fit`` trains and returns self. ``weights`` maps names to
    float64 arrays (everything trained);
    ``loss_and_grad``/``per_sample_grads`` are exact and use the same names.
    :class:`qaudit.train.classifier.CircuitClassifier` implements all of it for a circuit
    classifier; a plugin only provides the circuit.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: ``{"default"}`` for the model kind ``qaudit train`` uses when none is named.
    roles: ClassVar[frozenset[str]]
    #: Number of classes (set by ``fit`` / ``from_document``).
    n_classes: int
    #: Trained weights, name -> float64 array.
    weights: dict[str, np.ndarray]
    #: Optional: the training loss after every epoch of ``fit`` (saved in the model file's ``training``).
    history: list[float]
    #: Optional: when a model has this attribute, the host sets it before ``fit`` to the kind of the
    #: training data (``"image"`` or ``"tabular"``, :attr:`qaudit.files.data.Dataset.kind`); a model may choose its
    #: preprocessing by it (e.g. standardise tables, scale images) and should record its choice in its options.
    data_kind: str | None
    #: Optional: per-sample gradient evaluations the last ``fit`` spent (default: epochs x training samples);
    #: the unlearning report compares a method's cost with it.
    gradient_evaluations: int
    #: Optional: named option bundles, ``{preset: {option: value}}`` -- e.g. another author's training recipe
    #: beside the kind's own defaults. ``qaudit train --preset NAME`` starts from one (explicit options win);
    #: ``qaudit models`` lists them.
    PRESETS: ClassVar[dict[str, dict[str, Any]]]

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> Model:
        """An untrained model with these hyper-parameters; unknown keys or bad values raise QauditError."""
        ...

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters, JSON-serialisable (saved as the model file's ``config``)."""
        ...

    def fit(self, X: np.ndarray, y: np.ndarray, *, n_classes: int | None = None,
            sample_ids: np.ndarray | None = None, progress: Progress | None = None) -> Model:
        """Fit preprocessing and weights on raw features *X* and labels *y*; return self.

        ``n_classes`` is the task's class count (labels may not cover every class);
        ``sample_ids`` are the dataset indices of the rows (models that unlearn
        exactly, e.g. SISA, remember which sample went where); ``progress`` is a
        :class:`qaudit.sdk.progress.Progress`."""
        ...

    def copy(self) -> Model:
        """A deep copy, fitted state included (unlearning methods work on copies)."""
        ...

    def task(self, X: np.ndarray) -> QuantumTask:
        """The :class:`QuantumTask` evaluating raw features *X* (n, n_features): pre-processing and any
        classical encoder run here; the circuit's parameters are the current weights."""
        ...

    def head(self, expectations: np.ndarray) -> np.ndarray:
        """(n, n_classes) class probabilities from the task's (n, n_observables) expectation values."""
        ...

    def predict_proba(self, X: np.ndarray, backend: Backend | None = None, shots: int | None = None,
                      seed: int | None = None) -> np.ndarray:
        """(n, n_classes) class probabilities of raw features *X* (each row sums to 1).

        Runs on *backend* (None: the default exact backend) with *shots* measurements per sample
        (None: exact), shot noise seeded by *seed*. It must equal what the host computes for the model,
        :func:`qaudit.run.query.predict_proba` (``head(backend.expectation(task(X)))``, or ``combine`` of the
        parts' probabilities for an :class:`EnsembleModel`): implement it as
        ``return qaudit.run.query.predict_proba(self, X, backend, shots, seed)``, as
        :class:`qaudit.train.classifier.CircuitClassifier` does. Unlearning methods and attacks call it on models of
        any kind; :func:`qaudit.sdk.testing.model_checks` checks the two agree."""
        ...

    @property
    def n_qubits(self) -> int:
        """Width of the circuit."""
        ...

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        """Mean training loss over the batch (cross-entropy unless an option of the model chooses another, e.g.
        basic-qnn's ``loss``) and its exact gradient per weight."""
        ...

    def per_sample_grads(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        """Per-sample loss gradients, each (n_samples, *weight.shape), for every name of ``weights``;
        their mean is ``loss_and_grad``'s gradient. DP-SGD (``qaudit train --dp``) clips and sums them, so
        compute them batched (one call per minibatch), not in a Python loop over samples."""
        ...

    def initialise(self, X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> Model:
        """Optional capability (needed by ``qaudit train --dp`` and ``qaudit audit-dp --dp``): fit the
        pre-processing on raw features *X* and draw the initial ``weights`` (seeded by the model's ``seed``
        option) without training; return self. The host then trains ``weights`` in place with DP-SGD from
        :meth:`per_sample_grads`, reading the optimiser settings ``epochs``, ``lr``, ``batch_size``,
        ``momentum`` and ``nesterov`` from :meth:`get_params` when present. A model kind without it (e.g.
        an ensemble) is refused for DP training with a one-line error naming the kind."""
        ...

    def circuit(self) -> Any:
        """The parameterised ``cirq.Circuit`` (symbols named as in ``weights``)."""
        ...

    def to_document(self) -> dict[str, Any]:
        """The model-file sections ``config``, ``params``, ``preprocessing``."""
        ...

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> Model:
        """Rebuild from validated model-file sections; raise QauditError on bad content."""
        ...


class EnsembleModel(Model, Protocol):
    """A model made of several models (optional extension of :class:`Model`, e.g. SISA).

    :func:`qaudit.run.query.query` queries every part on the same backend and combines
    their probabilities; ``task``/``head`` are not used for an ensemble."""

    def parts(self) -> list[Model]:
        """The constituent models, in a fixed order."""
        ...

    def combine(self, probs: list[np.ndarray]) -> np.ndarray:
        """(n, n_classes) ensemble probabilities from the parts' probabilities (same order as ``parts``)."""
        ...


class DatasetSource(Protocol):
    """Loads a dataset. Registered via ``register_datasets``."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: ``{"default"}`` for the dataset ``qaudit train`` uses when none is named.
    roles: ClassVar[frozenset[str]]
    #: Optional: file suffixes (``(".csv",)``) this source loads when ``--dataset`` is a path.
    suffixes: ClassVar[tuple[str, ...]]

    def load(self, options: dict[str, Any]) -> Dataset:
        """Return a :class:`qaudit.files.data.Dataset`; raise QauditError if files are missing."""
        ...
