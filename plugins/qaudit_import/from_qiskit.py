"""Import a parameterised Qiskit ``QuantumCircuit`` saved as QPY, as Qiskit ML's ``EstimatorQNN`` runs it.

``--input-params`` and ``--weight-params`` say which parameters are inputs and which are trained (as
``EstimatorQNN(input_params=..., weight_params=...)``; a ``ParameterVector``'s name stands for all its
elements in index order), ``--weights`` is a ``.npy`` vector in weight order and ``--observables`` one
Pauli string per class in Qiskit's label order (rightmost character = qubit 0). Class probabilities are
the softmax of the observables' expectation values.

The circuit is transpiled (optimisation level 0) to a small basis; every gate angle must be an affine
function of one weight, or a polynomial of the inputs only -- such an input polynomial (``ZZFeatureMap``'s
``2(π - x0)(π - x1)``) becomes a derived feature computed from the raw inputs. The check runs
``EstimatorQNN.forward`` with Qiskit's exact ``StatevectorEstimator``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import QauditError
from qaudit_import.common import (
    ROTATIONS,
    Angle,
    Gate,
    build_model,
    circuit_json,
    input_file,
    probabilities,
    real_array,
    reason,
)

#: Qiskit gate name -> qaudit gate name (the transpiler's basis).
GATE_NAMES = {"rx": "rx", "ry": "ry", "rz": "rz", "p": "phase", "rxx": "xx", "ryy": "yy", "rzz": "zz", "h": "h",
              "x": "x", "y": "y", "z": "z", "s": "s", "sdg": "sdg", "t": "t", "tdg": "tdg", "sx": "sx", "cx": "cx",
              "cz": "cz", "swap": "swap", "id": "id"}
IGNORED = ("barrier",)
#: Largest accepted QPY file (bytes).
MAX_QPY_BYTES = 64 * 1024 * 1024
_PAULI = re.compile(r"^[IXYZ]+$")


class QiskitImporter:
    """``qaudit import qiskit circuit.qpy --input-params x --weight-params θ --weights w.npy --observables ...``."""

    name = "qiskit"
    description = "Qiskit QuantumCircuit (QPY) with input/weight parameters and Pauli observables (EstimatorQNN)"
    extra = "qiskit"
    roles: ClassVar[frozenset[str]] = frozenset()

    def load(self, request: Any) -> Any:
        import qiskit
        from qaudit_qnn.user_circuit import UserCircuit

        from qaudit.sdk import ImportedModel

        o = request.options
        unknown = set(o) - {"input_params", "weight_params", "observables", "index"}
        if unknown:
            raise QauditError(f"qiskit importer: unknown option(s) {', '.join(sorted(unknown))}")
        circuit, path = _read_qpy(request.source, o.get("index", 0))
        if not o.get("input_params") or not o.get("weight_params"):
            raise QauditError(f"{path}: say which parameters are inputs and which are weights: --input-params NAMES "
                              f"--weight-params NAMES (the circuit's parameters: {_names(circuit)})")
        inputs = _select(circuit, o["input_params"], "--input-params")
        weights = _select(circuit, o["weight_params"], "--weight-params")
        _check_partition(circuit, inputs, weights)
        if len(inputs) != request.X.shape[1]:
            raise QauditError(f"{path}: {len(inputs)} input parameters but the data has {request.X.shape[1]} "
                              "features per sample")
        theta = _read_weights(request.weights, len(weights))
        labels = _observables(o.get("observables"), circuit.num_qubits, request.n_classes)
        gates, derived = _convert(circuit, inputs, weights)
        params = sorted({g.angle.symbol for g in gates if g.angle and g.angle.symbol and g.angle.symbol[0] == "w"},
                        key=lambda s: int(s[1:]))
        features = [f"f{k}" for k in range(len(derived))]
        model = build_model(circuit_json(gates, circuit.num_qubits), encoding="angle", features=features,
                            params=params, readout=[_qaudit_pauli(label) for label in labels],
                            theta=np.array([theta[int(p[1:])] for p in params]), head=[], head_weights={},
                            n_classes=request.n_classes, X=request.X, recipe=request.recipe, derived=derived)
        reference = _reference(circuit, inputs, weights, labels, theta)
        files = [str(path)] + ([request.weights] if request.weights else [])
        details = {"gates": len(gates), "qubits": circuit.num_qubits, "derived_features": len(derived),
                   "observables": labels}
        return ImportedModel(UserCircuit.name, model, reference, "qiskit", qiskit.__version__, files, details)


def _names(circuit: Any) -> str:
    return ", ".join(p.name for p in circuit.parameters) or "none"


def _read_qpy(source: str, index: Any) -> tuple[Any, Path]:
    from qiskit import QuantumCircuit, qpy

    path = input_file(source, "QPY file", MAX_QPY_BYTES)
    try:
        with path.open("rb") as handle:
            circuits = qpy.load(handle)
    except BaseException as exc:  # noqa: BLE001 - qpy's Rust parser raises PanicException (a BaseException)
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        raise QauditError(f"{path}: not a QPY file ({reason(exc)})") from None
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(circuits):
        raise QauditError(f"{path}: -O index must be 0..{len(circuits) - 1}")
    circuit = circuits[index]
    if not isinstance(circuit, QuantumCircuit):
        raise QauditError(f"{path}: entry {index} is a {type(circuit).__name__}, not a QuantumCircuit")
    return circuit, path


def _select(circuit: Any, names: Any, flag: str) -> list[Any]:
    """Circuit parameters named in *names* (a comma list; a vector name selects its elements in order)."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    chosen: list[Any] = []
    for name in names:
        exact = [p for p in circuit.parameters if p.name == name]
        vector = sorted((p for p in circuit.parameters if getattr(getattr(p, "vector", None), "name", None) == name),
                        key=lambda p: p.index)
        found = exact or vector
        if not found:
            raise QauditError(f"{flag}: the circuit has no parameter or parameter vector {name!r} (its parameters: "
                              f"{_names(circuit)})")
        chosen += [p for p in found if p not in chosen]
    return chosen


