"""Conformance checks of an execution backend (:class:`qaudit.sdk.protocols.Backend`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError
from qaudit.sdk.testing.checks import Check, Step, Suite, check_class_attributes, fail
from qaudit.sdk.testing.hosts import make_host
from qaudit.sdk.testing.sample_model import train_tiny_model

#: How many tasks :func:`default_tasks` returns (task0: the tiny model's amplitude-encoded circuit,
#: task1: an angle-encoded circuit with X/Y/Z observables).
N_DEFAULT_TASKS = 2
TOO_WIDE = "too wide"


def _angle_task() -> Any:
    """A 3-qubit angle-encoded task with X/Y/Z observables (exercises feature binding)."""
    import cirq
    import sympy

    from qaudit.sdk.protocols import QuantumTask

    q = cirq.LineQubit.range(3)
    f = [sympy.Symbol(f"x_{i}") for i in range(3)]
    t = [sympy.Symbol(f"t_{i}") for i in range(6)]
    circuit = cirq.Circuit(
        [cirq.rx(f[i]).on(q[i]) for i in range(3)],
        [cirq.ry(t[i]).on(q[i]) for i in range(3)],
        cirq.CNOT(q[0], q[1]), cirq.CNOT(q[1], q[2]),
        [cirq.rz(t[3 + i]).on(q[i]) for i in range(3)],
        [cirq.ry(f[i] * 0.5).on(q[i]) for i in range(3)],
    )
    rng = np.random.default_rng(7)
    return QuantumTask(circuit, q, [s.name for s in t], rng.uniform(-np.pi, np.pi, 6),
                       ["Z0", "X1", "Y2", "Z0 Z2", "X0 Y1"], feature_names=[s.name for s in f],
                       features=rng.uniform(-np.pi, np.pi, (5, 3)))


def default_tasks(n_samples: int = 6) -> list[Any]:
    """Tasks :func:`check_backend` runs: the tiny model's amplitude-encoded circuit and an
    angle-encoded circuit with X/Y/Z observables."""
    tiny = train_tiny_model()
    X, _ = tiny.members
    return [tiny.model.task(X[:n_samples]), _angle_task()]


def exact_reference(task: Any) -> np.ndarray:
    """Exact expectation values of *task* from qaudit's numpy engine."""
    from qaudit.engine import PauliObservables, Program, forward

    program = Program.from_circuit(task.circuit, task.qubits, task.param_names, task.feature_names)
    ev, _ = forward(program, task.param_values, PauliObservables(task.observables, task.n_qubits),
                    states=task.states, features=task.features)
    return np.asarray(ev)


def backend_reference(backend: str | Any, argument: str | None = None) -> Callable[[Any], np.ndarray]:
    """A *reference* for :func:`check_backend`: exact values from another backend (a registered
    name or class), e.g. ``backend_reference("density-matrix")`` to check a noisy backend."""
    cls = make_host().get("backend", backend) if isinstance(backend, str) else backend
    instance = cls(argument) if getattr(cls, "takes_argument", False) else cls()
    return lambda task: np.asarray(instance.expectation(task, shots=None, seed=0), dtype=np.float64)


def backend_suite(backend_cls: Any, argument: str | None = None, *, shots: int = 4000, seed: int = 0,
                  atol: float = 1e-6, sigmas: float = 5.0, tasks: Sequence[Any] | None = None,
                  reference: Callable[[Any], np.ndarray] = exact_reference) -> Suite:
    """The checks of :func:`backend_checks` with their shared steps; ``result()`` is the values per
    ``"task:mode"``."""
    suite = Suite(backend_cls)
    caps = getattr(backend_cls, "capabilities", None)
    results: dict[str, np.ndarray] = {}
    instance = Step("constructing the backend", lambda: backend_cls(argument) if getattr(
        backend_cls, "takes_argument", False) else backend_cls())
    all_tasks = Step("building the tasks", lambda: list(default_tasks() if tasks is None else tasks))
    n_tasks = N_DEFAULT_TASKS if tasks is None else len(tasks)
    settings = {"shots": shots, "seed": seed, "atol": atol, "sigmas": sigmas, "reference": reference}

    def run_task(k: int) -> str | None:
        return _run_task(k, all_tasks.need()[k], instance.need(), caps, settings, results)

    steps = [Step(f"task{k}", lambda k=k: run_task(k)) for k in range(n_tasks)]
    suite.add("class_attributes", lambda: check_class_attributes(backend_cls))
    suite.add("capabilities", lambda: _capabilities(caps))
    suite.add("constructs", instance)
    for k, step in enumerate(steps):
        suite.add(f"task{k}", step)
    suite.add("runs_some_task", lambda: _some_task_ran(steps))
    suite.result = lambda: results
    return suite


