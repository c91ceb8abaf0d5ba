"""The engine's own light gate list: circuits described without Cirq.

A built-in model describes its circuit as a list of :class:`Gate` (``rx``/``ry``/``rz`` with one
symbol each, ``cnot``, ``cz``); :func:`compile_gates` turns it into the same
:class:`qaudit.engine.program.Program` that compiling the equivalent ``cirq.Circuit`` gives (the same
eigen-decomposition of each rotation as Cirq's ``EigenGate``: ``rz(θ) = ZPowGate(θ/π, global_shift=-½)``),
so the exact path never imports Cirq or sympy. :func:`to_cirq` builds the ``cirq.Circuit`` only when
something needs one (a Cirq-based backend, ``backends --describe``, an export).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.engine.symbols import LinearForm
from qaudit.sdk.errors import QauditError

_HALF = 0.5
_I2 = np.eye(2, dtype=np.complex128)
_PAULI = {"rx": np.array([[0, 1], [1, 0]], dtype=np.complex128),
          "ry": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
          "rz": np.array([[1, 0], [0, -1]], dtype=np.complex128)}
_FIXED = {"cnot": np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]], dtype=np.complex128),
          "cz": np.diag([1, 1, 1, -1]).astype(np.complex128)}


@dataclass(frozen=True)
class Gate:
    """One gate: ``name`` (``rx``, ``ry``, ``rz``: exp(-i·symbol·P/2); ``cnot``, ``cz``), the qubit indices it
    acts on (control first; qubit 0 is the most significant bit) and the symbol of a rotation."""

    name: str
    qubits: tuple[int, ...]
    symbol: str | None = None


def _factor(gate: Gate) -> Any:
    from qaudit.engine.program import Factor

    if gate.name in _FIXED:
        return Factor(fixed=_FIXED[gate.name])
    pauli = _PAULI.get(gate.name)
    if pauli is None or gate.symbol is None:
        raise QauditError(f"unsupported gate {gate.name!r} (rx, ry, rz with a symbol; cnot, cz)")
    # Cirq's EigenGate form: exponent e = θ/π, U(e) = Σ_k exp(iπ(h_k + shift)e) P_k, h = (0, 1), shift = -½
    projectors = np.array([(_I2 + pauli) * _HALF, (_I2 - pauli) * _HALF])
    return Factor(form=LinearForm(gate.symbol, 1.0 / np.pi, 0.0), phases=np.array([-np.pi * _HALF, np.pi * _HALF]),
                  projectors=projectors)


def compile_gates(n_qubits: int, gates: Sequence[Gate], param_names: Sequence[str],
                  feature_names: Sequence[str] = ()) -> Any:
    """The :class:`qaudit.engine.program.Program` of a gate list (no Cirq)."""
    from qaudit.engine.program import Program

    known = set(param_names) | set(feature_names)
    unknown = sorted({g.symbol for g in gates if g.symbol is not None and g.symbol not in known})
    if unknown:
        raise QauditError(f"circuit uses unknown symbols: {', '.join(unknown)}")
    for g in gates:
        if any(not 0 <= q < n_qubits for q in g.qubits):
            raise QauditError(f"gate {g.name} acts on qubits outside the register: {g.qubits}")
    return Program.from_operations(n_qubits, [(tuple(g.qubits), _factor(g)) for g in gates], param_names,
                                   feature_names)


def to_cirq(n_qubits: int, gates: Sequence[Gate]) -> tuple[Any, list]:
    """The equivalent parameterised ``cirq.Circuit`` and its ``LineQubit`` register (imports Cirq)."""
    import cirq
    import sympy

    qubits = cirq.LineQubit.range(n_qubits)
    makers = {"rx": cirq.rx, "ry": cirq.ry, "rz": cirq.rz}
    circuit = cirq.Circuit()
    group: list[Any] = []  # a run of one rotation kind on distinct qubits shares a moment; others get their own
    busy: set[int] = set()
    for i, g in enumerate(gates):
        on = [qubits[q] for q in g.qubits]
        group.append(makers[g.name](sympy.Symbol(g.symbol)).on(*on) if g.name in makers
                     else (cirq.CNOT if g.name == "cnot" else cirq.CZ).on(*on))
        busy |= set(g.qubits)
        nxt = gates[i + 1] if i + 1 < len(gates) else None
        if nxt is None or g.name not in makers or nxt.name != g.name or busy & set(nxt.qubits):
            circuit.append(cirq.Moment(group))
            group, busy = [], set()
    return circuit, qubits
