"""Export a :class:`~qaudit.sdk.QuantumTask` to ONE parametrised Qiskit circuit plus per-sample bindings.

The circuit is ``prep(angles) + U(θ) + basis rotation + measure``:

* amplitude-encoded inputs become a parametrised state preparation -- the Möttönen tree of uniformly
  controlled Ry (the same gate structure as :mod:`qaudit_google.stateprep`), whose 2**n - 1 angles are
  computed classically per sample (:func:`qaudit_google.stateprep.prep_angles`) and bound at run time;
* angle-encoded inputs keep their feature symbols as Qiskit ``Parameter`` objects, bound per sample;
* the trained weights are resolved once (they are the same for every sample).

So every sample of an audit is a parameter binding of the same circuit: transpiled once for the device,
sent as one primitive unified block (PUB) per job, not one circuit per sample.

Qubit order: qaudit's qubit 0 is the most significant bit; it is Qiskit qubit 0 and is measured into
classical bit ``n-1``, so the integer read from the classical register *is* qaudit's basis index.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.sdk import QauditError, QuantumTask

#: Classical register name of the measured outcomes.
CREG = "m"


def _linear(expr: Any, params: dict[str, Any], where: str) -> Any:
    """A sympy expression affine in at most one symbol -> float or Qiskit ParameterExpression."""
    import sympy

    expr = sympy.sympify(expr)
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    if not symbols:
        return float(expr)
    if len(symbols) > 1:
        raise QauditError(f"{where}: an angle depending on several symbols is not supported")
    poly = sympy.Poly(expr, symbols[0])
    if poly.total_degree() > 1:
        raise QauditError(f"{where}: an angle non-affine in its symbol is not supported")
    name = symbols[0].name
    if name not in params:
        raise QauditError(f"{where}: unbound symbol {name!r}")
    return float(poly.coeff_monomial(symbols[0])) * params[name] + float(poly.coeff_monomial(1))


def _kinds() -> tuple[list, list]:
    """(rotations, fixed gates): Cirq eigen-gate classes -> Qiskit names (rotation angle π·exponent, equal up to
    global phase), and the exponent-1 gates with a named Qiskit equivalent."""
    import cirq

    rotations = [(cirq.XPowGate, "rx"), (cirq.YPowGate, "ry"), (cirq.ZPowGate, "rz"), (cirq.XXPowGate, "rxx"),
                 (cirq.YYPowGate, "ryy"), (cirq.ZZPowGate, "rzz"), (cirq.CZPowGate, "cp")]
    fixed = [(cirq.CXPowGate, "cx"), (cirq.CZPowGate, "cz"), (cirq.HPowGate, "h"), (cirq.SwapPowGate, "swap")]
    return rotations, fixed


def _match(gate: Any, table: list) -> str | None:
    return next((name for cls, name in table if isinstance(gate, cls)), None)


def append_cirq(qc: Any, circuit: Any, qubits: list, params: dict[str, Any]) -> None:
    """Append the operations of a ``cirq.Circuit`` on *qubits* (index = Qiskit qubit) to *qc*."""
    import cirq
    from qiskit.circuit.library import UnitaryGate

    rotations, fixed = _kinds()
    index = {q: i for i, q in enumerate(qubits)}
    for op in circuit.all_operations():
        if cirq.is_measurement(op) or isinstance(op.gate, cirq.GlobalPhaseGate):
            continue
        targets = [index[q] for q in op.qubits]
        gate, symbolic = op.gate, cirq.is_parameterized(op)
        exponent = getattr(gate, "exponent", None)
        where = f"gate {op}"
        named = _match(gate, fixed) if exponent is not None and not symbolic and float(exponent) == 1.0 else None
        rotation = _match(gate, rotations) if exponent is not None else None
        if named:
            getattr(qc, named)(*targets)
        elif rotation:
            angle = _linear(exponent * np.pi, params, where) if symbolic else float(exponent) * np.pi
            getattr(qc, rotation)(angle, *targets)
        elif symbolic:
            raise QauditError(f"{where}: a parametrised {type(gate).__name__} cannot be exported to Qiskit "
                              "(rx/ry/rz, xx/yy/zz and cz powers are supported)")
        elif cirq.has_unitary(op):
            # Cirq's matrix is big-endian over op.qubits; Qiskit's UnitaryGate is little-endian over its qargs
            qc.append(UnitaryGate(cirq.unitary(op)), list(reversed(targets)))
        else:
            raise QauditError(f"{where}: a non-unitary operation cannot be sent to hardware")


def append_prep(qc: Any, n_qubits: int) -> list:
    """Append the parametrised amplitude-encoding tree; return its Parameters (symbol order)."""
    from qaudit_google.stateprep import prep_structure, symbol_names
    from qiskit.circuit import Parameter

    params = {name: Parameter(name) for name in symbol_names(n_qubits)}
    for name, a, b in prep_structure(n_qubits):
        if name == "ry":
            qc.ry(params[str(b)], a)
        else:
            qc.cx(a, int(b))
    return list(params.values())


def append_basis(qc: Any, basis: dict[int, str]) -> None:
    """Rotate *basis* ({qubit: 'X'|'Y'|'Z'}) into the computational basis (X: H; Y: S† then H)."""
    for q, pauli in sorted(basis.items()):
        if pauli == "Y":
            qc.sdg(q)
        if pauli in ("X", "Y"):
            qc.h(q)


def task_bindings(task: QuantumTask) -> np.ndarray:
    """(n_samples, n_parameters) values of the exported circuit's parameters (:func:`export_circuit` order)."""
    if task.states is not None:
        from qaudit_google.stateprep import prep_angles

        return np.ascontiguousarray(prep_angles(task.states), dtype=np.float64)
    feats = task.features if task.features is not None else np.zeros((1, 0))
    return np.ascontiguousarray(np.asarray(feats, dtype=np.float64).reshape(task.n_samples, len(task.feature_names)))


