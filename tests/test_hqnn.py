"""The paper's HQNN: gradients vs finite differences, circuit vs cirq.Simulator, model files, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import SHARED
from qaudit_qnn import hqnn as hqnn_module
from qaudit_qnn.hqnn import HQNN

from qaudit.sdk.errors import QauditError
from qaudit.sdk.testing import check_model, make_host, using_host

MNIST_DIR = SHARED / "data" / "mnist"


def central_difference(model, X, y, name: str, i: int, h: float) -> float:
    """(L(w_i + h) - L(w_i - h)) / 2h for entry *i* of weight *name*; the weight is restored."""
    w = model.weights[name]
    old = w.flat[i]
    w.flat[i] = old + h
    up = model.loss_and_grad(X, y)[0]
    w.flat[i] = old - h
    down = model.loss_and_grad(X, y)[0]
    w.flat[i] = old
    return (up - down) / (2 * h)


@pytest.fixture(scope="module")
def mnist():
    if not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST IDX files not found in {MNIST_DIR}")
    from qaudit.files.data import load_dataset

    with using_host(make_host()):
        return load_dataset("mnist", {"data_dir": str(MNIST_DIR)})


@pytest.fixture(scope="module")
def trained(mnist):
    """A 2-layer HQNN after one epoch on 120 images (weights away from initialisation)."""
    model = HQNN(layers=2, epochs=1, seed=3)
    return model.fit(mnist.X[:120], mnist.y[:120], n_classes=10)


def test_conformance(mnist):
    """Protocol conformance, finite differences on every weight, per-sample grads, model document."""
    model = check_model(HQNN, {"epochs": 1, "layers": 1}, mnist.X[:120], mnist.y[:120], n_checks=6)
    assert set(model.weights) == {"conv_weight", "conv_bias", "fc_weight", "fc_bias", "theta", "W", "b"}
    assert model.weights["fc_weight"].shape == (256, 980)
    assert model.weights["theta"].shape == (24,)


def test_gradient_matches_finite_differences_densely(trained, mnist):
    """Every conv weight, every circuit angle, head weights, and a block of the linear layer."""
    model = trained.copy()
    X, y = mnist.X[200:206], mnist.y[200:206]
    _, grad = model.loss_and_grad(X, y)
    h = 1e-6
    checks = {"conv_weight": range(25 * 5), "conv_bias": range(5), "theta": range(48), "W": range(0, 80, 7),
              "b": range(10), "fc_weight": range(0, 256 * 980, 4999), "fc_bias": range(0, 256, 11)}
    for name, entries in checks.items():
        for i in entries:
            fd = central_difference(model, X, y, name, i, h)
            assert abs(fd - grad[name].flat[i]) <= 1e-6 + 1e-4 * abs(fd), (name, i, fd, grad[name].flat[i])


def test_expectations_match_cirq_simulator(trained, mnist):
    """The exported circuit run by cirq.Simulator from the model's own input states."""
    import cirq

    model = trained
    Z = model.transform(mnist.X[300:305])
    task = model.task(mnist.X[300:305])
    assert task.states.shape == (5, 256)
    np.testing.assert_allclose(np.linalg.norm(task.states, axis=1), 1.0, atol=1e-12)
    circuit = cirq.resolve_parameters(task.circuit, cirq.ParamResolver(task.resolver()))
    simulator = cirq.Simulator(dtype=np.complex128)
    observables = [cirq.Z(q) for q in task.qubits]
    qubit_map = {q: i for i, q in enumerate(task.qubits)}
    reference = []
    for state in task.states:
        result = simulator.simulate(circuit, qubit_order=task.qubits, initial_state=state)
        psi = result.final_state_vector
        reference.append([p.expectation_from_state_vector(psi, qubit_map).real for p in observables])
    ours = model.expectations(Z)
    np.testing.assert_allclose(ours, np.array(reference), atol=1e-6)
    # The classical features are independent of the circuit: the first layer's output is the state.
    np.testing.assert_allclose(model.encode(Z), task.states.real, atol=0)


def test_predict_proba_on_the_exact_backend_matches_the_engine(trained, mnist):
    from qaudit.run.backend_choice import resolve_backend

    with using_host(make_host()):
        backend, shots = resolve_backend("exact", None, trained)
    X = mnist.X[400:410]
    np.testing.assert_allclose(trained.predict_proba(X, backend=backend, shots=shots), trained.predict_proba(X),
                               atol=1e-12)


def test_training_learns_and_ascent_unlearns(mnist):
    X, y = mnist.X[:200], mnist.y[:200]
    model = HQNN(epochs=2, seed=0).fit(X, y, n_classes=10)
    assert model.history[1] < model.history[0]
    holdout = np.mean(model.predict(mnist.X[1000:1200]) == mnist.y[1000:1200])
    assert holdout > 0.5, holdout  # chance is 0.1
    forget = y == 4
    before = model.losses(X[forget], y[forget]).mean()
    ascended = model.copy().partial_fit(X[forget], y[forget], epochs=1, sign=-1.0, lr=0.01)
    assert ascended.losses(X[forget], y[forget]).mean() > before
    # copy() is deep: the original is untouched.
    assert model.losses(X[forget], y[forget]).mean() == pytest.approx(before, abs=0)