def _check_partition(circuit: Any, inputs: list[Any], weights: list[Any]) -> None:
    both = [p.name for p in inputs if p in set(weights)]
    if both:
        raise QauditError(f"parameter(s) {', '.join(both)} are both inputs and weights")
    rest = [p.name for p in circuit.parameters if p not in set(inputs) | set(weights)]
    if rest:
        raise QauditError(f"parameter(s) {', '.join(rest[:6])} are neither --input-params nor --weight-params")


def _read_weights(path: str | None, n: int) -> np.ndarray:
    from qaudit.sdk import MAX_WEIGHTS_BYTES

    if path is None:
        raise QauditError(f"pass the trained weights: --weights weights.npy ({n} values in --weight-params order)")
    input_file(path, "weights file", MAX_WEIGHTS_BYTES)
    try:
        theta = np.load(path, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - numpy raises many types for a malformed file
        raise QauditError(f"{path}: not a .npy file ({reason(exc)})") from None
    if not isinstance(theta, np.ndarray):
        raise QauditError(f"{path}: not a .npy file (an .npz archive; save the weight vector with numpy.save)")
    if theta.shape != (n,):
        raise QauditError(f"{path}: weights have shape {theta.shape}; the circuit has {n} weight parameters")
    return real_array(theta, str(path))


def _observables(value: Any, n_qubits: int, n_classes: int) -> list[str]:
    labels = value.split(",") if isinstance(value, str) else list(value or [])
    labels = [str(label).strip().upper() for label in labels if str(label).strip()]
    if not labels:
        raise QauditError(f"pass one Pauli string per class: --observables {','.join(['Z' * n_qubits] * 2)}...")
    for label in labels:
        if not _PAULI.match(label) or len(label) != n_qubits or set(label) == {"I"}:
            raise QauditError(f"observable {label!r}: expected {n_qubits} characters of I, X, Y, Z (not all I)")
    if len(labels) != n_classes:
        raise QauditError(f"{len(labels)} observables for {n_classes} classes: class probabilities are the softmax of "
                          "one observable per class")
    return labels


def _qaudit_pauli(label: str) -> str:
    """Qiskit label (rightmost = qubit 0) -> qaudit Pauli string (``Z0 X2``)."""
    return " ".join(f"{c}{k}" for k, c in enumerate(reversed(label)) if c != "I")


def _convert(circuit: Any, inputs: list[Any], weights: list[Any]) -> tuple[list[Gate], list[list]]:
    from qiskit import transpile

    try:
        flat = transpile(circuit, basis_gates=sorted(GATE_NAMES), optimization_level=0)
    except Exception as exc:
        raise QauditError(f"the circuit does not transpile to {', '.join(sorted(GATE_NAMES))}: "
                          f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}") from None
    input_index = {p.name: j for j, p in enumerate(inputs)}
    weight_index = {p.name: k for k, p in enumerate(weights)}
    derived: list[list] = []
    gates: list[Gate] = []
    for inst in flat.data:
        op = inst.operation
        if op.name in IGNORED:
            continue
        if op.name not in GATE_NAMES:
            raise QauditError(f"gate {op.name} is not supported (it does not transpile to "
                              f"{', '.join(sorted(GATE_NAMES))})")
        qubits = tuple(flat.find_bit(q).index for q in inst.qubits)
        angle = None
        if GATE_NAMES[op.name] in ROTATIONS:
            angle = _angle(op, op.params[0], input_index, weight_index, derived)
        gates.append(Gate(GATE_NAMES[op.name], qubits, angle))
    return gates, derived


def _angle(op: Any, value: Any, inputs: dict[str, int], weights: dict[str, int], derived: list[list]) -> Angle:
    import sympy

    names = {p.name for p in getattr(value, "parameters", ())}
    if not names:
        return Angle(None, 0.0, float(value))
    expr = sympy.expand(sympy.sympify(value.sympify()))
    symbols = sorted(expr.free_symbols, key=lambda s: s.name)
    where = f"gate {op.name} angle {value}"
    if names <= set(weights):
        if len(names) > 1:
            raise QauditError(f"{where}: depends on several weights; one weight per angle is supported")
        poly = _poly(expr, symbols, where)
        if poly.total_degree() > 1:
            raise QauditError(f"{where}: not affine in its weight; not supported")
        coef = float(poly.coeff_monomial(symbols[0]))
        return Angle(f"w{weights[symbols[0].name]}", coef, float(poly.coeff_monomial(1)))
    if names <= set(inputs):
        poly = _poly(expr, symbols, where)
        terms = sorted([float(c), sorted(inputs[s.name] for s, e in zip(symbols, powers) for _ in range(e))]
                       for powers, c in poly.terms())
        if terms not in derived:
            derived.append(terms)
        return Angle(f"f{derived.index(terms)}", 1.0, 0.0)
    raise QauditError(f"{where}: mixes inputs and weights; an angle must depend on inputs only or one weight")


def _poly(expr: Any, symbols: list[Any], where: str) -> Any:
    import sympy

    try:
        return sympy.Poly(expr, *symbols)
    except sympy.PolynomialError:
        raise QauditError(f"{where}: not a polynomial of its parameters; not supported") from None


def _reference(circuit: Any, inputs: list[Any], weights: list[Any], labels: list[str], theta: np.ndarray) -> Any:
    """EstimatorQNN.forward with Qiskit's exact StatevectorEstimator; softmax over the observables."""
    from qiskit.primitives import StatevectorEstimator
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    qnn = EstimatorQNN(circuit=circuit, observables=[SparsePauliOp(label) for label in labels],
                       input_params=inputs, weight_params=weights, estimator=StatevectorEstimator(),
                       default_precision=0.0)  # exact: a positive precision adds sampling noise

    def reference(X: np.ndarray) -> np.ndarray:
        return probabilities(np.asarray(qnn.forward(np.asarray(X, dtype=np.float64), theta)), "logits")

    return reference
