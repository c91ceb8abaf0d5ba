"""A reusable base for QNN classifiers: encoding -> circuit -> Pauli readout -> dense head.

Model plugins (built-in or third-party) subclass :class:`CircuitClassifier` and
provide the circuit; the base gives them exact training on the engine, backend
execution, per-sample gradients and model-file (de)serialisation.

Forward pass for raw features ``x``:

1. ``z = preprocessing(x)`` (fitted steps saved in the model file)
2. amplitude encoding: ``|ψ0> = Σ_i z_i |i>`` (z has 2**n entries, unit norm), or
   angle encoding: ``|ψ0> = |0..0>`` with ``z_j`` bound to feature symbol j
3. ``|ψ> = U(θ) |ψ0>`` with U the model's ``cirq.Circuit``
4. ``e_j = <ψ|O_j|ψ>`` for the Pauli-string observables O_j
5. ``logits = e @ W + b``; ``p = softmax(logits)``; loss = mean cross-entropy
"""

from __future__ import annotations

import copy
from typing import Any, ClassVar

import numpy as np

from qaudit.files import arrays
from qaudit.files import preprocessing as pp
from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import (
    MAX_BATCH_SIZE,
    MAX_CLASSES,
    MAX_EPOCHS,
    MAX_LAYERS,
    MAX_LR,
    MAX_QNN_QUBITS,
    MAX_SEED,
    MAX_STATEVECTOR_QUBITS,
    check_option,
)
from qaudit.sdk.progress import SILENT, Progress
from qaudit.sdk.protocols import DeferredCircuit, QuantumTask
from qaudit.train.training import make_optimizer, run_epochs

#: The paper's basic-QNN optimiser (Nesterov momentum, lr 0.05, batch 32); 10 epochs is ours.
NESTEROV_TRAINING: dict[str, Any] = {
    "epochs": 10, "lr": 0.05, "batch_size": 32, "momentum": 0.9, "nesterov": True, "seed": 0,
}


