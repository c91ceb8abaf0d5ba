"""user-circuit ``encoder``: classical layers in front of an angle-encoded circuit, trained through the
engine's per-sample feature gradients (no framework needed: a hand-written circuit)."""

from __future__ import annotations

import json

import cirq
import numpy as np
import pytest
import sympy
from conftest import one_line_error
from qaudit_qnn.user_circuit import UserCircuit

from qaudit.sdk.errors import QauditError
from qaudit.sdk.testing import check_model

ENCODER = [{"op": "linear", "out": 3}, {"op": "tanh"}, {"op": "scale", "factor": 3.0}]


def _circuit() -> dict:
    q = cirq.LineQubit.range(3)
    x = [sympy.Symbol(f"x{i}") for i in range(3)]
    t = [sympy.Symbol(f"t{i}") for i in range(9)]
    circuit = cirq.Circuit(
        [cirq.ry(x[i]).on(q[i]) for i in range(3)],
        [cirq.rz(t[i]).on(q[i]) for i in range(3)], [cirq.ry(t[3 + i]).on(q[i]) for i in range(3)],
        cirq.CNOT(q[0], q[1]), cirq.CNOT(q[1], q[2]),
        [cirq.rx(0.5 * x[i] + 0.1).on(q[i]) for i in range(3)],  # re-uploading, fused with the rotations below
        [cirq.ry(t[6 + i]).on(q[i]) for i in range(3)],
    )
    return json.loads(cirq.to_json(circuit))


OPTIONS = {"circuit": _circuit(), "encoding": "angle", "features": ["x0", "x1", "x2"], "readout": ["Z0", "Z1", "Z2"],
           "inputs": "raw", "n_inputs": 5, "encoder": ENCODER, "epochs": 1, "batch_size": 16}


def _amplitude_circuit() -> dict:
    q = cirq.LineQubit.range(3)
    t = [sympy.Symbol(f"t{i}") for i in range(6)]
    circuit = cirq.Circuit([cirq.ry(t[i]).on(q[i]) for i in range(3)], cirq.CNOT(q[0], q[1]), cirq.CZ(q[1], q[2]),
                           [cirq.rx(t[3 + i]).on(q[i]) for i in range(3)])
    return json.loads(cirq.to_json(circuit))


#: An encoder feeding an amplitude encoding: 6 outputs, zero-padded to 8 amplitudes and L2-normalised.
AMPLITUDE = {"circuit": _amplitude_circuit(), "encoding": "amplitude", "readout": ["Z0", "Z1", "X2", "Z0 Z2"],
             "inputs": "raw", "n_inputs": 5, "encoder": [{"op": "linear", "out": 6}, {"op": "leaky_relu"}],
             "epochs": 1, "batch_size": 16}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.8).astype(int)
    return X, y


@pytest.mark.parametrize("options", [OPTIONS, AMPLITUDE], ids=["angle", "amplitude"])
def test_conformance(data, options):
    X, y = data
    model = check_model(UserCircuit, options, X, y, n_checks=6)
    assert set(model.weights) == {"theta", "W", "b", "enc0_W", "enc0_b"}
    assert model.weights["enc0_W"].shape == (3 if options is OPTIONS else 6, 5)


