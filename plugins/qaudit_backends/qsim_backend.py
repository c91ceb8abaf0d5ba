"""``qsim``: qsimcirq state-vector simulation, optional noise via quantum trajectories.

Cirq issue #6091: Cirq/qsim spend most of their time in Python per sweep point
(resolving the symbolic circuit and translating it for qsim). The model's circuit
is the same for every sample -- only the amplitude-encoded input changes -- so the
trainable parameters are resolved **once** per parameter set and the translated
circuit is memoised by qsim (``circuit_memoization_size``); each sample is then
one ``simulate(initial_state=x)`` call. ``benchmarks/backends.py`` measures the gain
against the naive per-sample ``simulate_expectation_values_sweep`` loop.

Options (``--backend qsim:threads=2,noise=paper,trajectories=200``): ``threads``
(qsim CPU threads), ``noise`` (``paper`` | ``none``) or the rates ``p1``/``p2``/
``bitflip``, ``trajectories`` (noisy runs are averaged over this many trajectories
per sample; default 100), ``fuse`` (qsim max fused gate size).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import MAX_QSIM_QUBITS, Capabilities, QauditError, QuantumTask
from qaudit_backends.common import MeasuringBackend, parse_arguments, resolved_circuits, rotation_ops

OPTIONS = {"threads": int, "noise": str, "p1": float, "p2": float, "bitflip": float,
           "trajectories": int, "fuse": int}


class QsimBackend(MeasuringBackend):
    name = "qsim"
    description = "qsimcirq (threads, --shots, noise via trajectories: qsim:noise=paper,trajectories=N)"
    capabilities = Capabilities(exact=True, shots=True, noise=True, hardware=False, max_qubits=MAX_QSIM_QUBITS)
    takes_argument = True

    def __init__(self, argument: str | None = None):
        from qaudit.sdk.engine import NoiseModel

        opts = parse_arguments(argument, OPTIONS, self.name)
        self.threads = opts.get("threads", 1)
        self.trajectories = opts.get("trajectories", 100)
        self.fuse = opts.get("fuse", 2)
        if not 1 <= self.threads <= 256 or not 1 <= self.trajectories <= 1_000_000 or not 1 <= self.fuse <= 6:
            raise QauditError("backend qsim: threads in 1..256, trajectories in 1..1e6, fuse in 1..6")
        rates = {k: opts[k] for k in ("p1", "p2", "bitflip") if k in opts}
        spec = opts.get("noise")
        if rates:
            spec = ",".join(f"{k}={v}" for k, v in rates.items())
        self.noise = NoiseModel.parse(spec) if spec else None
        self.seed = 0

    @property
    def exact(self) -> bool:
        """Noiseless qsim is exact; with noise it averages trajectories."""
        return self.noise is None

    def simulator(self, seed: int | None = None) -> Any:
        import qsimcirq

        options = qsimcirq.QSimOptions(cpu_threads=self.threads, max_fused_gate_size=self.fuse)
        return qsimcirq.QSimSimulator(options, seed=seed, circuit_memoization_size=4)

    def circuit_for(self, task: QuantumTask, basis: dict[int, str]) -> tuple[Any, Any]:
        """(parameter-resolved circuit with noise and basis rotation, per-sample resolvers)."""
        import cirq

        base, resolvers = resolved_circuits(task)
        if self.noise is not None:
            base = self.noise.apply(base)
        return base + cirq.Circuit(rotation_ops(basis, task.qubits)), resolvers

    def final_states(self, task: QuantumTask, circuit: Any, resolvers: Any, seed: int | None) -> np.ndarray:
        """(n_samples, 2**n) final states, one qsim call per sample (one trajectory if noisy)."""
        import cirq

        sim = self.simulator(seed)
        out = np.empty((task.n_samples, 2**task.n_qubits), dtype=np.complex128)
        for i in range(task.n_samples):
            if resolvers is None:
                x = np.ascontiguousarray(task.states[i], dtype=np.complex64)
                result = sim.simulate(circuit, qubit_order=task.qubits, initial_state=x)
            else:
                result = sim.simulate(circuit, cirq.ParamResolver(resolvers[i]), qubit_order=task.qubits)
            out[i] = result.final_state_vector
        return out

    def probabilities(self, task: QuantumTask, basis: dict[int, str]) -> np.ndarray:
        circuit, resolvers = self.circuit_for(task, basis)
        if self.noise is None:
            psi = self.final_states(task, circuit, resolvers, None)
            probs = psi.real**2 + psi.imag**2
            return probs / probs.sum(axis=1, keepdims=True)
        total = np.zeros((task.n_samples, 2**task.n_qubits))
        for t in range(self.trajectories):
            psi = self.final_states(task, circuit, resolvers, self.seed * 1_000_003 + t)
            total += psi.real**2 + psi.imag**2
        total /= total.sum(axis=1, keepdims=True)
        return total

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """Exact (noiseless) or shot-sampled values; with noise, qsim averages ``trajectories``
        trajectories per sample in C++ (``ev_noisy_repetitions``) and ``--shots`` draws each
        observable's ±1 outcomes binomially from that average."""
        self.seed = 0 if seed is None else int(seed)
        if self.noise is None:
            return super().expectation(task, shots, seed)
        import cirq
        import qsimcirq

        from qaudit_backends.common import check_shots, cirq_observables

        circuit, resolvers = self.circuit_for(task, {})
        options = qsimcirq.QSimOptions(cpu_threads=self.threads, max_fused_gate_size=self.fuse,
                                       ev_noisy_repetitions=self.trajectories)
        sim = qsimcirq.QSimSimulator(options, seed=self.seed, circuit_memoization_size=4)
        observables = cirq_observables(task.observables, task.qubits)
        out = np.empty((task.n_samples, len(observables)))
        for i in range(task.n_samples):
            if resolvers is None:
                x = np.ascontiguousarray(task.states[i], dtype=np.complex64)
                values = sim.simulate_expectation_values(circuit, observables, qubit_order=task.qubits,
                                                         initial_state=x)
            else:
                values = sim.simulate_expectation_values(circuit, observables, cirq.ParamResolver(resolvers[i]),
                                                         qubit_order=task.qubits)
            out[i] = np.real(values)
        out = np.clip(out, -1.0, 1.0)
        shots = check_shots(shots)
        if shots is None:
            return out
        plus = np.random.default_rng(seed).binomial(shots, (1.0 + out) / 2.0)
        return (2.0 * plus - shots) / shots
