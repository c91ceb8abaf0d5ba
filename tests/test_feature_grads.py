"""Per-sample gradients with respect to angle-encoded input features (``engine.backward_features``).

Checked against two independent paths, in float64: central finite differences of the engine's own
forward pass, and the parameter-shift rule evaluated with ``cirq.Simulator`` (which shares no code
with the engine's adjoint sweep).
"""

from __future__ import annotations

import numpy as np
import pytest

cirq = pytest.importorskip("cirq")
sympy = pytest.importorskip("sympy")

from test_engine import cirq_expvals, pauli_terms  # noqa: E402

from qaudit.engine import PauliObservables, Program, backward, backward_features, forward  # noqa: E402

ROT = {"rx": cirq.rx, "ry": cirq.ry, "rz": cirq.rz}


def encoded_circuit(n: int, n_features: int, rng: np.random.Generator):
    """Angle embedding, a trainable entangling layer, re-uploading of the features (one feature used by
    several gates, some fused with trainable rotations on the same qubit), a ZZ feature gate, another layer.
    Returns the circuit, qubits, parameter names and ``uses``: (feature index, gate position, coef, const)."""
    q = cirq.LineQubit.range(n)
    x = [sympy.Symbol(f"x{j}") for j in range(n_features)]
    p = iter(sympy.Symbol(f"p{i}") for i in range(1000))
    names: list[str] = []
    ops, uses = [], []

    def feature_gate(kind, j, qubits, coef, const):
        angle = float(coef) * x[j] + float(const)
        uses.append((j, len(ops), float(coef), float(const)))
        gate = ROT[kind](angle) if kind in ROT else cirq.ZZPowGate(exponent=angle / np.pi, global_shift=-0.5)
        ops.append(gate.on(*qubits))

    def param_gate(kind, qubit):
        s = next(p)
        names.append(str(s))
        ops.append(ROT[kind](s).on(qubit))

    for k in range(n):
        feature_gate("ry", k % n_features, [q[k]], 1.0, 0.0)
    for k in range(n):
        param_gate("rz", q[k])
        param_gate("ry", q[k])
    for k in range(n - 1):
        ops.append(cirq.CNOT(q[k], q[k + 1]))
    for k in range(n):  # re-uploading, fused with the trainable rotations below
        feature_gate("rx", (k + 1) % n_features, [q[k]], rng.normal(), rng.normal())
        param_gate("rz", q[k])
    feature_gate("zz", 0, [q[0], q[n - 1]], 0.7, 0.2)
    ops.append(cirq.CZ(q[0], q[1]))
    for k in range(n):
        param_gate("ry", q[k])
    return ops, q, names, uses


def _grads(n=4, n_features=3, batch=5, seed=0):
    rng = np.random.default_rng(seed)
    ops, qubits, names, uses = encoded_circuit(n, n_features, rng)
    circuit = cirq.Circuit(ops, strategy=cirq.InsertStrategy.EARLIEST)
    feature_names = [f"x{j}" for j in range(n_features)]
    program = Program.from_circuit(circuit, qubits, names, feature_names)
    terms = pauli_terms(n, rng)
    obs = PauliObservables(terms, n)
    theta = rng.normal(size=len(names))
    features = rng.uniform(-np.pi, np.pi, size=(batch, n_features))
    w = rng.normal(size=(batch, len(terms)))  # L = Σ w * ev, dL/dev = w
    return program, obs, theta, features, w, (ops, qubits, names, uses, terms)


@pytest.mark.parametrize("per_sample", [False, True])
def test_feature_grads_match_finite_differences(per_sample):
    program, obs, theta, features, w, _ = _grads()
    ev, cache = forward(program, theta, obs, features=features, method="batched")
    g_theta, g_x = backward_features(cache, w, per_sample=per_sample)
    # theta gradients unchanged by the feature sweep
    ref_theta, _ = backward(forward(program, theta, obs, features=features, method="batched")[1], w,
                            per_sample=per_sample)
    np.testing.assert_allclose(g_theta, ref_theta, atol=1e-13, rtol=0)
    h = 1e-5
    fd = np.zeros_like(features)
    for n in range(features.shape[0]):
        for j in range(features.shape[1]):
            up, down = features.copy(), features.copy()
            up[n, j] += h
            down[n, j] -= h
            fd[n, j] = (np.sum(w * forward(program, theta, obs, features=up)[0])
                        - np.sum(w * forward(program, theta, obs, features=down)[0])) / (2 * h)
    assert g_x.shape == features.shape
    assert np.max(np.abs(g_x - fd)) < 1e-8


def test_feature_grads_match_parameter_shift_on_cirq():
    """Parameter shift, gate by gate, on cirq.Simulator: d/dx_j = Σ_gates coef · (f(+π/2) − f(−π/2)) / 2."""
    program, obs, theta, features, w, (ops, qubits, names, uses, terms) = _grads(n=3, batch=3, seed=1)
    _, cache = forward(program, theta, obs, features=features, method="batched")
    _, g_x = backward_features(cache, w)
    feature_names = [f"x{k}" for k in range(features.shape[1])]
    ps = np.zeros_like(features)
    for j, position, coef, const in uses:
        gate = ops[position].gate
        for n in range(len(features)):
            for sign in (1.0, -1.0):
                angle = coef * features[n, j] + const + sign * np.pi / 2  # only this gate shifted
                if isinstance(gate, cirq.ZZPowGate):
                    new = cirq.ZZPowGate(exponent=angle / np.pi, global_shift=-0.5)
                else:
                    new = type(gate)(rads=angle)
                shifted = ops[:position] + [new.on(*ops[position].qubits)] + ops[position + 1:]
                circuit = cirq.Circuit(shifted, strategy=cirq.InsertStrategy.EARLIEST)
                ev = cirq_expvals(circuit, qubits, terms, theta, names, features=features[n:n + 1],
                                  feature_names=feature_names)
                ps[n, j] += sign * coef * 0.5 * float(np.sum(w[n] * ev[0]))
    assert np.max(np.abs(g_x - ps)) < 1e-8


def test_feature_grads_need_a_batched_pass():
    program, obs, theta, features, w, _ = _grads()
    _, cache = forward(program, theta, obs, features=features)
    cache.features = None
    with pytest.raises(ValueError):
        backward_features(cache, w)
