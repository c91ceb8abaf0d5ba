"""Readout-error mitigation by a measured calibration (``readout=measured``).

Every job carries a second PUB: the device qubits that hold the model's outputs are prepared all in |0> and
all in |1> (two bindings of one parametrised Ry circuit, transpiled onto the same physical qubits) and
measured with the job's shots. That gives each qubit's assignment matrix
``A_q = [[P(0|0), P(0|1)], [P(1|0), P(1|1)]]`` (a tensored, uncorrelated readout model, calibrated in the same
job as the data it corrects). The outcome distribution of every sample is multiplied by ``⊗ A_q⁻¹``, which
gives quasi-probabilities (they may be slightly negative); expectation values are read from those. The
cost -- 2 bindings x shots per job -- is in the plan; the assignment matrices are in the report.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import QauditError


def calibration_pub(backend: Any, compiled: Any) -> tuple[Any, np.ndarray]:
    """(transpiled calibration circuit, [[0...], [π...]]) on the physical qubits *compiled* measures."""
    cache = backend.__dict__.setdefault("_calibration_circuits", {})
    circuit = cache.get(compiled.fingerprint)
    if circuit is None:
        from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
        from qiskit.circuit import Parameter
        from qiskit.transpiler import generate_preset_pass_manager

        from qaudit_ibm.export import CREG

        n = compiled.width
        theta = Parameter("flip")
        logical = QuantumCircuit(QuantumRegister(n, "q"), ClassicalRegister(n, CREG))
        for j in range(n):
            logical.ry(theta, j)
            logical.measure(j, n - 1 - j)
        manager = generate_preset_pass_manager(optimization_level=1, backend=backend.device(),
                                               initial_layout=list(compiled.physical))
        circuit = cache[compiled.fingerprint] = manager.run(logical)
    return circuit, np.array([[0.0], [np.pi]])


def assignment_matrices(cal: np.ndarray, n_qubits: int, shots: int) -> np.ndarray:
    """(n_qubits, 2, 2) assignment matrices from the calibration counts ``cal`` (2, 2**n): row 0 prepared all |0>,
    row 1 all |1>; qubit 0 is the most significant bit of the outcome index."""
    index = np.arange(2**n_qubits)
    out = np.zeros((n_qubits, 2, 2))
    for q in range(n_qubits):
        bit = (index >> (n_qubits - 1 - q)) & 1
        p1_given_0 = cal[0, bit == 1].sum() / shots
        p0_given_1 = cal[1, bit == 0].sum() / shots
        out[q] = [[1 - p1_given_0, p0_given_1], [p1_given_0, 1 - p0_given_1]]
    return out


def apply_inverse(probs: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Rows *probs* (batch, 2**n) multiplied by ``⊗_q A_q⁻¹`` (quasi-probabilities)."""
    n = matrices.shape[0]
    batch = probs.shape[0]
    tensor = probs.reshape((batch,) + (2,) * n)
    for q in range(n):
        if abs(np.linalg.det(matrices[q])) < 1e-3:
            raise QauditError(f"readout calibration of qubit {q} is singular (assignment matrix {matrices[q]})")
        inverse = np.linalg.inv(matrices[q])
        tensor = np.moveaxis(np.tensordot(inverse, tensor, axes=([1], [q + 1])), 0, q + 1)
    return tensor.reshape(batch, -1)


def mitigate(backend: Any, counts: np.ndarray, cal: np.ndarray, shots: int) -> np.ndarray:
    """Mitigated quasi-probabilities of one job's data; the calibration is recorded on *backend*."""
    n = int(np.log2(counts.shape[1]))
    matrices = assignment_matrices(cal, n, shots)
    backend.calibration.append({"p1_given_0": [round(float(m[1, 0]), 5) for m in matrices],
                                "p0_given_1": [round(float(m[0, 1]), 5) for m in matrices]})
    return apply_inverse(counts / shots, matrices)