class Compiled:
    """A circuit classifier's circuit, compiled once: the engine ``program``, ``observables``
    (PauliObservables), readout ``terms`` and ``engine`` (:class:`qaudit.engine.tasks.EngineProgram`, handed to
    backends on every task); ``circuit`` / ``qubits`` (Cirq) are built on first read (``deferred``)."""

    def __init__(self, deferred: DeferredCircuit, program: Any, observables: Any, terms: list[str], engine: Any):
        self.deferred, self.program, self.observables, self.terms, self.engine = (
            deferred, program, observables, terms, engine)

    @property
    def circuit(self) -> Any:
        return self.deferred.get()[0]

    @property
    def qubits(self) -> list:
        return self.deferred.get()[1]

    def __getitem__(self, index: Any) -> Any:
        """Tuple access in the former order ``(circuit, qubits, program, observables, terms, engine)``."""
        return (self.circuit, self.qubits, self.program, self.observables, self.terms, self.engine)[index]


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy_grad(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-sample losses and d(mean loss)/dlogits (already divided by the batch size)."""
    n = len(y)
    losses = -np.log(np.clip(probs[np.arange(n), y], 1e-300, None))
    d = probs.copy()
    d[np.arange(n), y] -= 1.0
    return losses, d / n


def bce_multi_grad(probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The authors' ``cross_entropy_multi`` (QMU ``QNN/Training.py`` lines 45-51): per sample
    ``-Σ_c [y_c log p_c + (1 - y_c) log(1 - p_c)]`` over the softmax outputs with one-hot ``y`` -- a
    per-class binary cross-entropy, not the categorical one. Returns per-sample losses and
    d(mean loss)/dlogits (divided by the batch size, like :func:`cross_entropy_grad`).

    With ``g_c = dL/dp_c`` the softmax Jacobian gives ``dL/dz_k = p_k (g_k - Σ_c g_c p_c)``;
    probabilities are clipped to [1e-12, 1 - 1e-12] (``tests/test_basic_qnn.py`` checks the gradient
    against finite differences)."""
    n = len(y)
    p = np.clip(probs, 1e-12, 1.0 - 1e-12)
    onehot = np.zeros_like(p)
    onehot[np.arange(n), y] = 1.0
    losses = -(onehot * np.log(p) + (1.0 - onehot) * np.log1p(-p)).sum(axis=1)
    g = -onehot / p + (1.0 - onehot) / (1.0 - p)
    d = probs * (g - (g * probs).sum(axis=1, keepdims=True))
    return losses, d / n


#: Training losses by name, for models that let an option choose (:meth:`CircuitClassifier.training_loss`).
LOSSES = {"ce": cross_entropy_grad, "bce-multi": bce_multi_grad}


class CircuitClassifier:
    """Base class; see the module docstring for the forward pass.

    Subclasses set ``name``, ``description``, ``DEFAULTS`` (every accepted
    option with its default) and implement :meth:`build_circuit` and
    :meth:`fit_preprocessing`; optionally :meth:`init_theta`.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Named option bundles (``qaudit train --preset NAME``), e.g. another author's training recipe.
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {}
    encoding: ClassVar[str] = "amplitude"  # or "angle"
    DEFAULTS: ClassVar[dict[str, Any]] = {}
    TRAINING_KEYS: ClassVar[tuple[str, ...]] = (
        "epochs", "lr", "batch_size", "momentum", "nesterov", "seed")
    #: Allowed range of the numeric options (checked by :meth:`validate_options`); subclasses extend it.
    RANGES: ClassVar[dict[str, tuple[Any, ...]]] = {
        "epochs": (0, MAX_EPOCHS), "lr": (0.0, MAX_LR, "open"), "batch_size": (1, MAX_BATCH_SIZE),
        "momentum": (0.0, 0.999), "seed": (0, MAX_SEED), "qubits": (1, MAX_QNN_QUBITS),
        "layers": (1, MAX_LAYERS)}

    def __init__(self, **options: Any):
        unknown = set(options) - set(self.DEFAULTS)
        if unknown:
            raise QauditError(f"{self.name}: unknown option(s) {', '.join(sorted(unknown))} "
                              f"(accepted: {', '.join(sorted(self.DEFAULTS))})")
        self.options = {**copy.deepcopy(self.DEFAULTS), **options}
        self.weights: dict[str, np.ndarray] = {}
        self.preprocessing: list[dict[str, Any]] = []
        self.n_classes = 0
        self.n_features_in = 0
        self.history: list[float] = []
        #: The training data's kind (``"image"``/``"tabular"``), set by the host before ``fit``; subclasses'
        #: :meth:`fit_preprocessing` may choose by it (None: unknown, e.g. a retrain from options).
        self.data_kind: str | None = None
        self._compiled: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (jobs carry models to worker processes): the compiled circuit is a cache, rebuilt there."""
        state = dict(self.__dict__)
        state["_compiled"] = None
        return state

    # -- scikit-learn style ----------------------------------------------------
    @classmethod
    def from_options(cls, options: dict[str, Any]) -> CircuitClassifier:
        """An untrained model with these options, type- and range-checked (:meth:`validate_options`)."""
        model = cls(**options)
        model.validate_options()
        return model

    def get_params(self) -> dict[str, Any]:
        return copy.deepcopy(self.options)

    def clone(self) -> CircuitClassifier:
        """An unfitted copy with the same options."""
        return type(self)(**self.get_params())

    def copy(self) -> CircuitClassifier:
        """A deep copy, fitted state included."""
        other = copy.copy(self)
        other.options = copy.deepcopy(self.options)
        other.weights = {k: v.copy() for k, v in self.weights.items()}
        other.preprocessing = copy.deepcopy(self.preprocessing)
        other.history = list(self.history)
        return other

    # -- to implement ----------------------------------------------------------
    def build_gates(self) -> tuple[int, list[Any], list[str], list[str], list[str]] | None:
        """Optional: ``(n_qubits, gates, param_names, feature_names, observables)`` with the circuit as the
        engine's gate list (:class:`qaudit.engine.gates.Gate`). A model that provides it is compiled without
        Cirq; its ``cirq.Circuit`` is built only when something reads it. None: use :meth:`build_circuit`."""
        return None

    def build_circuit(self) -> tuple[Any, list, list[str], list[str], list[str]]:
        """Return ``(circuit, qubits, param_names, feature_names, observables)`` (default: the Cirq form of
        :meth:`build_gates`)."""
        described = self.build_gates()
        if described is None:
            raise NotImplementedError
        from qaudit.engine.gates import to_cirq

        n_qubits, gates, params, features, observables = described
        circuit, qubits = to_cirq(n_qubits, gates)
        return circuit, qubits, params, features, observables

    def fit_preprocessing(self, X: np.ndarray) -> list[dict[str, Any]]:
        """Fitted preprocessing steps for raw training features *X*."""
        return []

    def training_loss(self) -> Any:
        """The loss ``(probs, y) -> (per-sample losses, d mean loss / d logits)`` that training and unlearning
        descend (:func:`cross_entropy_grad`; subclasses may choose from :data:`LOSSES` by an option)."""
        return cross_entropy_grad

    def init_theta(self, rng: np.random.Generator, n_params: int) -> np.ndarray:
        return rng.normal(size=n_params)

    def init_head(self, rng: np.random.Generator, n_obs: int) -> dict[str, np.ndarray]:
        """Initial dense head. Option ``head_init``: ``"scaled"`` (default, ours): W ~ N(0, 1/n_obs),
        b = 0; ``"normal"`` (the paper's basic QNN: every parameter N(0, 1)): W, b ~ N(0, 1)."""
        if self.options.get("head_init", "scaled") == "normal":
            return {"W": rng.normal(size=(n_obs, self.n_classes)), "b": rng.normal(size=self.n_classes)}
        return {"W": rng.normal(scale=1.0 / np.sqrt(n_obs), size=(n_obs, self.n_classes)),
                "b": np.zeros(self.n_classes)}

    # -- compiled circuit ------------------------------------------------------
    @property
    def compiled(self) -> Compiled:
        """The circuit compiled once: :class:`Compiled` (circuit, qubits, engine program, observables, terms)."""
        if self._compiled is None:
            from qaudit.engine.tasks import EngineProgram

            described = self.build_gates()
            if described is not None:
                from qaudit.engine.gates import compile_gates, to_cirq
                from qaudit.engine.observables import PauliObservables

                n_qubits, gates, params, features, observables = described
                engine = EngineProgram(compile_gates(n_qubits, gates, params, features),
                                       PauliObservables(observables, n_qubits))
                deferred = DeferredCircuit(lambda: to_cirq(n_qubits, gates), n_qubits)
            else:
                circuit, qubits, params, features, observables = self.build_circuit()
                engine = EngineProgram.compile(circuit, qubits, params, features, observables)
                deferred = DeferredCircuit(lambda: (circuit, qubits), len(qubits))
            self._compiled = Compiled(deferred, engine.program, engine.observables, list(observables), engine)
        return self._compiled

    def circuit(self) -> Any:
        return self.compiled.circuit

    @property
    def n_qubits(self) -> int:
        return self.compiled.program.n_qubits

    # -- forward -------------------------------------------------------------------
    def transform(self, X: np.ndarray) -> np.ndarray:
        """Raw features -> encoded inputs (after preprocessing)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or (self.n_features_in and X.shape[1] != self.n_features_in):
            got = X.shape[1] if X.ndim == 2 else X.shape
            raise QauditError(f"{self.name}: model expects {self.n_features_in} features per sample, got {got}")
        Z = pp.apply(self.preprocessing, X)
        want = self.encoded_width()
        if Z.shape[1] != want:
            raise QauditError(f"{self.name}: encoding needs {want} features after preprocessing, got {Z.shape[1]}")
        return Z

    def encoded_width(self) -> int:
        """Width of the preprocessed input the model consumes (2**n amplitudes or n angle features)."""
        program = self.compiled.program
        return program.dim if self.encoding == "amplitude" else len(program.feature_names)

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Expected shape of every weight; a loaded model file must match exactly."""
        n_obs = len(self.compiled.observables)
        return {"theta": (len(self.compiled.program.param_names),), "W": (n_obs, self.n_classes),
                "b": (self.n_classes,)}

    def encode(self, Z: np.ndarray) -> np.ndarray:
        """Classical encoder between pre-processing and the circuit (identity here; the HQNN's CNN)."""
        return Z

    def task(self, X: np.ndarray) -> QuantumTask:
        """The :class:`QuantumTask` evaluating raw features *X* on any backend."""
        self._check_fitted()
        return self.task_for(self.encode(self.transform(X)))

    def task_for(self, inputs: np.ndarray, theta: np.ndarray | None = None) -> QuantumTask:
        """The task for circuit inputs (after :meth:`encode`), optionally with other circuit parameters."""
        c = self.compiled
        theta = self.weights["theta"] if theta is None else np.asarray(theta, dtype=np.float64)
        common = {"noise": self.options.get("noise") or None, "engine_program": c.engine}
        if self.encoding == "amplitude":
            return QuantumTask(c.deferred, c.deferred, c.program.param_names, theta, list(c.terms),
                               states=np.asarray(inputs).astype(np.complex128), **common)
        return QuantumTask(c.deferred, c.deferred, c.program.param_names, theta, list(c.terms),
                           feature_names=c.program.feature_names, features=np.asarray(inputs), **common)

    def expectations(self, Z: np.ndarray, backend: Any = None, shots: int | None = None,
                     seed: int | None = None) -> np.ndarray:
        """Expectation values for pre-processed inputs *Z* (through :func:`qaudit.run.query.run_task`)."""
        from qaudit.run.query import exact_backend, run_task

        self._check_fitted()
        task = self.task_for(self.encode(Z))
        return run_task(task, exact_backend() if backend is None else backend, shots, seed)[0]

    def head(self, ev: np.ndarray) -> np.ndarray:
        return softmax(self.head_forward(ev)[0])

    def head_forward(self, ev: np.ndarray) -> tuple[np.ndarray, Any]:
        """Logits (n, n_classes) from readout values *ev* (n, n_obs) and a cache for :meth:`head_backward`
        (the dense head ``ev @ W + b``; subclasses with another classical head override both)."""
        return ev @ self.weights["W"] + self.weights["b"], ev

    def head_backward(self, dlogits: np.ndarray, cache: Any, per_sample: bool = False
                      ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """``(dL/d ev, head weight gradients)`` from dL/dlogits (n, n_classes); per-sample gradients
        are (n, *shape) when *per_sample*."""
        ev = cache
        d_ev = dlogits @ self.weights["W"].T
        if per_sample:
            return d_ev, {"W": ev[:, :, None] * dlogits[:, None, :], "b": dlogits}
        return d_ev, {"W": ev.T @ dlogits, "b": dlogits.sum(axis=0)}

    def predict_proba(self, X: np.ndarray, backend: Any = None, shots: int | None = None,
                      seed: int | None = 0) -> np.ndarray:
        """Class probabilities through :func:`qaudit.run.query.query` (exact backend by default)."""
        from qaudit.run.query import predict_proba

        return predict_proba(self, X, backend, shots, seed)

    def predict(self, X: np.ndarray, **kwargs: Any) -> np.ndarray:
        return np.argmax(self.predict_proba(X, **kwargs), axis=1)

    def engine_inputs(self, Z: np.ndarray) -> dict[str, np.ndarray]:
        """Keyword inputs of :func:`qaudit.engine.forward` for pre-processed inputs *Z* (encoder applied)."""
        inputs = self.encode(Z)
        if self.encoding == "amplitude":
            return {"states": np.asarray(inputs)}  # real rows stay real: the engine's real-GEMM path
        return {"features": inputs}

    def trainable_encoder(self) -> bool:
        """True when :meth:`encode` has trained weights in front of the circuit: the gradient then flows into
        it through the circuit's inputs (:meth:`encoder_backward`)."""
        return False

    def encoder_backward(self, Z: np.ndarray, d_inputs: np.ndarray, per_sample: bool) -> dict[str, np.ndarray]:
        """Weight gradients of the trainable encoder for pre-processed inputs *Z* from dL/d(the circuit's
        inputs): the input features (n, n_features) of an angle encoding, or the real input states (n, 2**n)
        of an amplitude encoding; per-sample (n, *shape) when *per_sample* (see :meth:`trainable_encoder`)."""
        return {}

    def _check_fitted(self) -> None:
        if "theta" not in self.weights:
            raise QauditError(f"{self.name}: model is not trained")

    # -- gradients -------------------------------------------------------------
    def _loss_grad_encoded(self, Z: np.ndarray, y: np.ndarray, per_sample: bool = False) -> tuple[Any, dict]:
        from qaudit.engine import backward, backward_features, choose_method, forward

        program, obs = self.compiled.program, self.compiled.observables
        noisy = self._noisy_engine() if self.options.get("noise") else None
        if noisy is not None:
            ev, cache = noisy.forward(Z, keep=True)
            backward = lambda c, d, per_sample=False: (noisy.backward(c, d, per_sample), None)  # noqa: E731
        else:
            method = choose_method(program, len(Z), per_sample)
            ev, cache = forward(program, self.weights["theta"], obs, method=method, **self.engine_inputs(Z))
        logits, head_cache = self.head_forward(ev)
        losses, dlogits = self.training_loss()(softmax(logits), y)
        if per_sample:
            dlogits = dlogits * len(y)  # per-sample gradient of each sample's own loss
        d_ev, g_head = self.head_backward(dlogits, head_cache, per_sample)
        if noisy is None and self.trainable_encoder():
            if self.encoding == "amplitude":  # dL/dψ0* of the real input state: dL/dψ0 = 2 Re of it
                g_theta, d_states = backward(cache, d_ev, per_sample=per_sample, input_grad=True)
                d_inputs = 2.0 * d_states.real
            else:
                g_theta, d_inputs = backward_features(cache, d_ev, per_sample=per_sample)
            g_head = {**g_head, **self.encoder_backward(Z, d_inputs, per_sample)}
        else:
            g_theta, _ = backward(cache, d_ev, per_sample=per_sample)
        if per_sample:
            return losses, {"theta": g_theta, **g_head}
        return float(losses.mean()), {"theta": g_theta, **g_head}

    def _noisy_engine(self) -> Any:
        """Exact noisy engine for option ``noise`` (see :mod:`qaudit.engine.noise`)."""
        from qaudit.engine.noise import NoisyEngine

        return NoisyEngine.for_model(self)

    def loss_and_grad(self, X: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        self._check_fitted()
        return self._loss_grad_encoded(self.transform(X), np.asarray(y))

    def per_sample_grads(self, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
        self._check_fitted()
        return self._loss_grad_encoded(self.transform(X), np.asarray(y), per_sample=True)[1]

    def losses(self, X: np.ndarray, y: np.ndarray, **kwargs: Any) -> np.ndarray:
        probs = self.predict_proba(X, **kwargs)
        return cross_entropy_grad(probs, np.asarray(y))[0]

    # -- training --------------------------------------------------------------
    def initialise(self, X: np.ndarray, y: np.ndarray, n_classes: int | None = None) -> CircuitClassifier:
        """Fit preprocessing and draw initial weights (seeded by option ``seed``)."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y)
        self.n_features_in = X.shape[1]
        self.n_classes = check_option("number of classes", int(n_classes or (int(y.max()) + 1)), "int", 1,
                                      MAX_CLASSES, owner=self.name)
        self.preprocessing = self.fit_preprocessing(X)
        rng = np.random.default_rng(self.options.get("seed", 0))
        program = self.compiled.program
        n_obs = len(self.compiled.observables)
        self.weights = {
            "theta": self.init_theta(rng, len(program.param_names)),
            **self.init_head(rng, n_obs),
        }
        return self

    def fit(self, X: np.ndarray, y: np.ndarray, *, n_classes: int | None = None,
            sample_ids: np.ndarray | None = None, progress: Progress = SILENT) -> CircuitClassifier:
        """Train from scratch with the model's options; returns self (``sample_ids`` is not needed here)."""
        self._check_trainable(self.options["epochs"])
        self.initialise(X, y, n_classes)
        return self.partial_fit(X, y, epochs=self.options["epochs"], progress=progress)

    def _check_trainable(self, epochs: int) -> None:
        """Refuse (before any work) to train a model wider than the exact engine's state-vector limit."""
        qubits = int(self.options.get("qubits") or 0)
        if epochs and qubits > MAX_STATEVECTOR_QUBITS:
            raise QauditError(f"{self.name}: training a {qubits}-qubit model needs the exact engine, which "
                              f"simulates at most {MAX_STATEVECTOR_QUBITS} qubits; wider models can be evaluated "
                              "(--epochs 0 initialises one)")

    def partial_fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 1, progress: Progress = SILENT,
                    rng: np.random.Generator | None = None, sign: float = 1.0,
                    lr: float | None = None) -> CircuitClassifier:
        """Continue training (or ascending with ``sign=-1``) for *epochs* epochs."""
        self._check_fitted()
        self._check_trainable(epochs)
        o = self.options
        Z = self.transform(X)
        y = np.asarray(y)
        if rng is None:
            rng = np.random.default_rng(o.get("seed", 0) + 1)
        opt = make_optimizer(o, lr, sign)  # SGD with the options' momentum, or Adam (option "optimizer")
        self.history += run_epochs(self.weights, self._loss_grad_encoded, Z, y, epochs, o["batch_size"], opt,
                                   rng, progress, description=f"training {self.name}",
                                   random_batch=o.get("schedule") == "random-batch")
        return self

    # -- model file ------------------------------------------------------------
    def to_document(self) -> dict[str, Any]:
        self._check_fitted()
        return {
            "config": {**self.get_params(), "n_classes": self.n_classes, "n_features_in": self.n_features_in},
            "params": {k: arrays.encode(v) for k, v in self.weights.items()},
            "preprocessing": pp.to_json(self.preprocessing),
        }

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> CircuitClassifier:
        config = dict(document["config"])
        n_classes = config.pop("n_classes", None)
        n_features = config.pop("n_features_in", None)
        check_option("config.n_classes", n_classes, "int", 1, MAX_CLASSES)
        check_option("config.n_features_in", n_features, "int", 1, 1 << 24)
        model = cls(**config)
        model.validate_options()
        model.n_classes, model.n_features_in = n_classes, n_features
        model.preprocessing = pp.from_json(document.get("preprocessing", []))
        params = document["params"]
        expected = model.param_shapes()
        extra = set(params) - set(expected)
        if extra:
            raise QauditError(f"unknown params {', '.join(sorted(extra))}")
        for key, shape in expected.items():
            if key not in params:
                raise QauditError(f"params.{key} is missing")
            model.weights[key] = arrays.decode(params[key], f"params.{key}", shape).copy()
        width = pp.output_width(model.preprocessing, n_features)
        want = model.encoded_width()
        if width != want:
            raise QauditError(f"preprocessing yields {width} features but the encoding needs {want}")
        return model

    def validate_options(self) -> None:
        """Check option types and ranges (:func:`qaudit.sdk.limits.check_option`); subclasses extend.

        Every option whose default is a bool, an integer or a number must have that type (strict: no
        bool for a number, no float for an integer, no strings or null) and lie in :attr:`RANGES`
        (``key: (low, high)`` or ``(low, high, "open")``). Raise QauditError.
        """
        for key, default in self.DEFAULTS.items():
            value = self.options[key]
            if isinstance(default, bool):
                kind = "bool"
            elif isinstance(default, int):
                kind = "int"
            elif isinstance(default, float):
                kind = "float"
            else:
                continue
            low, high, *mode = self.RANGES.get(key, (None, None))
            self.options[key] = check_option(key, value, kind, low, high, low_open=bool(mode), owner=self.name)