def structure_key(task: QuantumTask, basis: dict[int, str]) -> str:
    """A key of everything the exported circuit depends on (not the samples): equal keys, equal circuits."""
    from qaudit.sdk import content_key

    return content_key(str(task.circuit), list(task.param_names), np.asarray(task.param_values, dtype=np.float64),
                       list(task.feature_names), task.states is None, task.n_qubits, sorted(basis.items()))


def export_circuit(task: QuantumTask, basis: dict[int, str] | None = None) -> tuple[Any, list]:
    """The task as one parametrised, measured Qiskit circuit and its Parameters (binding column order)."""
    import cirq
    from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister

    n = task.n_qubits
    qc = QuantumCircuit(QuantumRegister(n, "q"), ClassicalRegister(n, CREG))
    feature_params: dict[str, Any] = {}
    if task.states is not None:
        parameters = append_prep(qc, n)
    else:
        from qiskit.circuit import Parameter

        feature_params = {name: Parameter(name) for name in task.feature_names}
        parameters = list(feature_params.values())
    model = cirq.resolve_parameters(task.circuit, cirq.ParamResolver(task.resolver()))
    append_cirq(qc, model, list(task.qubits), feature_params)
    append_basis(qc, basis or {})
    for j in range(n):
        qc.measure(j, n - 1 - j)
    return qc, parameters


def counts_from_bitarray(bits: Any, n_qubits: int) -> np.ndarray:
    """(n_bindings, 2**n) int64 counts from a Sampler ``BitArray`` of shape (n_bindings,)."""
    raw = np.asarray(bits.array, dtype=np.int64)  # (..., shots, n_bytes), big-endian bytes
    raw = raw.reshape(-1, raw.shape[-2], raw.shape[-1])
    weights = 256 ** np.arange(raw.shape[-1] - 1, -1, -1, dtype=np.int64)
    values = (raw * weights).sum(axis=-1) & ((1 << n_qubits) - 1)  # (bindings, shots)
    out = np.zeros((values.shape[0], 2**n_qubits), dtype=np.int64)
    rows = np.repeat(np.arange(values.shape[0]), values.shape[1])
    np.add.at(out, (rows, values.reshape(-1)), 1)
    return out
