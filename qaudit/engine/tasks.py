"""Exact evaluation of a :class:`qaudit.sdk.protocols.QuantumTask` on the engine.

Backends built on qaudit's engine (``exact``, ``sampled``) and the host's exact
helpers share these functions; the compiled program is cached on the task
(``task.engine_program``), so a model that hands over its compiled program costs
no recompilation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.engine.observables import PauliObservables
from qaudit.engine.program import Program
from qaudit.sdk.errors import QauditError


@dataclass
class EngineProgram:
    """A task's circuit compiled for the engine; ``noisy`` caches noisy programs per noise spec."""

    program: Program
    observables: PauliObservables
    noisy: dict[Any, Any] = field(default_factory=dict)

    @classmethod
    def compile(cls, circuit: Any, qubits: list, param_names: list[str], feature_names: list[str],
                observables: list[str]) -> EngineProgram:
        """Compile a parameterised Cirq circuit and its Pauli-string readout."""
        program = Program.from_circuit(circuit, qubits, param_names, feature_names)
        return cls(program, PauliObservables(observables, len(qubits)))


def engine_program(task: Any) -> EngineProgram:
    """The task's compiled program (compiled from its circuit once, then cached on the task)."""
    if not isinstance(task.engine_program, EngineProgram):
        task.engine_program = EngineProgram.compile(task.circuit, task.qubits, task.param_names,
                                                    task.feature_names, task.observables)
    return task.engine_program


def exact_expectations(task: Any) -> np.ndarray:
    """(n_samples, n_observables) exact expectation values; the task's noise model applied exactly
    (Heisenberg picture, :mod:`qaudit.engine.noise`) when it has one."""
    from qaudit.engine import forward

    compiled = engine_program(task)
    if task.noise:
        return noisy_expectations(task, compiled)
    ev, _ = forward(compiled.program, task.param_values, compiled.observables, states=task.states,
                    features=task.features)
    return ev


def noisy_expectations(task: Any, compiled: EngineProgram) -> np.ndarray:
    from qaudit.engine.noise import NoiseModel, noisy_forward, noisy_program_for

    if task.states is None:
        raise QauditError("exact noisy evaluation needs amplitude-encoded inputs (no input-dependent gates)")
    noise = NoiseModel.parse(task.noise) or NoiseModel(0.0, 0.0, 0.0)
    program = noisy_program_for(task.circuit, list(task.qubits), task.param_names, noise, compiled.noisy)
    ev, _ = noisy_forward(program, task.param_values, task.observables, task.states)
    return ev


def final_states(task: Any) -> np.ndarray:
    """(n_samples, 2**n) complex128 final state vectors of a noiseless task."""
    from qaudit.engine import forward

    if task.noise:
        raise QauditError(f"the model was trained under noise {task.noise!r}: its outputs are not pure states; "
                          "use a backend that models noise (`qaudit backends`, column noise)")
    compiled = engine_program(task)
    _, evaluation = forward(compiled.program, task.param_values, compiled.observables, states=task.states,
                            features=task.features)
    return evaluation.psi


def basis_distribution(task: Any) -> np.ndarray:
    """(n_samples, 2**n) exact computational-basis outcome probabilities (qubit 0 = most significant bit)."""
    psi = final_states(task)
    probs = psi.real**2 + psi.imag**2
    return probs / probs.sum(axis=1, keepdims=True)


def task_observables(task: Any) -> PauliObservables:
    """The task's readout as :class:`PauliObservables`: the compiled program's, when the task carries one
    (no re-parsing on every batch), else parsed from ``task.observables``."""
    if isinstance(task.engine_program, EngineProgram):
        return task.engine_program.observables
    return PauliObservables(task.observables, task.n_qubits)


def readout_table(observables: list[str], n_qubits: int) -> np.ndarray:
    """(2**n, n_obs) ±1 eigenvalue of each Z-product observable on each bit string.

    Raises :class:`QauditError` for observables with X or Y factors (not diagonal)."""
    table = PauliObservables(observables, n_qubits)
    if not table.diagonal:
        raise QauditError("the readout has X/Y observables: it cannot be read from computational-basis counts")
    return table.table
