"""``qaudit import`` (issue 15): PennyLane and Qiskit models converted, verified, audited.

The fidelity floors compare the written model file, loaded by qaudit with no code, against the source
framework evaluated here in the test (not against the importer's own check): ≤ 1e-8 max absolute
difference in class probabilities. Tests that need an extra skip with a reason where it is absent.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error

TOL = 1e-8

#: The QNode every PennyLane test module builds on (user-file source text).
QNODE = '''
import pennylane as qml
import torch

dev = qml.device("default.qubit", wires=3)


@qml.qnode(dev, interface="torch")
def circuit(inputs, weights):
    qml.AngleEmbedding(inputs, wires=range(3))
    qml.StronglyEntanglingLayers(weights, wires=range(3))
    return [qml.expval(qml.PauliZ(i)) for i in range(3)] + [qml.expval(qml.PauliX(0) @ qml.PauliY(2))]
'''

PENNYLANE_MODELS = QNODE + '''

torch.manual_seed(0)
linear_head = torch.nn.Sequential(qml.qnn.TorchLayer(circuit, {"weights": (2, 3, 3)}), torch.nn.Linear(4, 3))
mlp_head = torch.nn.Sequential(qml.qnn.TorchLayer(circuit, {"weights": (2, 3, 3)}), torch.nn.Linear(4, 5),
                               torch.nn.Tanh(), torch.nn.Linear(5, 3), torch.nn.Softmax(dim=1))
layer_norm = torch.nn.Sequential(qml.qnn.TorchLayer(circuit, {"weights": (2, 3, 3)}), torch.nn.LayerNorm(4),
                                 torch.nn.Linear(4, 3))
encoder_tanh = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Tanh(),
                                   qml.qnn.TorchLayer(circuit, {"weights": (2, 3, 3)}), torch.nn.Linear(4, 3))
bad_encoder = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.LayerNorm(3),
                                  qml.qnn.TorchLayer(circuit, {"weights": (2, 3, 3)}), torch.nn.Linear(4, 3))


@qml.qnode(dev, interface="torch")
def scaled(inputs, weights):
    qml.AngleEmbedding(3.141592653589793 * inputs, wires=range(3), rotation="Y")
    qml.BasicEntanglerLayers(weights, wires=range(3))
    return [qml.expval(qml.PauliZ(i)) for i in range(3)]


encoder_deep = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3), torch.nn.Sigmoid(),
                                   qml.qnn.TorchLayer(scaled, {"weights": (2, 3)}), torch.nn.Linear(3, 4),
                                   torch.nn.Tanh(), torch.nn.Linear(4, 3))


@qml.qnode(dev)
def amplitude(inputs, weights):
    qml.AmplitudeEmbedding(inputs, wires=range(3), normalize=True, pad_with=0.0)
    qml.BasicEntanglerLayers(weights, wires=range(3), rotation=qml.RY)
    qml.CRZ(weights[0, 1], wires=[0, 2])
    return qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliZ(1) @ qml.PauliZ(2)), qml.expval(qml.PauliX(1))


@qml.qnode(dev, interface="torch")
def amplitude_layer(inputs, weights):
    qml.AmplitudeEmbedding(inputs, wires=range(3), normalize=True, pad_with=0.0)
    qml.BasicEntanglerLayers(weights, wires=range(3), rotation=qml.RY)
    return [qml.expval(qml.PauliZ(0)), qml.expval(qml.PauliZ(1) @ qml.PauliZ(2)), qml.expval(qml.PauliX(1))]


encoder_amplitude = torch.nn.Sequential(torch.nn.Linear(5, 6), torch.nn.LeakyReLU(0.1),
                                        qml.qnn.TorchLayer(amplitude_layer, {"weights": (2, 3)}),
                                        torch.nn.Linear(3, 3))


@qml.qnode(dev)
def squared(inputs, weights):
    qml.AngleEmbedding(inputs, wires=range(3))
    qml.RX(weights[0] ** 2, wires=0)
    return [qml.expval(qml.PauliZ(i)) for i in range(3)]


@qml.qnode(dev)
def probs(inputs, weights):
    qml.AngleEmbedding(inputs, wires=range(3))
    qml.RX(weights[0], wires=0)
    return qml.probs(wires=[0, 1])


NUMBER = 3
'''


def _data(tmp_path: Path, n_features: int, n_classes: int, n: int = 60, low: float = 0.0) -> tuple[str, str]:
    rng = np.random.default_rng(7)
    X = rng.uniform(low, np.pi, size=(n, n_features))
    y = np.arange(n) % n_classes
    np.savez(tmp_path / "data.npz", X=X, y=y)
    (tmp_path / "members.txt").write_text("\n".join(str(i) for i in range(0, n, 2)))
    return str(tmp_path / "data.npz"), str(tmp_path / "members.txt")


def user_module(tmp_path: Path, source: str, name: str):
    """*source* written to the user file ``tmp_path/name.py``, and that file imported here (the test's own
    copy); skips without the PennyLane extra."""
    pytest.importorskip("pennylane", reason="the PennyLane importer needs the pennylane extra")
    pytest.importorskip("torch", reason="the PennyLane importer needs torch (pennylane extra)")
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"{name}_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return path, module


@pytest.fixture
def pl_file(tmp_path: Path):
    """The PennyLane models above in a user file, and that file imported here."""
    return user_module(tmp_path, PENNYLANE_MODELS, "user_models")


def _save_state(module, tmp_path: Path, name: str) -> str:
    import torch

    torch.manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(torch.randn_like(p))  # away from the initialisation: a real trained state
    path = tmp_path / f"{name}.pt"
    torch.save(module.state_dict(), path)
    return str(path)


def _qaudit_probs(model_path: Path, X: np.ndarray) -> np.ndarray:
    from qaudit.files import model_file as model_io
    from qaudit.run.query import predict_proba

    mf = model_io.load(model_path)
    assert mf.kind == "user-circuit"
    return predict_proba(mf.model, X)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("attr", ["linear_head", "mlp_head"])
def test_pennylane_angle_strongly_entangling_torch_module(pl_file, tmp_path, run_qaudit, attr):
    import torch

    path, module = pl_file
    net = getattr(module, attr)
    weights = _save_state(net, tmp_path, attr)
    data, members = _data(tmp_path, 3, 3)
    out = tmp_path / "model.json"
    code, _, err = run_qaudit(["import", "pennylane", f"{path}:{attr}", "--weights", weights, "--dataset", data,
                               "--members", members, "--out", str(out), "--epochs", "3"])
    assert code == 0, err
    X = np.load(data)["X"]
    with torch.no_grad():
        out_torch = net.double()(torch.tensor(X)).numpy()
    theirs = out_torch if attr == "mlp_head" else _softmax(out_torch)
    assert np.max(np.abs(_qaudit_probs(out, X) - theirs)) <= TOL
    doc = json.loads(out.read_text())
    info = doc["provenance"]["import"]
    assert info["framework"] == "pennylane" and info["fidelity"]["max_abs_diff"] <= TOL
    assert {f["path"] for f in info["files"]} == {"user_models.py", f"{attr}.pt"}
    assert all(len(f["sha256"]) == 64 for f in info["files"])
    assert doc["config"]["epochs"] == 3 and doc["training"]["recipe"]["epochs"] == 3
    assert len(doc["data"]["members"]) == 30 and len(doc["data"]["holdout"]) == 30


def test_pennylane_amplitude_embedding_qnode(pl_file, tmp_path, run_qaudit):
    import torch

    path, module = pl_file
    w = np.random.default_rng(3).normal(size=(2, 3))
    np.save(tmp_path / "w.npy", w)
    data, members = _data(tmp_path, 6, 3, low=0.1)  # 6 features: padded to 8 amplitudes
    out = tmp_path / "model.json"
    code, _, err = run_qaudit(["import", "pennylane", f"{path}:amplitude", "--weights", str(tmp_path / "w.npy"),
                               "--dataset", data, "--members", members, "--out", str(out)])
    assert code == 0, err
    X = np.load(data)["X"]
    ev = module.amplitude(torch.tensor(X), torch.tensor(w))
    theirs = _softmax(torch.stack(list(ev), dim=-1).numpy())
    assert np.max(np.abs(_qaudit_probs(out, X) - theirs)) <= TOL
    assert json.loads(out.read_text())["config"]["encoding"] == "amplitude"


QISKIT_CIRCUIT = '''
import numpy as np
from qiskit import qpy
from qiskit.circuit.library import real_amplitudes, zz_feature_map

feature_map = zz_feature_map(3, reps=2, parameter_prefix="x")
ansatz = real_amplitudes(3, reps=2, parameter_prefix="t")
circuit = feature_map.compose(ansatz)
'''


@pytest.fixture
def qiskit_files(tmp_path: Path):
    pytest.importorskip("qiskit", reason="the Qiskit importer needs the qiskit extra")
    pytest.importorskip("qiskit_machine_learning", reason="the Qiskit importer checks against qiskit-machine-learning")
    from qiskit import qpy

    namespace: dict = {}
    exec(QISKIT_CIRCUIT, namespace)  # noqa: S102 - the test's own circuit
    circuit = namespace["circuit"]
    with open(tmp_path / "circuit.qpy", "wb") as handle:
        qpy.dump(circuit, handle)
    theta = np.random.default_rng(5).uniform(-np.pi, np.pi, size=circuit.num_parameters - 3)
    np.save(tmp_path / "w.npy", theta)
    return circuit, namespace, theta


def test_qiskit_estimator_qnn_zz_feature_map_real_amplitudes(qiskit_files, tmp_path, run_qaudit):
    from qiskit.primitives import StatevectorEstimator
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    circuit, ns, theta = qiskit_files
    data, members = _data(tmp_path, 3, 2)
    out = tmp_path / "model.json"
    code, _, err = run_qaudit(["import", "qiskit", str(tmp_path / "circuit.qpy"), "--input-params", "x",
                               "--weight-params", "t", "--weights", str(tmp_path / "w.npy"),
                               "--observables", "ZZI,IXZ", "--dataset", data, "--members", members,
                               "--out", str(out)])
    assert code == 0, err
    X = np.load(data)["X"]
    qnn = EstimatorQNN(circuit=circuit, observables=[SparsePauliOp("ZZI"), SparsePauliOp("IXZ")],
                       input_params=list(ns["feature_map"].parameters), weight_params=list(ns["ansatz"].parameters),
                       estimator=StatevectorEstimator(), default_precision=0.0)
    theirs = _softmax(qnn.forward(X, theta))
    assert np.max(np.abs(_qaudit_probs(out, X) - theirs)) <= TOL
    info = json.loads(out.read_text())["provenance"]["import"]
    assert info["framework"] == "qiskit" and info["details"]["derived_features"] > 0


def test_imported_model_audits_with_reference_models_trained_by_qaudit(pl_file, tmp_path, run_qaudit):
    path, module = pl_file
    weights = _save_state(module.linear_head, tmp_path, "w")
    data, members = _data(tmp_path, 3, 3)
    out = tmp_path / "model.json"
    code, _, err = run_qaudit(["import", "pennylane", f"{path}:linear_head", "--weights", weights, "--dataset", data,
                               "--members", members, "--out", str(out), "--epochs", "2", "--batch-size", "8"])
    assert code == 0, err
    code, stdout, err = run_qaudit(["leak", str(out), "-a", "loss,lira", "-K", "2", "-f", "json"])
    assert code in (0, 1), err
    report = json.loads(stdout)
    assert "trained by qaudit's engine" in report["summary"]["reference_models"]
    assert report["settings"]["imported"]["recipe"]["epochs"] == 2
    assert set(report["attacks"]) >= {"loss", "lira"}


def _normal_data(tmp_path: Path, n: int = 60) -> tuple[str, str]:
    rng = np.random.default_rng(11)
    X = rng.normal(size=(n, 5))
    y = ((X[:, 0] - X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)).astype(int)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    (tmp_path / "members.txt").write_text("\n".join(str(i) for i in range(0, n, 2)))
    return str(tmp_path / "data.npz"), str(tmp_path / "members.txt")


@pytest.mark.parametrize("attr", ["encoder_tanh", "encoder_deep", "encoder_amplitude"])
def test_pennylane_classical_layers_before_the_circuit(pl_file, tmp_path, run_qaudit, attr):
    """Linear (+ tanh / relu, sigmoid and a fixed π scaling) feeding AngleEmbedding, and Linear + LeakyReLU
    feeding AmplitudeEmbedding (padded, normalised): probabilities within 1e-8 of the torch module, and
    qaudit's gradients (encoder weights, circuit angles) equal torch autograd's through the whole module."""
    import torch

    from qaudit.files import model_file as model_io

    path, module = pl_file
    net = getattr(module, attr)
    weights = _save_state(net, tmp_path, attr)
    data, members = _normal_data(tmp_path)
    out = tmp_path / "model.json"
    code, _, err = run_qaudit(["import", "pennylane", f"{path}:{attr}", "--weights", weights, "--dataset", data,
                               "--members", members, "--out", str(out)])
    assert code == 0, err
    X, y = np.load(data)["X"], np.load(data)["y"]
    net = net.double()
    with torch.no_grad():
        theirs = _softmax(net(torch.tensor(X)).numpy())
    assert np.max(np.abs(_qaudit_probs(out, X) - theirs)) <= TOL
    doc = json.loads(out.read_text())
    width = {"encoder_tanh": 3, "encoder_deep": 4, "encoder_amplitude": 6}[attr]
    assert doc["config"]["encoder"][0] == {"op": "linear", "out": width}
    assert doc["config"]["n_inputs"] == 5
    model = model_io.load(out).model
    loss, grads = model.loss_and_grad(X[:12], y[:12])
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(torch.tensor(X[:12])), torch.tensor(y[:12])).backward()
    params = dict(net.named_parameters())
    quantum = [name for name in params if name.endswith(".weights")][0]
    assert np.max(np.abs(grads["enc0_W"] - params["0.weight"].grad.numpy())) < 1e-10
    assert np.max(np.abs(grads["enc0_b"] - params["0.bias"].grad.numpy())) < 1e-10
    assert np.max(np.abs(grads["theta"] - params[quantum].grad.numpy().reshape(-1))) < 1e-10
    assert np.abs(grads["enc0_W"]).max() > 1e-4  # a gradient that is really there


def test_lira_on_an_imported_encoder_model_trains_the_encoder(pl_file, tmp_path, run_qaudit, monkeypatch):
    """LiRA's reference models are trained by qaudit's engine on the imported architecture, encoder included:
    in the audit itself every reference model's encoder weights move and its loss decreases."""
    from qaudit_qnn.user_circuit import UserCircuit

    path, module = pl_file
    weights = _save_state(module.encoder_tanh, tmp_path, "w")
    data, members = _normal_data(tmp_path, n=80)
    out = tmp_path / "model.json"
    code, _, err = run_qaudit(["import", "pennylane", f"{path}:encoder_tanh", "--weights", weights, "--dataset",
                               data, "--members", members, "--out", str(out), "--epochs", "6", "--batch-size", "8",
                               "--lr", "0.05"])
    assert code == 0, err
    trained = []
    original = UserCircuit.partial_fit

    def recording(self, X, y, *args, **kwargs):
        before = self.weights["enc0_W"].copy()
        result = original(self, X, y, *args, **kwargs)
        trained.append((before, self.weights["enc0_W"].copy(), list(self.history)))
        return result

    monkeypatch.setattr(UserCircuit, "partial_fit", recording)
    code, stdout, err = run_qaudit(["leak", str(out), "-a", "lira", "-K", "4", "-f", "json", "--executor", "serial"])
    assert code in (0, 1), err
    report = json.loads(stdout)
    assert "lira" in report["attacks"] and "trained by qaudit's engine" in report["summary"]["reference_models"]
    assert len(trained) >= 4
    for before, after, history in trained:
        assert np.max(np.abs(after - before)) > 1e-2
        assert history[-1] < history[0]


