"""Seam: execution backends and the tasks they run (``register_backends``).

:class:`QuantumTask` is what a model hands a backend; :class:`Backend` runs it (exactly or with shots),
:class:`SamplingBackend` also returns bit-string counts and :class:`PlanningBackend` plans and records what a
budgeted run submits (:class:`ExecutionPlan`). Typing only plus small dataclasses: no Cirq at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from qaudit.sdk.protocols.stores import CheckpointStore


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

    def __init__(self, build: Callable[[], tuple[Any, Sequence[Any]]], n_qubits: int):
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

    def use_checkpoints(self, store: CheckpointStore) -> None:
        """Receive a :class:`~qaudit.sdk.protocols.stores.CheckpointStore` (kind ``backend-jobs``;
        ``store.resume`` is ``--resume``). Write each job's id under a content key of what it runs the moment
        the id exists (``store.put``, atomic), and its result once collected; when resuming, collect stored jobs
        (finished or still running) instead of resubmitting them and resubmit only failed or lost ones. Never store
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
