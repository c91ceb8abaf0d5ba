"""Cirq reference simulators: ``cirq`` (state vector) and ``density-matrix`` (with noise),
plus ``noisy``, the exact Heisenberg-picture engine for the same noise model."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from qaudit.sdk import MAX_CIRQ_QUBITS, MAX_DENSITY_QUBITS, Capabilities, QauditError, QuantumTask
from qaudit_backends.common import MeasuringBackend, check_shots, resolved_circuits, rotation_ops


def _noise(argument: str | None, backend: str) -> Any:
    from qaudit.sdk.engine import NoiseModel

    try:
        return NoiseModel.parse("paper" if argument is None else argument)
    except QauditError as exc:
        raise QauditError(f"backend {backend}: {exc}") from None


def simulate_each(sim: Any, circuit: Any, task: QuantumTask, resolvers: list | None) -> Iterator[Any]:
    """One Cirq ``simulate`` per sample, yielded one at a time (density matrices are large):
    from its amplitude-encoded state, or from |0..0> with its feature resolver (angle encoding)."""
    import cirq

    for i in range(task.n_samples):
        if resolvers is None:
            yield sim.simulate(circuit, qubit_order=task.qubits,
                               initial_state=np.asarray(task.states[i], dtype=np.complex128))
        else:
            yield sim.simulate(circuit, cirq.ParamResolver(resolvers[i]), qubit_order=task.qubits)


class CirqBackend(MeasuringBackend):
    """``cirq.Simulator`` (complex128) on the model's own Cirq circuit; the reference."""

    name = "cirq"
    description = "cirq.Simulator state vector (reference; complex128); --shots samples its states"
    capabilities = Capabilities(exact=True, shots=True, noise=False, hardware=False, max_qubits=MAX_CIRQ_QUBITS)

    def _run(self, circuit: Any, task: QuantumTask) -> np.ndarray:
        import cirq

        sim = cirq.Simulator(dtype=np.complex128)
        base, resolvers = resolved_circuits(task)
        circuit = base + circuit if circuit is not None else base
        results = simulate_each(sim, circuit, task, resolvers)
        return np.array([r.final_state_vector for r in results], dtype=np.complex128)

    def probabilities(self, task: QuantumTask, basis: dict[int, str]) -> np.ndarray:
        import cirq

        psi = self._run(cirq.Circuit(rotation_ops(basis, task.qubits)), task)
        return psi.real**2 + psi.imag**2


class DensityMatrixBackend(MeasuringBackend):
    """``cirq.DensityMatrixSimulator`` on the circuit with a noise model inserted.

    ``--backend density-matrix`` uses the paper's noise; ``density-matrix:none``,
    ``density-matrix:p1=1e-3,p2=1e-2,bitflip=0.02`` configure it. Slow (one density
    matrix per sample): the ``noisy`` backend gives the same numbers exactly and fast.
    """

    name = "density-matrix"
    description = "cirq.DensityMatrixSimulator with noise (default: paper; :p1=..,p2=..,bitflip=..)"
    capabilities = Capabilities(exact=True, shots=True, noise=True, hardware=False, max_qubits=MAX_DENSITY_QUBITS)
    takes_argument = True

    def __init__(self, argument: str | None = None):
        self.noise = _noise(argument, self.name)

    def probabilities(self, task: QuantumTask, basis: dict[int, str]) -> np.ndarray:
        import cirq

        base, resolvers = resolved_circuits(task)
        circuit = self.noise.apply(base) if self.noise is not None else base
        circuit = circuit + cirq.Circuit(rotation_ops(basis, task.qubits))
        sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
        results = simulate_each(sim, circuit, task, resolvers)
        return np.array([np.real(np.diagonal(r.final_density_matrix)) for r in results])


class NoisyBackend:
    """Exact noisy expectation values from the Heisenberg-picture engine
    (:mod:`qaudit.engine.noise`): the channel is applied to the observables once per
    parameter set, each sample is a quadratic form. ``--shots`` draws the ±1
    outcomes of each observable binomially from its exact noisy expectation
    (each observable's marginal is exact; correlations between observables are not
    modelled -- use ``density-matrix`` for joint bit strings)."""

    name = "noisy"
    description = "exact noisy <P> via the Heisenberg-picture engine (default: paper noise; :p1=..,p2=..,bitflip=..)"
    capabilities = Capabilities(exact=True, shots=True, noise=True, hardware=False, max_qubits=MAX_DENSITY_QUBITS)
    takes_argument = True

    def __init__(self, argument: str | None = None):
        from qaudit.sdk.engine import NoiseModel

        self.noise = _noise(argument, self.name) or NoiseModel(0.0, 0.0, 0.0)
        self._programs: dict = {}

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """Exact noisy values, or binomial shot estimates of each observable."""
        from qaudit.sdk.engine import noisy_forward, noisy_program_for

        if task.states is None:
            raise QauditError("backend noisy needs amplitude-encoded inputs (no input-dependent gates); "
                              "use --backend density-matrix")
        program = noisy_program_for(task.circuit, task.qubits, task.param_names, self.noise, self._programs)
        ev, _ = noisy_forward(program, task.param_values, task.observables, task.states)
        shots = check_shots(shots)
        if shots is None:
            return ev
        rng = np.random.default_rng(seed)
        plus = rng.binomial(shots, np.clip((1.0 + ev) / 2.0, 0.0, 1.0))
        return (2.0 * plus - shots) / shots