def _bad_pennylane(tmp_path, path, module):
    good = _save_state(module.linear_head, tmp_path, "good")
    import torch

    state = module.linear_head.state_dict()
    wrong = {k: torch.zeros(3, 3, 3) if k.endswith("weights") else v for k, v in state.items()}
    torch.save(wrong, tmp_path / "wrong.pt")
    np.save(tmp_path / "w1.npy", np.zeros(3))
    return {
        "missing file": ([f"{tmp_path}/nothing.py:model", "--weights", good], "no such file"),
        "missing attribute": ([f"{path}:nothing", "--weights", good], "has no attribute 'nothing'"),
        "not a qnode": ([f"{path}:NUMBER", "--weights", good], "not a PennyLane QNode"),
        "unsupported layer": ([f"{path}:layer_norm"], "LayerNorm"),
        "unsupported layer before the circuit": ([f"{path}:bad_encoder"], "LayerNorm"),
        "encoder input width": ([f"{path}:encoder_tanh"], "the layers before the quantum layer take 5"),
        "non-affine angle": ([f"{path}:squared", "--weights", str(tmp_path / "w1.npy")], "not an affine function"),
        "unsupported measurement": ([f"{path}:probs", "--weights", str(tmp_path / "w1.npy")], "probs"),
        "weight shapes": ([f"{path}:linear_head", "--weights", str(tmp_path / "wrong.pt")], "do not match"),
    }