def backend_checks(backend_cls: Any, argument: str | None = None, **settings: Any) -> Iterator[Check]:
    """Named checks of a :class:`qaudit.sdk.protocols.Backend` class (arguments as :func:`check_backend`):
    ``class_attributes``, ``capabilities``, ``constructs``, one ``taskK`` per task (its exact and shot
    values, and the counts of a :class:`~qaudit.sdk.protocols.SamplingBackend`) and ``runs_some_task``."""
    return backend_suite(backend_cls, argument, **settings).named()


def check_backend(backend_cls: Any, argument: str | None = None, *, shots: int = 4000, seed: int = 0,
                  atol: float = 1e-6, sigmas: float = 5.0, tasks: Sequence[Any] | None = None,
                  reference: Callable[[Any], np.ndarray] = exact_reference) -> dict[str, np.ndarray]:
    """Check a :class:`qaudit.sdk.protocols.Backend` class against exact expectation values.

    For every task (default :func:`default_tasks`): values have shape
    ``(n_samples, n_observables)``, are finite and within [-1, 1]; if the backend
    declares ``capabilities.exact``, ``shots=None`` agrees with *reference* to
    *atol*; if it declares ``capabilities.shots``, ``shots=N`` agrees within
    *sigmas* standard errors (``sqrt((1 - <P>^2) / N)`` per Pauli expectation)
    and repeats exactly with the same seed. For a noisy backend pass a noisy
    *reference* (:func:`backend_reference`). A task the backend refuses with a
    ``QauditError`` (a declared limitation) is skipped; at least one must run.
    A backend with a ``sample`` method (:class:`qaudit.sdk.protocols.SamplingBackend`)
    must return reproducible integer counts whose Z parities match too.
    Every check runs (:func:`backend_checks` names them); one ``AssertionError`` lists every failure.
    Returns the backend's values per ``"task:mode"`` (empty for skipped tasks).
    """
    return backend_suite(backend_cls, argument, shots=shots, seed=seed, atol=atol, sigmas=sigmas, tasks=tasks,
                         reference=reference).run()


# --------------------------------------------------------------------------- checks
def _capabilities(caps: Any) -> None:
    if caps is None:
        fail("missing class attribute 'capabilities' (qaudit.sdk.protocols.Capabilities)")
    if not (caps.exact or caps.shots):
        fail("capabilities declare neither exact nor shots")


def _some_task_ran(steps: list[Step]) -> None:
    reasons = []
    for step in steps:
        try:
            outcome = step.need()
        except AssertionError:
            return  # it ran (its own check reports the failure)
        if outcome is None:
            return
        reasons.append(outcome)
    declared = [r for r in reasons if r != TOO_WIDE]
    fail("no task could be run: " + "; ".join(declared or ["all tasks exceed max_qubits"]))