@pytest.mark.parametrize("options", [OPTIONS, AMPLITUDE], ids=["angle", "amplitude"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_encoder_gradients_match_finite_differences(data, per_sample, options):
    """Every encoder weight and circuit angle, float64, to < 1e-8 absolute."""
    X, y = data
    model = UserCircuit.from_options({**options, "epochs": 0}).fit(X, y, n_classes=3)
    Xb, yb = X[:6], y[:6]
    if per_sample:
        grads = model.per_sample_grads(Xb, yb)
        loss = lambda: model._loss_grad_encoded(model.transform(Xb), yb, per_sample=True)[0]  # noqa: E731
    else:
        grads = model.loss_and_grad(Xb, yb)[1]
        loss = lambda: model.loss_and_grad(Xb, yb)[0]  # noqa: E731
    h, worst = 1e-5, 0.0
    for name in ("enc0_W", "enc0_b", "theta"):
        w = model.weights[name]
        for i in range(w.size):
            original = w.flat[i]
            w.flat[i] = original + h
            up = loss()
            w.flat[i] = original - h
            down = loss()
            w.flat[i] = original
            fd = (np.asarray(up) - np.asarray(down)) / (2 * h)
            g = grads[name].reshape(len(yb), -1)[:, i] if per_sample else grads[name].flat[i]
            worst = max(worst, float(np.max(np.abs(fd - g))))
    assert worst < 1e-8


def test_training_moves_the_encoder_and_lowers_the_loss(data):
    X, y = data
    start = UserCircuit.from_options({**OPTIONS, "epochs": 0}).fit(X, y, n_classes=3)
    trained = UserCircuit.from_options({**OPTIONS, "epochs": 8}).fit(X, y, n_classes=3)
    assert np.max(np.abs(trained.weights["enc0_W"] - start.weights["enc0_W"])) > 0.05
    assert trained.history[-1] < trained.history[0] - 0.05
    again = UserCircuit.from_options({**OPTIONS, "epochs": 8}).fit(X, y, n_classes=3)
    assert all(np.array_equal(again.weights[k], v) for k, v in trained.weights.items())  # seeded


def test_files_without_an_encoder_load_unchanged(data):
    """A file written before the option existed (no ``encoder`` key) loads and predicts as before."""
    X, y = data
    options = {k: v for k, v in OPTIONS.items() if k not in ("encoder", "n_inputs", "inputs")}
    model = UserCircuit.from_options(options).fit(X[:, :3], y, n_classes=3)
    document = json.loads(json.dumps(model.to_document()))
    assert "encoder" not in document["config"] and "optimizer" not in document["config"]  # as older qaudit wrote
    old = UserCircuit.from_document(document)
    np.testing.assert_array_equal(old.predict_proba(X[:10, :3]), model.predict_proba(X[:10, :3]))


@pytest.mark.parametrize("encoder,match", [
    ("linear", "encoder must be a list"),
    ([{"op": "conv2d"}], r"encoder\[0\] has unknown op 'conv2d'"),
    ([{"op": "linear"}], r"encoder\[0\] linear needs exactly 'out'"),
    ([{"op": "linear", "out": 3, "bias": False}], r"encoder\[0\] linear needs exactly 'out'"),
    ([{"op": "linear", "out": 3}, {"op": "scale"}], r"encoder\[1\] scale needs exactly 'factor'"),
    ([{"op": "linear", "out": 3}, {"op": "scale", "factor": 1e9}], "scale needs"),
    ([{"op": "linear", "out": 3}, {"op": "tanh", "k": 1}], "tanh takes no settings"),
    ([{"op": "linear", "out": 4}], "the encoder gives 4 outputs for 3 feature symbols"),
    ([], "at least one layer"),
])
def test_malformed_encoder_sections_are_one_line_errors(encoder, match):
    with pytest.raises(QauditError, match=match) as info:
        UserCircuit.from_options({**OPTIONS, "encoder": encoder})
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("change,match", [
    ({"inputs": "fit"}, "inputs 'raw'"),
    ({"n_inputs": 0}, "n_inputs"),
    ({"derived": [[[1.0, [0]]]] * 3}, "no derived features"),
])
def test_encoder_needs_raw_inputs(change, match):
    with pytest.raises(QauditError, match=match):
        UserCircuit.from_options({**OPTIONS, **change})


def test_amplitude_encoder_limits(data):
    X, y = data
    with pytest.raises(QauditError, match="no noise"):
        UserCircuit.from_options({**AMPLITUDE, "noise": "paper"})
    with pytest.raises(QauditError, match="the encoder gives 9 outputs for 8 amplitudes"):
        UserCircuit.from_options({**AMPLITUDE, "encoder": [{"op": "linear", "out": 9}]}).fit(X, y, n_classes=3)
    model = UserCircuit.from_options({**AMPLITUDE, "epochs": 0}).fit(X, y, n_classes=3)
    states = model.encode(model.transform(X[:4]))
    assert states.shape == (4, 8) and np.allclose(np.linalg.norm(states, axis=1), 1) and not states[:, 6:].any()


def test_tampered_encoder_in_a_model_file_is_exit_2(cli_runner, tmp_path, data):
    X, y = data
    model = UserCircuit.from_options({**OPTIONS, "epochs": 0}).fit(X, y, n_classes=3)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    from qaudit.files.data import DataRecord, load_dataset
    from qaudit.files.model_file import ModelFile, save

    dataset = load_dataset(str(tmp_path / "data.npz"))
    record = DataRecord(dataset.name, dataset.options, np.arange(0, 120, 2), np.arange(1, 120, 2), 0, {},
                        fingerprint=dataset.fingerprint(), kind=dataset.kind)
    path = tmp_path / "m.json"
    save(ModelFile(model, "user-circuit", record, {}, {}), path)
    assert cli_runner.invoke(["evaluate", str(path)]).exit_code == 0
    doc = json.loads(path.read_text())
    for bad, needle in (([{"op": "softmax"}], "unknown op 'softmax'"), ([{"op": "linear", "out": 2}], "2 outputs"),
                        ({"op": "linear"}, "encoder must be a list")):
        doc["config"]["encoder"] = bad
        path.write_text(json.dumps(doc))
        result = cli_runner.invoke(["evaluate", str(path)])
        assert result.exit_code == 2
        assert needle in one_line_error(result.stderr)
    doc["config"]["encoder"] = ENCODER
    doc["params"]["enc0_W"] = [[0.0] * 4] * 3  # wrong shape
    path.write_text(json.dumps(doc))
    result = cli_runner.invoke(["evaluate", str(path)])
    assert result.exit_code == 2 and "enc0_W" in one_line_error(result.stderr)


def test_dp_sgd_trains_the_encoder_from_clipped_per_sample_gradients(data):
    """DP-SGD reads ``per_sample_grads``: the encoder's weights are among them, so they are clipped, noised
    and trained like the circuit's."""
    pytest.importorskip("dp_accounting", reason="DP-SGD needs the dp extra: pip install 'qaudit[dp]'")
    from qaudit.dp.sgd import private_fit
    from qaudit.dp.spec import DPSpec

    X, y = data
    model = UserCircuit.from_options({**OPTIONS, "epochs": 2})
    start = UserCircuit.from_options({**OPTIONS, "epochs": 0}).fit(X, y, n_classes=3).weights
    record = private_fit(model, X, y, n_classes=3, spec=DPSpec(noise_multiplier=0.8, clip=1.0), seed=0)
    assert record.steps > 0 and np.isfinite(record.epsilon)
    assert np.max(np.abs(model.weights["enc0_W"] - start["enc0_W"])) > 1e-3
    assert all(np.all(np.isfinite(w)) for w in model.weights.values())


def test_amplitude_encoder_gradient_is_the_same_on_the_shared_unitary_path(data):
    """A batch of 40 on 3 qubits takes the shared-unitary path (the input-state gradient from U), per-sample
    gradients the batched one: their means agree."""
    from qaudit.engine import choose_method

    X, y = data
    model = UserCircuit.from_options({**AMPLITUDE, "epochs": 0}).fit(X, y, n_classes=3)
    assert choose_method(model.compiled.program, 40) == "unitary"
    _, grads = model.loss_and_grad(X[:40], y[:40])
    per_sample = model.per_sample_grads(X[:40], y[:40])
    for name, g in grads.items():
        np.testing.assert_allclose(per_sample[name].mean(axis=0), g, atol=1e-12, rtol=1e-10)