@pytest.mark.parametrize("case", ["missing file", "missing attribute", "not a qnode", "unsupported layer",
                                  "unsupported layer before the circuit", "encoder input width", "non-affine angle",
                                  "unsupported measurement", "weight shapes"])
def test_pennylane_bad_input_is_one_line_exit_2_and_writes_nothing(pl_file, tmp_path, run_qaudit, case):
    path, module = pl_file
    args, needle = _bad_pennylane(tmp_path, path, module)[case]
    data, members = _data(tmp_path, 3, 3)
    out = tmp_path / "out.json"
    code, _, err = run_qaudit(["import", "pennylane", *args, "--dataset", data, "--members", members,
                               "--out", str(out)])
    assert code == 2
    assert needle in one_line_error(err)
    assert not out.exists()


@pytest.mark.parametrize("case", ["no params", "weights length", "unsupported gate", "observables"])
def test_qiskit_bad_input_is_one_line_exit_2_and_writes_nothing(qiskit_files, tmp_path, run_qaudit, case):
    from qiskit import QuantumCircuit, qpy

    circuit, _, theta = qiskit_files
    np.save(tmp_path / "short.npy", theta[:-1])
    with_reset = circuit.copy()
    with_reset.reset(0)
    with open(tmp_path / "reset.qpy", "wb") as handle:
        qpy.dump(with_reset, handle)
    assert isinstance(with_reset, QuantumCircuit)
    qpy_file, w = str(tmp_path / "circuit.qpy"), str(tmp_path / "w.npy")
    params = ["--input-params", "x", "--weight-params", "t"]
    cases = {
        "no params": ([qpy_file, "--weights", w, "--observables", "ZZI,IXZ"], "--input-params"),
        "weights length": ([qpy_file, *params, "--weights", str(tmp_path / "short.npy"), "--observables", "ZZI,IXZ"],
                           "weight parameters"),
        "unsupported gate": ([str(tmp_path / "reset.qpy"), *params, "--weights", w, "--observables", "ZZI,IXZ"],
                             "gate reset is not supported"),
        "observables": ([qpy_file, *params, "--weights", w, "--observables", "ZZ"], "observable 'ZZ'"),
    }
    args, needle = cases[case]
    data, members = _data(tmp_path, 3, 2)
    out = tmp_path / "out.json"
    code, _, err = run_qaudit(["import", "qiskit", *args, "--dataset", data, "--members", members, "--out", str(out)])
    assert code == 2
    assert needle in one_line_error(err)
    assert not out.exists()


