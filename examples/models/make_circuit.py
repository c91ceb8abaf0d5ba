"""Build the example user circuits with Cirq and write them as Cirq JSON.

    python examples/models/make_circuit.py      # writes my_circuit.json, my_amplitude_circuit.json

``my_circuit.json`` is a 4-qubit data re-uploading circuit: the input features
bind to the symbols x0..x3 (angle encoding, each feature scaled to [0, pi]);
every other symbol is a trainable parameter. ``my_amplitude_circuit.json`` is a
3-qubit hardware-efficient ansatz for amplitude-encoded inputs (8 amplitudes).
Train them with ``qaudit train --model user-circuit -O config=examples/models/my_model.json``.
"""

from pathlib import Path

import cirq
import sympy

HERE = Path(__file__).parent


def reuploading_circuit(n_qubits: int = 4, n_layers: int = 2) -> cirq.Circuit:
    qubits = cirq.LineQubit.range(n_qubits)
    x = [sympy.Symbol(f"x{i}") for i in range(n_qubits)]
    circuit = cirq.Circuit()
    for layer in range(n_layers):
        circuit.append(cirq.rx(x[i]).on(q) for i, q in enumerate(qubits))
        circuit.append(cirq.ry(sympy.Symbol(f"a{layer}_{i}")).on(q) for i, q in enumerate(qubits))
        circuit.append(cirq.rz(sympy.Symbol(f"b{layer}_{i}")).on(q) for i, q in enumerate(qubits))
        circuit.append(cirq.CZ(qubits[i], qubits[(i + 1) % n_qubits]) for i in range(n_qubits))
    return circuit


def amplitude_ansatz(n_qubits: int = 3, n_layers: int = 3) -> cirq.Circuit:
    qubits = cirq.LineQubit.range(n_qubits)
    circuit = cirq.Circuit()
    for layer in range(n_layers):
        circuit.append(cirq.ry(sympy.Symbol(f"t{layer}_{i}")).on(q) for i, q in enumerate(qubits))
        circuit.append(cirq.XPowGate(exponent=sympy.Symbol(f"u{layer}_{i}")).on(q) for i, q in enumerate(qubits))
        circuit.append(cirq.CNOT(qubits[i], qubits[i + 1]) for i in range(n_qubits - 1))
    return circuit


if __name__ == "__main__":
    cirq.to_json(reuploading_circuit(), HERE / "my_circuit.json")
    cirq.to_json(amplitude_ansatz(), HERE / "my_amplitude_circuit.json")
    print("wrote", HERE / "my_circuit.json", "and", HERE / "my_amplitude_circuit.json")
