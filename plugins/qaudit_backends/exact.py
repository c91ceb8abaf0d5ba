"""``exact``: the built-in numpy engine (shared unitary / batched adjoint), the default."""

from __future__ import annotations

import numpy as np

from qaudit.protocols import Capabilities, QuantumTask


def compile_task(task: QuantumTask):
    """Engine Program and observables for a task (compiled from its Cirq circuit)."""
    from qaudit.engine import PauliObservables, Program

    program = Program.from_circuit(task.circuit, task.qubits, task.param_names, task.feature_names)
    return program, PauliObservables(task.observables, task.n_qubits)


class ExactBackend:
    name = "exact"
    description = "built-in exact state-vector engine (numpy); the default"
    capabilities = Capabilities(exact=True, shots=False, noise=False, hardware=False, max_qubits=24)

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        from qaudit.engine import forward

        program, observables = compile_task(task)
        ev, _ = forward(program, task.param_values, observables, states=task.states, features=task.features)
        return ev
