"""The protocols registered things follow. Plugin authors implement these.

Everything here is typing only (``typing.Protocol``) plus small dataclasses
passed across the seams; nothing imports Cirq at module import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TextIO, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the CLI refuses combinations it lacks."""

    exact: bool = True
    shots: bool = False
    noise: bool = False
    hardware: bool = False
    max_qubits: int | None = None


class DeferredCircuit:
    """A task's ``cirq.Circuit`` and qubit register, built on first read (models that describe their circuit in
    the engine's gate list, :mod:`qaudit.engine.gates`, so engine-only runs never import Cirq).

    ``build()`` returns ``(circuit, qubits)``; ``n_qubits`` is known without building."""

    def __init__(self, build: Any, n_qubits: int):
        self._build, self.n_qubits, self._built = build, int(n_qubits), None

    def get(self) -> tuple[Any, list]:
        """``(circuit, qubits)``, built once."""
        if self._built is None:
            circuit, qubits = self._build()
            self._built = (circuit, list(qubits))
        return self._built


@dataclass
class QuantumTask:
    """One batch of circuit executions, independent of any model class.

    ``circuit`` is a parameterised ``cirq.Circuit`` on ``qubits`` (big-endian:
    ``qubits[0]`` is the most significant bit of the state index).
    ``param_values`` binds its trainable symbols. Each sample starts either
    from ``states[i]`` (amplitude encoding; (n_samples, 2**n) complex128) or
    from |0...0> with ``features[i]`` bound to ``feature_names`` (angle
    encoding). ``observables`` are Pauli strings such as ``"Z0"`` or ``"X1 Z3"``.
    """

    circuit: Any
    qubits: list
    param_names: list[str]
    param_values: np.ndarray
    observables: list[str]
    states: np.ndarray | None = None
    feature_names: list[str] = field(default_factory=list)
    features: np.ndarray | None = None
    #: The noise model the model was trained under (``"paper"`` or ``"p1=..,p2=..,bitflip=.."``), or None.
    #: Backends that cannot simulate noise (``capabilities.noise`` False) are refused for such tasks.
    noise: str | None = None
    #: Optional cache for backends built on qaudit's engine: an object with ``program``
    #: (:class:`qaudit.engine.Program`) and ``observables`` (:class:`qaudit.engine.PauliObservables`)
    #: compiled from ``circuit``. Other backends ignore it; it never changes a result.
    engine_program: Any = None

    @property
    def n_samples(self) -> int:
        """Number of samples (rows of ``states`` or ``features``; 1 if neither is given)."""
        if self.states is not None:
            return int(self.states.shape[0])
        return int(self.features.shape[0]) if self.features is not None else 1

    @property
    def n_qubits(self) -> int:
        """Number of qubits of the circuit (without building a deferred circuit)."""
        deferred = self.__dict__.get("_qubits")
        return deferred.n_qubits if isinstance(deferred, DeferredCircuit) else len(self.qubits)

    def resolver(self) -> dict[str, float]:
        """Trainable symbol -> value, ready for ``cirq.ParamResolver``."""
        return {n: float(v) for n, v in zip(self.param_names, self.param_values)}


def _deferred_field(name: str, position: int, doc: str) -> property:
    key = "_" + name

    def get(self: QuantumTask) -> Any:
        value = self.__dict__[key]
        if isinstance(value, DeferredCircuit):
            value = value.get()[position]
            self.__dict__[key] = value
        return value

    def put(self: QuantumTask, value: Any) -> None:
        self.__dict__[key] = value

    get.__doc__ = doc
    return property(get, put, doc=doc)


QuantumTask.circuit = _deferred_field(  # type: ignore[assignment]
    "circuit", 0, "The parameterised ``cirq.Circuit`` (a :class:`DeferredCircuit` is built on this first read).")
QuantumTask.qubits = _deferred_field(  # type: ignore[assignment]
    "qubits", 1, "The qubit register, big-endian (a :class:`DeferredCircuit` is built on this first read).")