def _run_task(k: int, task: Any, backend: Any, caps: Any, settings: dict[str, Any],
              results: dict[str, np.ndarray]) -> str | None:
    """Run one task in every mode the backend declares; None when it ran, else why it was skipped."""
    _capabilities(caps)
    if caps.max_qubits is not None and task.n_qubits > caps.max_qubits:
        return TOO_WIDE
    shots, seed = settings["shots"], settings["seed"]
    want = np.asarray(settings["reference"](task), dtype=np.float64)
    modes = ([None] if caps.exact else []) + ([shots] if caps.shots else [])
    for i, mode in enumerate(modes):
        label = f"task {k} ({task.n_qubits} qubits), shots={mode or 'exact'}"
        try:
            got = np.asarray(backend.expectation(task, shots=mode, seed=seed), dtype=np.float64)
        except QauditError as exc:  # a declared limitation (e.g. no angle encoding): skip this task
            results[f"{k}:unsupported"] = np.array([])
            return None if i else f"{label}: {exc}"
        _check_values(label, got, want, mode, caps, settings)
        if mode is not None:
            again = np.asarray(backend.expectation(task, shots=mode, seed=seed), dtype=np.float64)
            if not np.array_equal(again, got):
                fail(f"{label}: same seed gave different samples (must be deterministic)")
        results[f"{k}:{mode or 'exact'}"] = got
    if caps.shots and callable(getattr(backend, "sample", None)):
        results[f"{k}:counts"] = _check_counts(backend, task, want, shots, seed, settings["sigmas"])
    return None


def _check_values(label: str, got: np.ndarray, want: np.ndarray, mode: int | None, caps: Any,
                  settings: dict[str, Any]) -> None:
    if got.shape != want.shape:
        fail(f"{label}: expected shape {want.shape}, got {got.shape}")
    if not np.all(np.isfinite(got)) or np.abs(got).max() > 1 + 1e-9:
        fail(f"{label}: values must be finite and within [-1, 1]")
    if mode is None:
        err = np.abs(got - want).max()
        if err > settings["atol"]:
            hint = " (a noisy backend needs a noisy reference=, e.g. backend_reference(...))" \
                if caps.noise and settings["reference"] is exact_reference else ""
            fail(f"{label}: differs from the reference by {err:.3g} (> {settings['atol']}){hint}")
        return
    sigma = np.sqrt(np.clip(1 - want**2, 0, None) / mode)
    z = np.abs(got - want) / (sigma + 1.0 / mode)
    if z.max() > settings["sigmas"]:
        fail(f"{label}: {z.max():.1f} standard errors from exact (> {settings['sigmas']})")


def _check_counts(backend: Any, task: Any, want: np.ndarray, shots: int, seed: int, sigmas: float) -> np.ndarray:
    """``SamplingBackend.sample``: integer counts per bit string summing to *shots*, reproducible,
    and Z-string parities of the counts within shot noise of the reference."""
    from qaudit.engine.observables import parse_pauli

    label = f"sample() on a {task.n_qubits}-qubit task"
    counts = np.asarray(backend.sample(task, shots, seed))
    if counts.shape != (task.n_samples, 2**task.n_qubits):
        fail(f"{label}: expected counts of shape {(task.n_samples, 2**task.n_qubits)}, got {counts.shape}")
    if counts.dtype.kind not in "iu" or counts.min() < 0 or np.any(counts.sum(axis=1) != shots):
        fail(f"{label}: counts must be non-negative integers summing to shots={shots} per sample")
    if not np.array_equal(np.asarray(backend.sample(task, shots, seed)), counts):
        fail(f"{label}: same seed gave different counts")
    index = np.arange(2**task.n_qubits)
    for j, term in enumerate(task.observables):
        paulis = parse_pauli(term, task.n_qubits)
        if set(paulis.values()) - {"Z"}:
            continue
        parity = np.ones(len(index))
        for q in paulis:
            parity *= 1 - 2 * ((index >> (task.n_qubits - 1 - q)) & 1)
        estimate = counts @ parity / shots
        sigma = np.sqrt(np.clip(1 - want[:, j] ** 2, 0, None) / shots) + 1.0 / shots
        z = np.abs(estimate - want[:, j]) / sigma
        if z.max() > sigmas:
            fail(f"{label}: <{term}> from the counts is {z.max():.1f} standard errors from the reference "
                 "(bit order: qubit 0 is the most significant bit)")
    return counts