def test_failed_fidelity_check_names_the_difference_and_writes_nothing(host, tmp_path):
    """An importer whose conversion disagrees with its framework is refused, naming where."""
    from conftest import plugin_module
    from qaudit_qnn.user_circuit import UserCircuit

    from qaudit.files.data import load_dataset
    from qaudit.files.importing import import_model
    from qaudit.run.query import predict_proba
    from qaudit.sdk.errors import QauditError
    from qaudit.sdk.protocols import ImportedModel

    data, _ = _data(tmp_path, 2, 2)
    ds = load_dataset(data)
    members, holdout = np.arange(0, 60, 2), np.arange(1, 60, 2)

    class Skewed:
        name, description, extra = "skewed", "a wrong importer", "none"

        def load(self, request):
            options = {"circuit": _ring_circuit(), "encoding": "angle", "features": ["a", "b"]}
            weights = {"theta": np.array([0.3]), "W": np.eye(2), "b": np.zeros(2)}
            model = UserCircuit.from_trained(options, weights, 2, request.X)

            def reference(X):
                p = predict_proba(model, X).copy()
                p[5] = p[5][::-1] + [1e-6, -1e-6]  # row 5 disagrees
                return p

            return ImportedModel(UserCircuit.name, model, reference, "nothing", "0", [])

    host.register(plugin_module("skewed", register_importers=lambda register: register(Skewed)))
    with pytest.raises(QauditError, match=r"at sample 10, class [01]"):  # row 5 of members + holdout is sample 10
        import_model("skewed", "x", weights=None, dataset=ds, members=members, holdout=holdout, options={},
                     recipe={})