@runtime_checkable
class Backend(Protocol):
    """Runs :class:`QuantumTask` batches. Registered via ``register_backends``.

    ``capabilities`` tells the CLI what to refuse (``--shots`` on an exact-only
    backend, exact mode on a measuring one, too-wide models). A backend class that
    sets ``takes_argument = True`` is constructed with the text after the colon of
    ``--backend NAME:ARG`` (e.g. a noise spec or a processor name) and may define
    ``max_qubits() -> int`` for instance-specific width limits. Backends that can
    return raw measurement outcomes also implement :class:`SamplingBackend`.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    #: ``{"default"}`` for the default (exact) backend, ``{"shots"}`` for the default when ``--shots`` is given.
    roles: ClassVar[frozenset[str]]
    #: Optional (default False): the class is constructed with the text after ``NAME:``.
    takes_argument: ClassVar[bool]
    #: Optional instance attribute (default True): False when this configuration cannot compute exact values.
    exact: bool

    def max_qubits(self) -> int | None:
        """Optional: the widest circuit this instance can run (e.g. a processor's qubit count), or None."""
        ...

    def describe(self, task: QuantumTask | None = None) -> dict[str, Any]:
        """Optional: facts for ``qaudit backends --describe`` (device, compiled depth of *task*...)."""
        ...

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """(n_samples, n_observables) float64 expectation values.

        ``shots=None`` is exact; ``shots=N`` estimates each observable from N
        measured bit strings per sample and per measurement basis, as hardware
        does, reproducibly for a given ``seed``.
        """
        ...


@dataclass
class ExecutionPlan:
    """What running one :class:`QuantumTask` on a backend submits and costs (optional ``Backend.plan``).

    Computed *before* anything runs (``qaudit leak --dry-run``, ``--max-qpu-seconds``) and, by a backend that
    records what it did, again for what it actually submitted (``Backend.submitted``): the two must agree.
    ``circuits`` distinct compiled circuits, ``bindings`` parameter bindings (samples, plus calibration ones),
    ``shots`` per binding, ``units`` primitive units of work (circuit + bindings blocks), ``jobs`` submitted
    jobs; ``depth`` and ``two_qubit_gates`` of the compiled circuit (the deepest one), ``qpu_seconds`` the
    estimated device time (None for simulators that cost nothing), ``mitigation`` what error mitigation adds,
    ``notes`` how the figures were obtained (optimisation level, timing model).
    """

    backend: str
    circuits: int = 0
    bindings: int = 0
    shots: int = 0
    units: int = 0
    jobs: int = 0
    depth: int | None = None
    two_qubit_gates: int | None = None
    qpu_seconds: float | None = None
    mitigation: str | None = None
    notes: list[str] = field(default_factory=list)

    def add(self, other: ExecutionPlan) -> ExecutionPlan:
        """The plan of running *self* then *other* (counts add; depth and gates are the larger)."""
        def worst(a: int | None, b: int | None) -> int | None:
            return b if a is None else a if b is None else max(a, b)

        seconds = None if self.qpu_seconds is None and other.qpu_seconds is None else \
            (self.qpu_seconds or 0.0) + (other.qpu_seconds or 0.0)
        return ExecutionPlan(self.backend or other.backend, self.circuits + other.circuits,
                             self.bindings + other.bindings, max(self.shots, other.shots), self.units + other.units,
                             self.jobs + other.jobs, worst(self.depth, other.depth),
                             worst(self.two_qubit_gates, other.two_qubit_gates), seconds,
                             self.mitigation or other.mitigation, list(dict.fromkeys(self.notes + other.notes)))

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable form (stable keys; documented in docs/hardware.md)."""
        return {"backend": self.backend, "circuits": self.circuits, "bindings": self.bindings, "shots": self.shots,
                "units": self.units, "jobs": self.jobs, "depth": self.depth, "two_qubit_gates": self.two_qubit_gates,
                "qpu_seconds": None if self.qpu_seconds is None else round(float(self.qpu_seconds), 3),
                "mitigation": self.mitigation, "notes": list(self.notes)}


@runtime_checkable
class PlanningBackend(Backend, Protocol):
    """A backend whose runs cost budget (hardware, or a local mode of it): optional extension of :class:`Backend`.

    The host then (1) queries the audit's target **once** on every sample it may score, so the backend sees one
    task with every sample as a parameter binding; (2) asks :meth:`plan` before anything runs
    (``--dry-run`` prints it, ``--max-qpu-seconds`` refuses a run above the cap); (3) hands the backend a
    checkpoint store (:meth:`use_checkpoints`) so submitted jobs survive an interruption (``--resume``).
    """

    def plan(self, task: QuantumTask, shots: int | None) -> ExecutionPlan:
        """What :meth:`Backend.expectation` / :meth:`SamplingBackend.sample` on *task* with *shots* would submit
        and cost, computed without running anything (compiling is allowed: it is cached for the run)."""
        ...

    def submitted(self) -> ExecutionPlan | None:
        """What this instance actually submitted so far (same fields as :meth:`plan`), or None before any run."""
        ...

    def use_checkpoints(self, store: Any) -> None:
        """Receive a :class:`qaudit.checkpoints.Checkpoints` store (kind ``backend-jobs``; ``store.resume`` is
        ``--resume``). Write each job's id under a content key of what it runs the moment the id exists
        (``store.put``, atomic), and its result once collected; when resuming, collect stored jobs (finished or
        still running) instead of resubmitting them and resubmit only failed or lost ones. Never store
        credentials, tokens or account ids. On Ctrl-C, leave submitted jobs running and say on stderr how to
        collect them (rerun with ``--resume``)."""
        ...

    def facts(self) -> dict[str, Any]:
        """JSON-serialisable facts for the report: device, noise, mitigation applied and its calibration,
        compiled depth, job ids -- never credentials."""
        ...


@runtime_checkable
class SamplingBackend(Backend, Protocol):
    """A backend that also returns bit-string counts (optional extension of :class:`Backend`)."""

    def sample(self, task: QuantumTask, shots: int, seed: int | None = None) -> np.ndarray:
        """(n_samples, 2**n_qubits) int64 counts of *shots* computational-basis bit strings
        per sample; index i is the bit string with qubit 0 as the most significant bit."""
        ...


@runtime_checkable
class Model(Protocol):
    """A trainable QNN classifier (scikit-learn conventions).

    A model is classical pre-processing + a parameterised circuit (:meth:`task`) +
    a classical head (:meth:`head`). The host evaluates it only through
    :func:`qaudit.query.query`: ``head(backend.run(task(X)))``, so any backend can
    run any model. ``from_options`` stores options only; ``fit`` trains and returns
    self. ``weights`` maps names to float64 arrays (everything trained);
    ``loss_and_grad``/``per_sample_grads`` are exact and use the same names.
    :class:`qaudit.qnn.CircuitClassifier` implements all of it for a circuit
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
    #: training data (``"image"`` or ``"tabular"``, :attr:`qaudit.data.Dataset.kind`); a model may choose its
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
            sample_ids: np.ndarray | None = None, progress: Any = None) -> Model:
        """Fit preprocessing and weights on raw features *X* and labels *y*; return self.

        ``n_classes`` is the task's class count (labels may not cover every class);
        ``sample_ids`` are the dataset indices of the rows (models that unlearn
        exactly, e.g. SISA, remember which sample went where); ``progress`` is a
        :class:`qaudit.progress.Progress`."""
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

    :func:`qaudit.query.query` queries every part on the same backend and combines
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

    def load(self, options: dict[str, Any]) -> Any:
        """Return a :class:`qaudit.data.Dataset`; raise QauditError if files are missing."""
        ...


