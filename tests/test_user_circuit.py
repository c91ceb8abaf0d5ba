"""user-circuit: allowlisted Cirq JSON, encodings, cirq.Simulator agreement, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import cirq
import numpy as np
import pytest
import sympy
from qaudit_qnn.user_circuit import UserCircuit, load_circuit, validate_circuit_json

from qaudit.sdk.errors import QauditError
from qaudit.sdk.testing import check_model, load_tiny_dataset

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "models"


def angle_circuit() -> cirq.Circuit:
    """3 qubits, features x0..x2 (re-uploaded, one scaled by a linear form), mixed gates."""
    q = cirq.LineQubit.range(3)
    x = [sympy.Symbol(f"x{i}") for i in range(3)]
    t = [sympy.Symbol(f"t{i}") for i in range(7)]
    return cirq.Circuit(
        [cirq.rx(x[i]).on(q[i]) for i in range(3)],
        [cirq.ry(t[i]).on(q[i]) for i in range(3)],
        cirq.CNOT(q[0], q[1]), cirq.CZ(q[1], q[2]),
        cirq.XPowGate(exponent=t[3]).on(q[2]),
        cirq.ZZPowGate(exponent=0.5 * t[4] - 0.25).on(q[0], q[2]),
        cirq.H(q[1]),
        [cirq.rz(2 * x[i] + 0.1).on(q[i]) for i in range(3)],
        cirq.ry(-t[5] / 3).on(q[0]), cirq.rx(sympy.pi * t[6]).on(q[1]),
    )


def amplitude_circuit() -> cirq.Circuit:
    q = cirq.GridQubit.rect(1, 3)
    t = [sympy.Symbol(f"t{i}") for i in range(6)]
    return cirq.Circuit([cirq.ry(t[i]).on(q[i]) for i in range(3)], cirq.CNOT(q[0], q[1]),
                        cirq.ISWAP(q[1], q[2]) ** 0.5, [cirq.rz(t[3 + i]).on(q[i]) for i in range(3)],
                        cirq.S(q[0]), cirq.T(q[2]))


def as_json(circuit: cirq.Circuit) -> dict:
    return json.loads(cirq.to_json(circuit))


ANGLE = {"circuit": as_json(angle_circuit()), "encoding": "angle", "features": ["x0", "x1", "x2"],
         "readout": ["Z0", "X1", "Y2", "Z0 Z2", "X0 Y1"], "epochs": 1}
AMPLITUDE = {"circuit": as_json(amplitude_circuit()), "encoding": "amplitude",
             "readout": ["Z0", "Z1", "Z2", "X0 X1", "Y1 Z2"], "epochs": 1}


@pytest.fixture(scope="module")
def digits():
    ds = load_tiny_dataset()
    return ds.X[:150], ds.y[:150]


@pytest.mark.parametrize("options", [ANGLE, AMPLITUDE], ids=["angle", "amplitude"])
def test_conformance(options, digits):
    X, y = digits
    model = check_model(UserCircuit, options, X, y, n_checks=5)
    assert model.weights["theta"].shape == ((7,) if options["encoding"] == "angle" else (6,))
    assert model.compiled[2].input_dependent == (options["encoding"] == "angle")


def pauli(term: str, qubits: list) -> cirq.PauliString:
    ops = {"X": cirq.X, "Y": cirq.Y, "Z": cirq.Z}
    return cirq.PauliString([ops[t[0]](qubits[int(t[1:])]) for t in term.split()])


def cirq_expectations(task) -> np.ndarray:
    """Independent reference: cirq.Simulator per sample, Pauli strings from the readout."""
    simulator = cirq.Simulator(dtype=np.complex128)
    qubit_map = {q: i for i, q in enumerate(task.qubits)}
    observables = [pauli(t, task.qubits) for t in task.observables]
    out = []
    for i in range(task.n_samples):
        values = task.resolver()
        if task.features is not None:
            values.update({name: float(v) for name, v in zip(task.feature_names, task.features[i])})
        circuit = cirq.resolve_parameters(task.circuit, cirq.ParamResolver(values))
        kwargs = {"initial_state": task.states[i]} if task.states is not None else {}
        psi = simulator.simulate(circuit, qubit_order=task.qubits, **kwargs).final_state_vector
        out.append([p.expectation_from_state_vector(psi, qubit_map).real for p in observables])
    return np.array(out)


@pytest.mark.parametrize("options", [ANGLE, AMPLITUDE], ids=["angle", "amplitude"])
def test_expectations_match_cirq_simulator(options, digits):
    X, y = digits
    model = UserCircuit.from_options(options).fit(X, y, n_classes=10)
    Z = model.transform(X[:6])
    task = model.task(X[:6])
    np.testing.assert_allclose(model.expectations(Z), cirq_expectations(task), atol=1e-6)


def test_angle_features_are_scaled_to_zero_pi(digits):
    X, y = digits
    model = UserCircuit.from_options(ANGLE).fit(X, y, n_classes=10)
    Z = model.transform(X)
    assert Z.shape == (150, 3)
    assert Z.min() == pytest.approx(0.0, abs=1e-12) and Z.max() == pytest.approx(np.pi, abs=1e-12)


def test_example_config_trains_and_round_trips(cli_runner, tmp_path):
    out = tmp_path / "user.json"
    result = cli_runner.invoke(["train", "--model", "user-circuit", "-O", f"config={EXAMPLES / 'my_model.json'}",
                                "-O", "epochs=1", "--n-train", "200", "--n-holdout", "100", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["config"]["circuit"]["cirq_type"] == "Circuit"  # embedded, no path
    assert doc["config"]["features"] == ["x0", "x1", "x2", "x3"]
    result = cli_runner.invoke(["evaluate", str(out), "--json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["splits"]["holdout"]["n"] == 100


def test_cli_options_interface(cli_runner, tmp_path):
    out = tmp_path / "amp.json"
    result = cli_runner.invoke(["train", "--model", "user-circuit", "-O",
                                f"circuit={EXAMPLES / 'my_amplitude_circuit.json'}", "-O", "readout=Z0,Z1,X0 X1",
                                "-O", "epochs=1", "--n-train", "100", "--n-holdout", "50", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["config"]["readout"] == ["Z0", "Z1", "X0 X1"]
    assert doc["params"]["W"] and len(doc["params"]["W"]) == 3


# ----------------------------------------------------------------------------- untrusted JSON


def tampered(path_fn, value):
    obj = as_json(angle_circuit())
    path_fn(obj, value)
    return obj


def first_gate(obj):
    return obj["moments"][0]["operations"][0]["gate"]


@pytest.mark.parametrize("obj,match", [
    (tampered(lambda o, v: first_gate(o).update(v), {"cirq_type": "MatrixGate", "matrix": [[1]]}),
     "'MatrixGate' is not allowed as a gate"),
    (tampered(lambda o, v: first_gate(o).update(rads=v),
              {"cirq_type": "sympy.Pow", "args": [{"cirq_type": "sympy.Symbol", "name": "x0"}, 2]}),
     "linear forms"),
    (tampered(lambda o, v: first_gate(o).update(rads=v), {"cirq_type": "sympy.sin", "args": [1]}), "not allowed"),
    (tampered(lambda o, v: first_gate(o).update(rads=v), {"cirq_type": "sympy.Symbol", "name": "__import__('os')"}),
     "identifier"),
    (tampered(lambda o, v: first_gate(o).update(rads=v), {"cirq_type": "sympy.Integer", "i": "1+1"}),
     "must be an integer"),
    (tampered(lambda o, v: first_gate(o).update(rads=v), {"cirq_type": "sympy.Float", "approx": "1e3"}),
     "finite number"),
    (tampered(lambda o, v: first_gate(o).update(rads=v), {"cirq_type": "REF", "key": 1}), "not allowed"),
    (tampered(lambda o, v: o["moments"][0]["operations"].append(v), {"cirq_type": "CircuitOperation"}),
     "not allowed as a operation"),
    (tampered(lambda o, v: first_gate(o).update(v), {"evil": 1}), "unexpected field"),
    (tampered(lambda o, v: o["moments"][0]["operations"][0]["qubits"].append(v), {"cirq_type": "LineQid", "x": 3,
                                                                                  "dimension": 3}), "not allowed"),
    ({"cirq_type": "sympy.Symbol", "name": "x"}, "not allowed as a Circuit"),
    ([1, 2], "expected a Circuit object"),
])
def test_disallowed_json_is_rejected_before_cirq_sees_it(obj, match):
    with pytest.raises(QauditError, match=match):
        validate_circuit_json(obj)


def test_deep_nesting_is_rejected():
    expr: dict = {"cirq_type": "sympy.Symbol", "name": "x0"}
    for _ in range(100):
        expr = {"cirq_type": "sympy.Add", "args": [expr, 1]}
    obj = tampered(lambda o, v: first_gate(o).update(rads=v), expr)
    with pytest.raises(QauditError, match="nested deeper"):
        validate_circuit_json(obj)


def test_allowed_circuit_round_trips_exactly():
    assert load_circuit(as_json(angle_circuit())) == angle_circuit()
    assert load_circuit(as_json(amplitude_circuit())) == amplitude_circuit()


@pytest.mark.parametrize("change,match", [
    (lambda o: o.update(circuit=as_json(cirq.Circuit(cirq.rx(sympy.Symbol("x0") * sympy.Symbol("t0")).on(
        cirq.LineQubit(0)))), features=["x0"]), "linear|two symbols"),
    (lambda o: o.update(circuit=as_json(cirq.Circuit(cirq.PhasedXPowGate(phase_exponent=sympy.Symbol("t0")).on(
        cirq.LineQubit(0)), cirq.rx(sympy.Symbol("x0")).on(cirq.LineQubit(1)))), features=["x0"]),
     "unsupported parameterised gate"),
    (lambda o: o.update(features=["x0", "x9"]), "x9 do not appear"),
    (lambda o: o.update(params=["t0", "t1"]), "neither features nor parameters"),
    (lambda o: o.update(params=["t0", "nope"]), "nope do not appear"),
    (lambda o: o.update(features=[]), "angle encoding needs the feature symbols"),
    (lambda o: o.update(encoding="amplitude"), "amplitude encoding binds no feature"),
    (lambda o: o.update(encoding="basis"), "encoding must be"),
    (lambda o: o.update(readout=["Z7"]), "names qubit 7"),
    (lambda o: o.update(readout=["Q0"]), "bad Pauli term"),
    (lambda o: o.update(pca="never"), "declares 3 feature symbols but the data has 64"),
])
def test_bad_declarations_are_clear_errors(change, match, digits):
    X, y = digits
    options = json.loads(json.dumps(ANGLE))
    change(options)
    with pytest.raises(QauditError, match=match):
        UserCircuit.from_options(options).fit(X, y, n_classes=10)


def test_amplitude_qubit_count_must_fit_the_input(digits):
    X, y = digits
    with pytest.raises(QauditError, match="64 features do not fit 3 qubits"):
        UserCircuit.from_options({**AMPLITUDE, "pca": "never"}).fit(X, y, n_classes=10)


def test_cli_errors_are_one_line_exit_2(cli_runner, tmp_path):
    bad = tmp_path / "bad_circuit.json"
    obj = tampered(lambda o, v: first_gate(o).update(rads=v),
                   {"cirq_type": "sympy.Pow", "args": [{"cirq_type": "sympy.Symbol", "name": "x0"}, 2]})
    bad.write_text(json.dumps(obj))
    example = f"circuit={EXAMPLES / 'my_circuit.json'}"
    cases = [
        ["-O", f"circuit={bad}", "-O", "encoding=angle", "-O", "features=x0,x1,x2"],  # sympy.Pow
        ["-O", example, "-O", "encoding=angle", "-O", "features=x0,y1"],  # unknown feature symbol
        ["-O", example, "-O", "readout=Z9"],  # readout on a qubit the circuit lacks
        ["-O", example, "-O", "encoding=angle", "-O", "features=x0,x1,x2,x3", "-O", "pca=never"],  # 64 != 4
        ["-O", example, "-O", "params=a0_0"],  # other symbols unbound
        ["-O", f"circuit={tmp_path / 'missing.json'}"],
        [],  # no circuit at all
    ]
    for extra in cases:
        out = tmp_path / "m.json"
        result = cli_runner.invoke(["train", "--model", "user-circuit", *extra, "--out", str(out)])
        assert result.exit_code == 2, (extra, result.stderr, result.exception)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
        assert not out.exists()


def test_tampered_model_file_is_rejected_on_load(cli_runner, tmp_path):
    out = tmp_path / "user.json"
    result = cli_runner.invoke(["train", "--model", "user-circuit", "-O", f"config={EXAMPLES / 'my_model.json'}",
                                "-O", "epochs=0", "--n-train", "50", "--n-holdout", "20", "--out", str(out)])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(out.read_text())
    first_gate(doc["config"]["circuit"])["rads"] = {"cirq_type": "sympy.Function", "args": []}
    out.write_text(json.dumps(doc))
    result = cli_runner.invoke(["evaluate", str(out)])
    assert result.exit_code == 2
    assert "not allowed" in result.stderr
    doc["config"]["circuit"] = "examples/models/my_circuit.json"  # a path is never followed from a model file
    out.write_text(json.dumps(doc))
    result = cli_runner.invoke(["evaluate", str(out)])
    assert result.exit_code == 2 and "embedded Cirq JSON object" in result.stderr


def test_noise_option_matches_density_matrix_simulator(digits):
    """Amplitude-encoded user circuit under the paper's noise model vs cirq.DensityMatrixSimulator."""
    from qaudit.engine.noise import NoiseModel

    X, y = digits
    model = UserCircuit.from_options({**AMPLITUDE, "noise": "paper"}).fit(X, y, n_classes=10)
    Z = model.transform(X[:3])
    circuit, qubits, program, _, readout = model.compiled[:5]
    noisy = cirq.resolve_parameters(NoiseModel.parse("paper").apply(circuit),
                                    dict(zip(program.param_names, model.weights["theta"])))
    simulator = cirq.DensityMatrixSimulator(dtype=np.complex128)
    qubit_map = {q: i for i, q in enumerate(qubits)}
    reference = []
    for z in Z:
        rho = simulator.simulate(noisy, qubit_order=qubits,
                                 initial_state=np.outer(z, z).astype(np.complex128)).final_density_matrix
        reference.append([pauli(t, qubits).expectation_from_density_matrix(rho, qubit_map).real for t in readout])
    np.testing.assert_allclose(model.expectations(Z), np.array(reference), atol=1e-6)
    with pytest.raises(QauditError, match="amplitude encoding only"):
        UserCircuit.from_options({**ANGLE, "noise": "paper"}).fit(X, y, n_classes=10)