def _ring_circuit() -> dict:
    import cirq
    import sympy

    q = cirq.LineQubit.range(2)
    circuit = cirq.Circuit([cirq.rx(sympy.Symbol("a")).on(q[0]), cirq.rx(sympy.Symbol("b")).on(q[1]),
                            cirq.CNOT(q[0], q[1]), cirq.ry(sympy.Symbol("w")).on(q[1])])
    return json.loads(cirq.to_json(circuit))


def test_import_help_says_it_runs_user_code_and_startup_imports_no_framework():
    import subprocess

    probe = ("import sys\nsys.argv = ['qaudit', 'import', '--help']\nfrom qaudit.cli.app import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             "print('HEAVY', sorted(m for m in ('pennylane', 'qiskit', 'torch') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "RUNS YOUR OWN CODE" in " ".join(proc.stdout.split())
    assert "HEAVY []" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script,args", [
    ("pennylane_classifier.py", ["pennylane", "pennylane_classifier.py:model", "--weights", "pennylane_weights.pt",
                                 "--dataset", "digits4.npz", "--members", "members.txt"]),
    ("pennylane_encoder.py", ["pennylane", "pennylane_encoder.py:model", "--weights", "encoder_weights.pt",
                               "--dataset", "digits8.npz", "--members", "encoder_members.txt", "--optimizer", "adam",
                               "--lr", "0.05", "--epochs", "15"]),
    ("qiskit_classifier.py", ["qiskit", "qiskit_circuit.qpy", "--input-params", "x", "--weight-params", "θ",
                              "--weights", "qiskit_weights.npy", "--observables", "ZZII,IIZZ",
                              "--dataset", "qiskit_data.npz", "--members", "qiskit_members.txt"]),
])
def test_byoq_examples_train_import_and_audit(tmp_path, script, args):
    """examples/byoq end to end, as the README walks through it: train, import, leak."""
    import shutil
    import subprocess

    pytest.importorskip("pennylane" if script.startswith("pennylane") else "qiskit_machine_learning",
                        reason="the example needs its framework's extra")
    examples = Path(__file__).resolve().parents[1] / "examples" / "byoq"
    for name in {script, "torch_training.py"}:  # the PennyLane examples share their training loop
        shutil.copy(examples / name, tmp_path / name)
    subprocess.run([sys.executable, script], cwd=tmp_path, check=True, capture_output=True, timeout=600)
    cli = [sys.executable, "-m", "qaudit.cli.app"]
    proc = subprocess.run([*cli, "import", *args, "--out", "m.json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "m.json").read_text())["provenance"]["import"]["fidelity"]["max_abs_diff"] <= TOL
    proc = subprocess.run([*cli, "leak", "m.json", "-f", "json"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode in (0, 1), proc.stderr
    assert "trained by qaudit's engine" in json.loads(proc.stdout)["summary"]["reference_models"]


def test_missing_framework_names_the_extra(tmp_path, run_qaudit, monkeypatch):
    """Without the framework installed, the import says which extra to install (one line, exit 2)."""
    monkeypatch.setitem(sys.modules, "qiskit", None)  # `import qiskit` raises ImportError
    (tmp_path / "c.qpy").write_bytes(b"not used")
    data, members = _data(tmp_path, 3, 2)
    code, _, err = run_qaudit(["import", "qiskit", str(tmp_path / "c.qpy"), "--dataset", data, "--members", members,
                               "--out", str(tmp_path / "m.json")])
    assert code == 2
    assert 'pip install "qaudit[qiskit]"' in one_line_error(err)
    assert not (tmp_path / "m.json").exists()
