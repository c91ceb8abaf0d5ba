"""Shared machinery for backends that measure: basis groups, parity estimates, shot sampling.

A backend that can produce measurement *probabilities* in a rotated basis subclasses
:class:`MeasuringBackend` and implements :meth:`MeasuringBackend.probabilities`; the base
class groups the observables by the basis they need (qubit-wise commuting groups:
Z-only observables share the computational basis, X/Y need a rotation before
measuring), and turns probabilities into exact expectation values (``shots=None``)
or into the estimate hardware would report from ``shots`` bit strings per sample and
per basis (numpy multinomial, seeded).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import QauditError, QuantumTask

#: Rotation applied before a Z measurement so that it measures X or Y.
_H = np.array([[1, 1], [1, -1]], dtype=np.complex128) / np.sqrt(2)
_SDAG = np.diag([1, -1j]).astype(np.complex128)
ROTATIONS = {"X": _H, "Y": _H @ _SDAG}


def parse_arguments(argument: str | None, allowed: dict[str, Any], backend: str) -> dict[str, Any]:
    """Parse ``key=value,key=value`` backend arguments (``--backend name:key=value``).

    *allowed* maps each key to its type (int, float, str). A bare word is stored
    under the key ``""`` when ``""`` is allowed.
    """
    out: dict[str, Any] = {}
    if not argument:
        return out
    for part in argument.split(","):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            if "" in allowed:
                out[""] = part
                continue
            raise QauditError(f"backend {backend}: expected key=value, got {part!r} "
                              f"(keys: {', '.join(k for k in allowed if k)})")
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in allowed:
            known = ", ".join(k for k in allowed if k)
            raise QauditError(f"backend {backend}: unknown option {key!r} (known: {known})")
        kind = allowed[key]
        try:
            out[key] = kind(value) if kind is not str else value
        except ValueError:
            raise QauditError(f"backend {backend}: {key}={value!r} is not a valid {kind.__name__}") from None
    return out


def basis_groups(terms: list[str], n_qubits: int) -> list[tuple[dict[int, str], list[int]]]:
    """Greedy qubit-wise-commuting groups: [(basis {qubit: 'X'|'Y'|'Z'}, [observable indices])].

    All Z-only observables land in one group (the computational basis)."""
    from qaudit.sdk.engine import parse_pauli

    groups: list[tuple[dict[int, str], list[int]]] = []
    for j, term in enumerate(terms):
        parsed = parse_pauli(term, n_qubits)
        for basis, members in groups:
            if all(basis.get(q, p) == p for q, p in parsed.items()):
                basis.update(parsed)
                members.append(j)
                break
        else:
            groups.append((dict(parsed), [j]))
    return groups


def parity_table(terms: list[str], indices: list[int], n_qubits: int) -> np.ndarray:
    """(2**n, len(indices)) ±1: the eigenvalue of each observable on each measured bit string."""
    from qaudit.sdk.engine import parse_pauli

    index = np.arange(2**n_qubits)
    table = np.ones((2**n_qubits, len(indices)))
    for col, j in enumerate(indices):
        for q in parse_pauli(terms[j], n_qubits):
            table[:, col] *= 1 - 2 * ((index >> (n_qubits - 1 - q)) & 1)
    return table


def rotate_states(psi: np.ndarray, basis: dict[int, str], n_qubits: int) -> np.ndarray:
    """Apply the measurement rotations of *basis* to rows *psi* (batch, 2**n)."""
    for q, pauli in basis.items():
        if pauli == "Z":
            continue
        view = psi.reshape(psi.shape[0] * 2**q, 2, -1)
        psi = np.matmul(ROTATIONS[pauli], view).reshape(psi.shape)
    return psi


def draw_counts(probs: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """(batch, 2**n) int64 counts of *shots* bit strings per row (multinomial)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 0.0, None)
    p /= p.sum(axis=1, keepdims=True)
    return rng.multinomial(shots, p)


def check_shots(shots: int | None) -> int | None:
    if shots is None or shots == 0:
        return None
    if shots < 0:
        raise QauditError(f"shots must be >= 0, got {shots}")
    return int(shots)


class MeasuringBackend:
    """Base for backends that produce basis probabilities (see the module docstring)."""

    name = ""
    description = ""

    def probabilities(self, task: QuantumTask, basis: dict[int, str]) -> np.ndarray:
        """(n_samples, 2**n) outcome probabilities after rotating qubits into *basis*."""
        raise NotImplementedError

    def expectation(self, task: QuantumTask, shots: int | None = None, seed: int | None = None) -> np.ndarray:
        """Exact parity sums (``shots=None``) or shot estimates, per basis group."""
        shots = check_shots(shots)
        rng = np.random.default_rng(seed)
        n = task.n_qubits
        out = np.zeros((task.n_samples, len(task.observables)))
        for basis, members in basis_groups(task.observables, n):
            probs = self.probabilities(task, basis)
            table = parity_table(task.observables, members, n)
            if shots is None:
                out[:, members] = probs @ table
            else:
                out[:, members] = (draw_counts(probs, shots, rng) @ table) / shots
        return out

    def sample(self, task: QuantumTask, shots: int, seed: int | None = None) -> np.ndarray:
        """(n_samples, 2**n) counts of *shots* computational-basis bit strings per sample."""
        shots = check_shots(shots)
        if shots is None:
            raise QauditError("sample() needs shots > 0")
        return draw_counts(self.probabilities(task, {}), shots, np.random.default_rng(seed))


def cirq_observables(terms: list[str], qubits: list) -> list[Any]:
    """Pauli strings ``"X1 Z3"`` as ``cirq.PauliString`` on *qubits*."""
    import cirq

    from qaudit.sdk.engine import parse_pauli

    gates = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}
    out = []
    for term in terms:
        parsed = parse_pauli(term, len(qubits))
        out.append(cirq.PauliString({qubits[q]: gates[p] for q, p in parsed.items()}))
    return out


def rotation_ops(basis: dict[int, str], qubits: list) -> list[Any]:
    """Cirq gates that rotate *basis* into the computational basis (X: H; Y: S† then H)."""
    import cirq

    ops = []
    for q, pauli in sorted(basis.items()):
        if pauli == "Z":
            continue
        if pauli == "Y":
            ops.append((cirq.S**-1).on(qubits[q]))
        ops.append(cirq.H.on(qubits[q]))
    return ops


def resolved_circuits(task: QuantumTask) -> tuple[Any, list[dict[str, float]] | None]:
    """The circuit with trainable parameters resolved once (Cirq issue #6091 work-around);
    for angle encoding also the per-sample feature resolvers."""
    import cirq

    circuit = cirq.resolve_parameters(task.circuit, cirq.ParamResolver(task.resolver()))
    if task.states is not None or not task.feature_names:
        return circuit, None
    feats = np.asarray(task.features, dtype=float)
    return circuit, [dict(zip(task.feature_names, row.tolist())) for row in feats]