def test_large_batches_are_chunked_without_changing_results(trained, mnist, monkeypatch):
    X, y = mnist.X[500:510], mnist.y[500:510]
    loss, grad = trained.loss_and_grad(X, y)
    per_sample = trained.per_sample_grads(X, y)
    monkeypatch.setattr(hqnn_module, "CHUNK", 3)
    loss_c, grad_c = trained.loss_and_grad(X, y)
    per_sample_c = trained.per_sample_grads(X, y)
    assert loss_c == pytest.approx(loss, abs=1e-12)
    for key in grad:
        np.testing.assert_allclose(grad_c[key], grad[key], atol=1e-12)
        np.testing.assert_allclose(per_sample_c[key], per_sample[key], atol=1e-12)
    np.testing.assert_allclose(trained.predict_proba(X), trained.predict_proba(X), atol=0)


def test_preprocessing_is_the_papers_normalisation(trained):
    raw = np.array([[0.0, 127.5, 255.0] + [0.0] * 781])
    assert trained.preprocessing[0] == {"op": "scale", "factor": 1 / 255}
    np.testing.assert_allclose(trained.transform(raw)[0, :3], [-1.0, 0.0, 1.0])


def test_refuses_images_that_are_not_28x28(mnist):
    from sklearn.datasets import load_digits

    digits = load_digits()
    with pytest.raises(QauditError, match="28x28"):
        HQNN(epochs=1).fit(digits.data, digits.target)
    model = HQNN(epochs=0).fit(mnist.X[:20], mnist.y[:20], n_classes=10)
    with pytest.raises(QauditError, match="28x28"):
        model.predict_proba(digits.data[:3])
    with pytest.raises(QauditError, match="28x28"):
        model.predict_proba(np.zeros((2, 28, 27)))
    assert model.predict_proba(mnist.X[:2].reshape(2, 28, 28)).shape == (2, 10)


def test_cli_rejects_wrong_image_shape_with_exit_2(cli_runner, tmp_path):
    result = cli_runner.invoke(["train", "--model", "hqnn", "--dataset", "digits", "--out", str(tmp_path / "m.json")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "28x28" in lines[0]
    assert not (tmp_path / "m.json").exists()


def test_model_file_round_trip_and_validation(trained, tmp_path):
    from qaudit.files import model_file as model_io

    mf = model_io.ModelFile(trained, "hqnn")
    path = tmp_path / "hqnn.json"
    model_io.save(mf, path)
    with using_host(make_host()):
        loaded = model_io.load(path)
    X = np.random.default_rng(0).uniform(0, 255, size=(4, 784))
    np.testing.assert_allclose(loaded.model.predict_proba(X), trained.predict_proba(X), atol=1e-13)

    doc = json.loads(path.read_text())

    def broken(mutate, match):
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        bad_path = tmp_path / "bad.json"
        bad_path.write_text(json.dumps(bad))
        with using_host(make_host()), pytest.raises(QauditError, match=match):
            model_io.load(bad_path)

    broken(lambda d: d["params"].pop("conv_bias"), "conv_bias is missing")
    broken(lambda d: d["params"].update(fc_bias=[0.0] * 10), "fc_bias")
    broken(lambda d: d["params"].update(conv_weight=[[0.0] * 25] * 5), "conv_weight")
    broken(lambda d: d["config"].update(n_features_in=64), "784")
    broken(lambda d: d["config"].update(layers=3), "theta")
    broken(lambda d: d["params"].update(extra=[1.0]), "unknown params")


def test_noisy_quantum_layer_matches_density_matrix_simulator_and_finite_differences(mnist):
    """Option noise='paper': <Z> vs cirq.DensityMatrixSimulator; gradients (CNN included) vs finite differences."""
    import cirq

    from qaudit.engine.noise import NoiseModel

    model = HQNN(layers=2, epochs=0, noise="paper", seed=1).fit(mnist.X[:20], mnist.y[:20], n_classes=10)
    Z = model.transform(mnist.X[600:601])
    states = model.encode(Z)
    circuit, qubits, program, _, _ = model.compiled[:5]
    resolved = cirq.resolve_parameters(NoiseModel.parse("paper").apply(circuit),
                                       dict(zip(program.param_names, model.weights["theta"])))
    simulator = cirq.DensityMatrixSimulator(dtype=np.complex128)
    reference = []
    for z in states:
        rho = simulator.simulate(resolved, qubit_order=qubits, initial_state=np.outer(z, z).astype(np.complex128))
        diag = np.real(np.diag(rho.final_density_matrix)).reshape((2,) * 8)
        reference.append([np.sum(diag.take(0, axis=q)) - np.sum(diag.take(1, axis=q)) for q in range(8)])
    np.testing.assert_allclose(model.expectations(Z), np.array(reference), atol=1e-6)
    noiseless = HQNN.from_document({**model.to_document(), "config": {
        **model.to_document()["config"], "noise": None}})
    assert np.max(np.abs(noiseless.expectations(Z) - model.expectations(Z))) > 1e-4  # noise changes the numbers

    # Gradients on a 4-qubit HQNN (same code path, 256x cheaper noisy engine).
    model = HQNN(qubits=4, layers=2, epochs=0, noise="paper", seed=1).fit(mnist.X[:20], mnist.y[:20], n_classes=10)
    X, y = mnist.X[610:613], mnist.y[610:613]
    _, grad = model.loss_and_grad(X, y)
    h = 1e-6
    for name, i in (("conv_weight", 3), ("conv_bias", 1), ("fc_weight", 12345), ("fc_bias", 7), ("theta", 20),
                    ("W", 5)):
        fd = central_difference(model, X, y, name, i, h)
        assert abs(fd - grad[name].flat[i]) <= 1e-7 + 1e-4 * abs(fd), (name, fd, grad[name].flat[i])
