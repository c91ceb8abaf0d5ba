"""Gate-level amplitude encoding: Möttönen state preparation with uniformly controlled Ry.

For a real, normalised vector x of length 2^n the circuit is a binary tree: level k
rotates qubit k by an angle that depends on the state of qubits 0..k-1 (a
uniformly controlled Ry, decomposed into 2^k Ry gates and 2^k CNOTs with the Gray-code
construction of Möttönen et al., PRL 93, 130502 (2004)). The gate *structure* is the
same for every input, only the angles change, so the circuit is built once with
symbols (``prep_k_i``), routed and compiled once, and resolved per sample.
Qubit 0 is the most significant bit of the amplitude index (Cirq's convention).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import QauditError


def _gray(i: int) -> int:
    return i ^ (i >> 1)


def symbol_names(n_qubits: int) -> list[str]:
    """Names of the state-preparation angles, level by level."""
    return [f"prep_{k}_{i}" for k in range(n_qubits) for i in range(2**k)]


def prep_structure(n_qubits: int) -> list[tuple[str, int, int | str]]:
    """The gate list of the preparation tree, independent of any framework: ``("ry", qubit, symbol)`` and
    ``("cx", control, target)`` with qubit indices into the register (qubit 0 = most significant bit)."""
    ops: list[tuple[str, int, int | str]] = []
    for k in range(n_qubits):
        size = 2**k
        for i in range(size):
            ops.append(("ry", k, f"prep_{k}_{i}"))
            if k == 0:
                continue
            changed = _gray(i) ^ _gray((i + 1) % size)
            bit = changed.bit_length() - 1  # bit position (LSB = 0) that flips
            ops.append(("cx", k - 1 - bit, k))
    return ops


def prep_circuit(qubits: list) -> Any:
    """The symbolic state-preparation circuit (|0..0> -> x once the angles are resolved)."""
    import cirq
    import sympy

    ops = []
    for name, a, b in prep_structure(len(qubits)):
        if name == "ry":
            ops.append(cirq.ry(sympy.Symbol(str(b))).on(qubits[a]))
        else:
            ops.append(cirq.CNOT(qubits[a], qubits[int(b)]))
    return cirq.Circuit(ops)


def prep_angles(states: np.ndarray) -> np.ndarray:
    """(n_samples, 2^n - 1) resolved angles for the symbols of :func:`symbol_names`."""
    states = np.asarray(states)
    if np.iscomplexobj(states):
        if np.abs(states.imag).max() > 1e-12:
            raise QauditError("gate-level state preparation supports real amplitude-encoded inputs only")
        states = states.real
    batch, dim = states.shape
    n = dim.bit_length() - 1
    out = []
    for k in range(n):
        # amplitudes grouped by the first k bits (prefix) and bit k
        grouped = states.reshape(batch, 2**k, 2, -1)
        if k < n - 1:
            zero = np.linalg.norm(grouped[:, :, 0, :], axis=2)
            one = np.linalg.norm(grouped[:, :, 1, :], axis=2)
        else:
            zero, one = grouped[:, :, 0, 0], grouped[:, :, 1, 0]
        alpha = 2.0 * np.arctan2(one, zero)  # (batch, 2^k), prefix b in big-endian order
        if k == 0:
            out.append(alpha)
            continue
        size = 2**k
        b = np.arange(size)[:, None]
        g = np.array([_gray(i) for i in range(size)])[None, :]
        parity = np.vectorize(lambda v: bin(v).count("1") & 1)(b & g)
        M = 1.0 - 2.0 * parity  # M[b, i] = (-1)^(b.g_i)
        out.append(alpha @ M / size)  # θ = Mᵀ α / 2^k
    return np.concatenate(out, axis=1)