@dataclass
class Outputs:
    """What querying a model on a batch reveals (rows follow the queried samples).

    ``probs`` (n, n_classes) class probabilities; ``expectations`` (n, n_obs) the
    (estimated, when ``shots``) readout expectation values before the classical
    head, when the model exposes them; ``counts`` (n, 2**n_qubits) raw bit-string
    counts (index = big-endian bit string) when a finite-shot run provides them.
    """

    probs: np.ndarray
    expectations: np.ndarray | None = None
    counts: np.ndarray | None = None
    shots: int | None = None
    #: The readout observables behind ``expectations`` and the circuit width (for shot-noise models).
    observables: list[str] | None = None
    n_qubits: int | None = None


@dataclass
class AttackContext:
    """Everything an attack may use. ``members``/``non_members`` are the attacker's
    known examples (raw features and labels) for calibration.

    ``population_X/y`` is data from the same distribution never used by the
    target (for shadow/reference models and RMIA's z-samples). ``X_targets``/
    ``y_targets`` are the samples that will be scored (online attacks such as
    LiRA train reference models with and without them). ``n_train`` is the size
    of the target's training set (reference models copy it), ``n_reference`` the
    number of reference/shadow models, ``n_jobs`` the worker processes they may
    use. ``options`` holds attack-specific settings (``--attack-option``),
    ``cache`` is shared by all attacks of one audit (reference models are trained
    once), and ``query`` -- set by the audit -- is ``query(model, X, exact)``
    returning :class:`Outputs` (target on the audit's backend and shots; other
    models or ``exact=True`` evaluated exactly).
    """

    model: Any
    backend: Any
    shots: int | None
    seed: int
    X_members: np.ndarray
    y_members: np.ndarray
    X_non_members: np.ndarray
    y_non_members: np.ndarray
    population_X: np.ndarray | None = None
    population_y: np.ndarray | None = None
    progress: Any = None
    X_targets: np.ndarray | None = None
    y_targets: np.ndarray | None = None
    n_train: int | None = None
    n_classes: int | None = None
    n_reference: int = 16
    n_jobs: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    query: Any = None
    #: A :class:`qaudit.checkpoints.Checkpoints` store for long pieces of work (reference models): attacks
    #: that train models put each finished one there, and reuse it when the audit resumes (``--resume``).
    checkpoints: Any = None
    #: Reference-model outputs recorded outside qaudit (a black-box audit, ``qaudit leak --outputs``), or None
    #: when the attack trains its own reference models: a :class:`RecordedReferences`. Attacks that declare the
    #: ``reference_outputs`` signal use these models instead of training any.
    references: Any = None
    #: The :class:`Executor` that runs independent jobs (reference/shadow models); None means the
    #: default for ``n_jobs`` (:func:`qaudit.parallel.executor_for`). Never import Dask in a plugin: use this.
    executor: Any = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (a fitted attack shipped to a worker) without the live progress display and executor."""
        return {**self.__dict__, "progress": None, "executor": None}

    def outputs(self, X: np.ndarray, model: Any = None, exact: bool = False) -> Outputs:
        """Query *model* (default: the target) on raw features *X*; see the class docstring."""
        if self.query is None:
            from qaudit.query import TargetQueries

            self.query = TargetQueries(self.model, self.backend, self.shots, self.seed)
        return self.query(self.model if model is None else model, X, exact)


#: The signals an attack may read, by name (``Attack.signals``). An audit of a model provides all of them;
#: a black-box audit of recorded outputs (``qaudit leak --outputs FILE``, docs/outputs-format.md) provides
#: ``outputs`` and, when the file records reference models, ``reference_outputs`` -- and runs an attack only
#: when it provides every signal the attack declares.
SIGNALS: dict[str, str] = {
    "outputs": "the target's class probabilities and the labels of the scored and the attacker-known samples "
               "(through context.outputs(X))",
    "reference_outputs": "reference models' class probabilities on the scored samples and which of them each "
                         "model trained on (trained by the audit, or recorded: AttackContext.references)",
    "model": "the target model itself: its architecture (to train shadow or reference models), its circuit, or "
             "queries of samples the audit did not record",
    "counts": "raw bit-string counts of finite-shot runs (Outputs.counts)",
}


@dataclass
class RecordedReferences:
    """Reference models whose outputs were recorded outside qaudit (black-box audits).

    ``models`` are opaque handles: ``context.outputs(X, model=handle)`` returns a handle's recorded
    class probabilities on the samples *X*; :meth:`membership` says which samples each model trained on.
    """

    models: list[Any]
    #: (K, n_samples) bool over every recorded sample: True where model k trained on the sample.
    keep: np.ndarray
    #: Maps a batch *X* of the audit's samples to their rows of ``keep`` (set by the host).
    rows: Any

    def membership(self, X: np.ndarray) -> np.ndarray:
        """(K, len(X)) bool: which of the samples *X* each reference model trained on."""
        return self.keep[:, self.rows(X)]


class Attack(Protocol):
    """A membership-inference attack. Registered via ``register_attacks``.

    Optional members (the host uses the default when a class leaves them out):
    ``roles`` (default empty), ``needs_shots`` (False), ``uses_known_labels`` (True), ``needs_reference``
    (False), ``reference_models`` (16),
    ``decision_threshold`` (None), ``signals`` (``{"model"}``), ``details()`` (``{}``) and ``target_samples``
    (None).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    #: Host defaults this attack belongs to: ``"default"`` (``qaudit leak`` with no ``--attack``; with
    #: ``--fast`` only those that train no reference models, see ``needs_reference``), ``"fast"`` (no
    #: reference models; demos and quick checks), ``"verification"`` (the one attack the unlearning
    #: verification fits on the original model).
    roles: ClassVar[frozenset[str]]
    #: Optional (default False): the attack trains reference/shadow models (``qaudit leak --fast`` leaves it out).
    needs_reference: ClassVar[bool]
    #: Optional (default 16): how many reference models (``AttackContext.n_reference``) the attack needs when
    #: the user does not pass ``--reference-models``; an audit trains the largest number its attacks declare.
    reference_models: ClassVar[int]
    #: True when the attack scores raw bit-string counts and so needs ``--shots``.
    needs_shots: ClassVar[bool]
    #: Optional (default True): ``fit`` reads the attacker-known ``X_members``/``X_non_members``; the audit then
    #: cross-fits it (k fits, each scoring the fold it did not see). False: fitted once, known sets empty,
    #: every scored sample in ``X_targets`` (threshold and reference-model attacks).
    uses_known_labels: ClassVar[bool]
    #: After ``fit``: the score at or above which the attack calls a sample "member" (the paper's MIA
    #: accuracy is the fraction of members at or above it), or None when the attack has no decision rule.
    decision_threshold: float | None
    #: Optional (default ``frozenset({"model"})``: the attack runs only in audits of a model): the signals
    #: (keys of :data:`SIGNALS`) the attack reads. A black-box audit of recorded outputs runs the attack only
    #: when the file provides all of them, and otherwise names the missing signal. Declare the least you need:
    #: a threshold attack reads ``{"outputs"}``, LiRA ``{"outputs", "reference_outputs"}``.
    signals: ClassVar[frozenset[str]]

    def fit(self, context: AttackContext) -> Attack:
        """Prepare (train attack models, reference models...); return self."""
        ...

    def score(self, context: AttackContext, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """One finite membership score per sample, higher = more likely member."""
        ...

    def details(self) -> dict[str, Any]:
        """JSON-serialisable facts about the fitted attack for the report (epochs, reference models...)."""
        ...

    @classmethod
    def target_samples(cls, context: AttackContext) -> np.ndarray | None:
        """Optional: the raw features of the samples beyond the scored ones that ``fit``/``score`` will query
        the target on (e.g. population z-samples), or None. Called once before any attack runs, with the
        audit's options and population and empty known sets; a budgeted backend (:class:`PlanningBackend`)
        plans and receives them in the one query of the target, so ``--dry-run`` equals what the run submits.
        A query of the target outside them is still answered, but submitted beyond the plan."""
        ...

    def extra_protocol(self, context: AttackContext, forget_class: int | None) -> dict[str, Any] | None:
        """Optional: a figure computed under another protocol than the audit's held-out one (e.g. a paper's own
        evaluation, chosen by the attack's options), or None. *context* holds every member and non-member of the
        audit as the known sets (``X_members`` in the model's recorded order). The audit stores the dict in the
        attack's ``details["extra_protocol"]`` and prints it in its own table; it never enters metrics, verdicts
        or gates. It should carry a ``label`` saying why it is not a held-out metric, a ``figure`` and counts
        (e.g. how many scored points the attack trained on)."""
        ...


@dataclass
class UnlearningRequest:
    """Data handed to an unlearning method (only what it declared it ``needs``)."""

    X_forget: np.ndarray
    y_forget: np.ndarray
    X_retain: np.ndarray | None = None
    y_retain: np.ndarray | None = None
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    progress: Any = None
    #: Dataset indices of the forget / retained samples (rows of X_forget / X_retain), when known.
    forget_ids: np.ndarray | None = None
    retain_ids: np.ndarray | None = None
    #: Classes forgotten as a whole (``--forget-class``), empty for an index-based request.
    forget_classes: list[int] = field(default_factory=list)
    #: Number of classes of the model's task.
    n_classes: int | None = None
    #: The :class:`Executor` for independent jobs inside the method (e.g. SISA's shards), or None (in-process).
    executor: Any = None


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

    model: Any
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


class Reporter(Protocol):
    """Renders a result object. Registered via ``register_reporters``."""

    name: ClassVar[str]
    suffix: ClassVar[str]
    #: ``{"console"}`` for the reporter used on a terminal when no ``--format`` is given.
    roles: ClassVar[frozenset[str]]

    def render(self, result: Any, stream: TextIO | None) -> None:
        """Write *result* (a :class:`qaudit.results.Report`) to *stream*; ``None`` means the terminal
        (only a ``console`` reporter is asked to do that)."""
        ...


@dataclass
class ImportRequest:
    """What ``qaudit import`` hands an importer.

    ``source`` is the user's source as typed (``path/file.py:attribute`` for Python objects, a circuit
    file path...); ``weights`` the trained-weights file or None; ``X`` (n, n_features) float64 the raw
    inputs of the data the model is checked on and audited with, ``n_classes`` its class count;
    ``options`` the importer-specific settings (``--input-params``, ``--observables``, ``-O key=value``);
    ``recipe`` the training recipe (``optimizer`` ``"sgd"`` with ``momentum``, ``nesterov`` or ``"adam"`` with
    ``betas``, ``eps``; ``epochs``, ``lr``, ``batch_size``, ``seed``) qaudit's engine uses to train reference and
    shadow models of the imported architecture: put the options your model kind accepts in its options so
    that ``model.clone().fit(...)`` follows it (``qaudit_import.common.build_model`` does).
    """

    source: str
    weights: str | None
    X: np.ndarray
    n_classes: int
    options: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportedModel:
    """An importer's result.

    ``model`` is a fitted qaudit model of the registered kind ``kind`` (data only: its model file loads
    with no code); ``reference(X)`` returns the source framework's class probabilities (n, n_classes)
    float64 for raw inputs *X* -- the host compares them with qaudit's own on the request's data;
    ``framework`` is the framework's distribution name and ``version`` its version; ``files`` the source
    files whose sha256 fingerprints the model file records (user code, circuit and weight files);
    ``details`` JSON-serialisable facts about the conversion (gate counts, layers mapped...); ``explain``
    (optional) ``explain(X) -> list[str]``: the likely causes of a failed fidelity check on the raw inputs
    *X* (one short sentence each, e.g. "the device samples 1000 shots"), called only when the check fails and
    appended to its error.
    """

    kind: str
    model: Any
    reference: Any
    framework: str
    version: str
    files: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    explain: Any = None


class Importer(Protocol):
    """Converts a model trained in another framework. Registered via ``register_importers``."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: The pip extra that installs the framework (``pip install "qaudit[EXTRA]"``), named in errors.
    extra: ClassVar[str]

    def load(self, request: ImportRequest) -> ImportedModel:
        """Read ``request.source`` and ``request.weights``, convert, return an :class:`ImportedModel`.

        May run the user's code. Raises QauditError (one line) for a missing file or attribute, an object
        of the wrong type, an unsupported gate, template or layer (named), weights whose shapes do not match
        and unspecified inputs; raises ImportError when the framework is not installed."""
        ...


@dataclass(frozen=True)
class Job:
    """One independent piece of work for an :class:`Executor`: ``fn(*args)``.

    ``seed`` is the job's own seed (derive it with :func:`qaudit.parallel.job_seeds`, never from
    the worker or the completion order) and ``origin`` says who asked (``"lira reference model 3"``,
    the plugin's name): both appear in the error when the job raises. ``args`` should be small --
    model documents, indices, seeds and handles from :meth:`Executor.share` -- not datasets.
    """

    args: tuple
    seed: int | None = None
    origin: str = ""


@dataclass(frozen=True)
class ExecutorSettings:
    """How the user asked to run jobs: ``workers`` (None = the executor's choice, e.g. the machine's
    cores), ``scheduler`` (a Dask-style address such as ``tcp://host:8786``; None = none given)."""

    workers: int | None = None
    scheduler: str | None = None


class Executor(Protocol):
    """Runs batches of independent jobs. Registered via ``register_executors``.

    The host opens one executor per command (``--executor``, ``--scheduler``) and hands it to
    plugins in their context (:attr:`AttackContext.executor`, :attr:`UnlearningRequest.executor`).
    A job's result may depend only on ``fn`` and the job's arguments (which carry its seed); an
    executor returns results in job order whatever the completion order, so every executor gives
    the same answer. ``roles``: ``"default"`` (used when ``--executor`` is not given),
    ``"inline"`` (runs jobs in the calling process; used for ``--jobs 1`` and inside workers),
    ``"scheduler"`` (used when only ``--scheduler`` is given).
    """

    name: ClassVar[str]
    description: ClassVar[str]
    roles: ClassVar[frozenset[str]]

    @classmethod
    def open(cls, settings: ExecutorSettings) -> Executor:
        """Connect/start and return a ready executor; refuse unusable settings (a missing extra,
        an unreachable scheduler, workers lacking qaudit) with a one-line ``QauditError`` quickly."""
        ...

    @classmethod
    def check(cls, settings: ExecutorSettings) -> None:
        """Optional: refuse settings that cannot work (e.g. a scheduler address that does not parse) with a
        one-line ``QauditError``, by inspection only -- no import of the executor's library, no connection. The
        commands call it while their options are read, before they load anything."""
        ...

    def share(self, value: Any) -> Any:
        """Ship *value* (a large array or tuple of arrays several jobs read) to the workers once; return a
        handle to pass in ``Job.args`` in its place. The job receives the value itself."""
        ...

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job],
            on_done: Callable[[], None] | None = None) -> list[Any]:
        """``[fn(*job.args) for job in jobs]``, possibly in parallel, in job order; *on_done()* in the
        calling thread after each finished job (progress). A job that raises stops the batch: the
        outstanding jobs are cancelled and :class:`qaudit.errors.JobFailed` names the job's origin
        and seed. Ctrl-C / SIGTERM cancel the outstanding jobs before propagating."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-serialisable facts for logs and benchmarks: ``name``, ``workers``, ``jobs`` run,
        ``shipped_bytes`` (pickled job arguments sent to workers, 0 in-process)."""
        ...

    def close(self) -> None:
        """Release workers/connections; idempotent (the host calls it when the command ends)."""
        ...
