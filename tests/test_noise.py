"""The exact noisy engine (Heisenberg picture) against independent paths: the golden
PennyLane default.mixed file, cirq.DensityMatrixSimulator and finite differences."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED

from qaudit.sdk.errors import QauditError

GOLDEN_DIR = SHARED / "data" / "golden"

cirq = pytest.importorskip("cirq")


def _ring(n: int, layers: int):
    from qaudit_qnn.basic import u3_ring_layers

    qubits = cirq.LineQubit.range(n)
    circuit, names = u3_ring_layers(qubits, layers)
    return circuit, qubits, names


def _states(rng: np.random.Generator, batch: int, n: int) -> np.ndarray:
    x = rng.normal(size=(batch, 2**n))
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _density_matrix(circuit, qubits, terms, states) -> np.ndarray:
    sim = cirq.DensityMatrixSimulator(dtype=np.complex128)
    from qaudit_backends.common import cirq_observables

    obs = cirq_observables(terms, qubits)
    index = {q: i for i, q in enumerate(qubits)}
    out = []
    for x in states:
        rho = sim.simulate(circuit, qubit_order=qubits, initial_state=x.astype(np.complex128)).final_density_matrix
        out.append([np.real(o.expectation_from_density_matrix(rho, index)) for o in obs])
    return np.array(out)


def test_golden_noisy_file():
    from qaudit.engine.noise import NoiseModel, NoisyProgram, noisy_forward

    path = GOLDEN_DIR / "basic_qnn_noisy.json"
    if not path.is_file():
        pytest.skip(f"golden file {path} not found")
    g = json.loads(path.read_text())["basic_qnn_paper_noise_8q_2l"]
    circuit, qubits, names = _ring(g["n_qubits"], g["n_layers"])
    x = np.array(g["x_unnormalised"])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    noise = NoiseModel(g["p1"], g["p2"], g["p_bitflip"])
    assert noise == NoiseModel.parse("paper")
    program = NoisyProgram.from_circuit(circuit, qubits, names, noise)
    ev, _ = noisy_forward(program, np.array(g["theta"]).reshape(-1), [f"Z{q}" for q in range(8)], x)
    assert np.abs(ev - np.array(g["expval_z"])).max() < 1e-10


def test_matches_density_matrix_simulator_with_xy_observables(rng):
    from qaudit.engine.noise import NoiseModel, NoisyProgram, noisy_forward

    circuit, qubits, names = _ring(5, 2)
    theta = rng.normal(size=len(names))
    noise = NoiseModel(0.01, 0.03, 0.05)
    terms = ["Z0", "X1", "Y2 Z3", "X0 Y4", "Z1 Z2 Z3"]
    x = _states(rng, 5, 5)
    program = NoisyProgram.from_circuit(circuit, qubits, names, noise)
    ev, _ = noisy_forward(program, theta, terms, x)
    resolved = cirq.resolve_parameters(circuit, dict(zip(names, theta)))
    want = _density_matrix(noise.apply(resolved), qubits, terms, x)
    assert np.abs(ev - want).max() < 1e-6
    clean = _density_matrix(resolved, qubits, terms, x)
    assert np.abs(want - clean).max() > 1e-3  # the noise matters, so the agreement means something


def test_general_kraus_channels_and_complex_states(rng):
    """Non-unital channels (amplitude damping) and complex inputs go through the same PTM path."""
    from qaudit.engine.noise import NoisyProgram, noisy_forward

    q = cirq.LineQubit.range(3)
    import sympy

    t = [sympy.Symbol(f"t{i}") for i in range(3)]
    circuit = cirq.Circuit(
        cirq.rx(t[0]).on(q[0]), cirq.amplitude_damp(0.2).on(q[0]), cirq.CZ(q[0], q[2]),
        cirq.H(q[1]), cirq.phase_damp(0.1).on(q[1]), cirq.ZZPowGate(exponent=t[1]).on(q[1], q[2]),
        cirq.ry(t[2]).on(q[2]), cirq.depolarize(0.05, n_qubits=2).on(q[0], q[1]),
    )
    theta = rng.normal(size=3)
    x = rng.normal(size=(4, 8)) + 1j * rng.normal(size=(4, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    terms = ["Z0", "X1", "Y2", "X0 Z2"]
    program = NoisyProgram.from_circuit(circuit, q, ["t0", "t1", "t2"])
    ev, _ = noisy_forward(program, theta, terms, x)
    want = _density_matrix(cirq.resolve_parameters(circuit, {"t0": theta[0], "t1": theta[1], "t2": theta[2]}),
                           q, terms, x)
    assert np.abs(ev - want).max() < 1e-8


def test_gradient_matches_finite_differences(rng):
    from qaudit.engine.noise import NoiseModel, NoisyProgram, noisy_backward, noisy_forward

    circuit, qubits, names = _ring(4, 2)
    theta = rng.normal(size=len(names))
    program = NoisyProgram.from_circuit(circuit, qubits, names, NoiseModel(0.02, 0.05, 0.03))
    terms = [f"Z{q}" for q in range(4)] + ["X0 X1"]
    x = _states(rng, 7, 4)
    d = rng.normal(size=(7, len(terms)))
    ev, cache = noisy_forward(program, theta, terms, x, keep=True)
    grad = noisy_backward(cache, d)
    eps = 1e-6
    fd = np.zeros_like(theta)
    for i in range(len(theta)):
        e = np.zeros_like(theta)
        e[i] = eps
        fd[i] = (np.sum(noisy_forward(program, theta + e, terms, x)[0] * d)
                 - np.sum(noisy_forward(program, theta - e, terms, x)[0] * d)) / (2 * eps)
    assert np.abs(grad - fd).max() < 1e-7
    assert np.abs(grad).max() > 1e-3
    from dataclasses import replace

    from qaudit.engine.noise import noisy_per_sample_grads

    per = noisy_per_sample_grads(cache, d, chunk=3)
    single = [noisy_backward(replace(cache, states=x[i:i + 1], ev=ev[i:i + 1]), d[i:i + 1]) for i in range(7)]
    assert np.abs(per - np.array(single)).max() < 1e-12
    assert np.abs(per.sum(axis=0) - grad).max() < 1e-12


def test_zero_noise_equals_exact_engine(rng):
    from qaudit.engine import PauliObservables, Program, forward
    from qaudit.engine.noise import NoiseModel, NoisyProgram, noisy_forward

    circuit, qubits, names = _ring(5, 3)
    theta = rng.normal(size=len(names))
    terms = [f"Z{q}" for q in range(5)] + ["Y0 X3"]
    x = _states(rng, 6, 5)
    ev, _ = noisy_forward(NoisyProgram.from_circuit(circuit, qubits, names, NoiseModel(0, 0, 0)), theta, terms, x)
    want, _ = forward(Program.from_circuit(circuit, qubits, names), theta, PauliObservables(terms, 5), states=x)
    assert np.abs(ev - want).max() < 1e-12


def test_noise_placement_counts():
    from qaudit.engine.noise import NoiseModel

    circuit, qubits, names = _ring(4, 3)
    noisy = NoiseModel(0.1, 0.2, 0.3).apply(circuit)
    ops = list(noisy.all_operations())
    dep1 = [op for op in ops if isinstance(op.gate, cirq.DepolarizingChannel) and op.gate.p == 0.1]
    dep2 = [op for op in ops if isinstance(op.gate, cirq.DepolarizingChannel) and op.gate.p == 0.2]
    flips = [op for op in ops if isinstance(op.gate, cirq.BitFlipChannel)]
    assert (len(dep1), len(dep2), len(flips)) == (3 * 4, 3 * 4 * 2, 3 * 4)
    # one p1 channel per U3 block: directly after the block's last rotation
    seq = [op for op in ops if qubits[2] in op.qubits]
    first = next(i for i, op in enumerate(seq) if isinstance(op.gate, cirq.DepolarizingChannel))
    assert first == 3 and isinstance(seq[first - 1].gate, cirq.ZPowGate)


@pytest.mark.parametrize("spec, expected", [
    ("paper", (5e-4, 5e-3, 0.01)),
    ("p1=0.001,p2=0.02", (0.001, 0.02, 0.01)),
    ("bitflip=0", (5e-4, 5e-3, 0.0)),
])
def test_noise_spec(spec, expected):
    from qaudit.engine.noise import NoiseModel

    model = NoiseModel.parse(spec)
    assert (model.p1, model.p2, model.bitflip) == expected
    assert NoiseModel.parse(model.spec) == model
    assert NoiseModel.parse("none") is None


@pytest.mark.parametrize("spec", ["p1=2", "p3=0.1", "loud", "p1=abc"])
def test_bad_noise_spec(spec):
    from qaudit.engine.noise import NoiseModel

    with pytest.raises(QauditError):
        NoiseModel.parse(spec)


def test_training_under_noise_has_exact_gradients(rng):
    from qaudit_qnn.basic import BasicQNN

    from qaudit.files.data import load_dataset

    ds = load_dataset("digits", {})
    X, y = ds.X[:60], ds.y[:60]
    model = BasicQNN(qubits=4, layers=2, epochs=1, noise="p1=0.01,p2=0.05,bitflip=0.05")
    model.initialise(X, y, 10)
    loss, grad = model.loss_and_grad(X[:16], y[:16])
    theta = model.weights["theta"].copy()
    for i in (0, 5, 13):
        values = []
        for sign in (1, -1):
            model.weights["theta"] = theta.copy()
            model.weights["theta"][i] += sign * 1e-6
            values.append(model.loss_and_grad(X[:16], y[:16])[0])
        model.weights["theta"] = theta
        assert abs(grad["theta"][i] - (values[0] - values[1]) / 2e-6) < 1e-7
    per = model.per_sample_grads(X[:5], y[:5])
    assert np.allclose(per["theta"].mean(axis=0), model.loss_and_grad(X[:5], y[:5])[1]["theta"], atol=1e-12)
    clean = BasicQNN(qubits=4, layers=2, epochs=1)
    clean.initialise(X, y, 10)
    assert abs(clean.loss_and_grad(X[:16], y[:16])[0] - loss) > 1e-4
    with pytest.raises(QauditError):
        BasicQNN(qubits=4, noise="p1=5").build_circuit()


def test_train_cli_with_noise(tmp_path, cli_runner):
    out = tmp_path / "m.json"
    result = cli_runner.invoke(["train", "--qubits", "4", "--layers", "1", "--epochs", "1", "--n-train", "60",
                                "--n-holdout", "30", "--noise", "paper", "--out", str(out)])
    assert result.exit_code == 0, result.output
    config = json.loads(out.read_text())["config"]
    assert config["noise"] == "paper"
    bad = cli_runner.invoke(["train", "--qubits", "4", "--noise", "p1=7", "--out", str(tmp_path / "x.json")])
    assert bad.exit_code == 2
    assert "p1=7" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.json").exists()
