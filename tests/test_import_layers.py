"""``qaudit import pennylane`` with the everyday torch layers around a TorchLayer (issue 15): Dropout and
Flatten (identities in evaluation mode), BatchNorm1d (evaluation mode: a fixed ``affine`` layer) before and
after the circuit, a final Softmax.

The torch modules are trained a few steps in training mode first, so BatchNorm's running statistics and
the weights are far from their initial values; the import (and the comparison here) uses evaluation mode.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error
from test_import import QNODE, user_module

TOL = 1e-8

LAYER_MODELS = QNODE + '''

def quantum():
    return qml.qnn.TorchLayer(circuit, {"weights": (2, 3, 3)})


torch.manual_seed(0)
# indices: 0 Linear, 1 BatchNorm1d, 2 Dropout, 3 Tanh, 4 Flatten, 5 TorchLayer, 6 BatchNorm1d, 7 Dropout, 8 Linear
batch_norm = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.BatchNorm1d(3), torch.nn.Dropout(0.2),
                                 torch.nn.Tanh(), torch.nn.Flatten(), quantum(), torch.nn.BatchNorm1d(4),
                                 torch.nn.Dropout(0.3), torch.nn.Linear(4, 3))
softmax = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(5), torch.nn.Linear(5, 3), quantum(),
                              torch.nn.Dropout(0.1), torch.nn.Linear(4, 3), torch.nn.Softmax(dim=1))
log_softmax = torch.nn.Sequential(torch.nn.Linear(5, 3), quantum(), torch.nn.BatchNorm1d(4, affine=False),
                                  torch.nn.Linear(4, 3), torch.nn.LogSoftmax(dim=1))
conv = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.Conv1d(1, 1, 1), quantum(), torch.nn.Linear(4, 3))
no_stats = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.BatchNorm1d(3, track_running_stats=False),
                               quantum(), torch.nn.Linear(4, 3))
flatten_all = torch.nn.Sequential(torch.nn.Flatten(0), torch.nn.Linear(5, 3), quantum(), torch.nn.Linear(4, 3))
'''


@pytest.fixture
def models(tmp_path: Path):
    """The models above in a user file, and that file imported here."""
    return user_module(tmp_path, LAYER_MODELS, "layer_models")


def _data(tmp_path: Path, n: int = 60) -> tuple[str, str, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    X = rng.normal(loc=0.7, scale=1.5, size=(n, 5))  # not standardised: BatchNorm has something to do
    y = ((X[:, 0] - X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)).astype(int)
    np.savez(tmp_path / "data.npz", X=X, y=y)
    (tmp_path / "members.txt").write_text("\n".join(str(i) for i in range(0, n, 2)))
    return str(tmp_path / "data.npz"), str(tmp_path / "members.txt"), X, y


def _train_and_save(net, X: np.ndarray, y: np.ndarray, tmp_path: Path, steps: int = 6) -> str:
    """A few Adam steps in training mode (dropout on, BatchNorm statistics updated), then the state_dict."""
    import torch

    torch.manual_seed(3)
    net = net.double().train()
    optimiser = torch.optim.Adam(net.parameters(), lr=0.1)
    x, t = torch.tensor(X), torch.tensor(y)
    for step in range(steps):
        rows = torch.arange(step * 8, step * 8 + 16) % len(X)
        optimiser.zero_grad()
        out = net(x[rows])
        loss = (torch.nn.functional.nll_loss(torch.log(out), t[rows]) if isinstance(net[-1], torch.nn.Softmax)
                else torch.nn.functional.cross_entropy(out, t[rows]))
        loss.backward()
        optimiser.step()
    path = tmp_path / "weights.pt"
    torch.save(net.state_dict(), path)
    return str(path)


def _import(run_qaudit, path: Path, attr: str, weights: str, data: str, members: str, out: Path,
            *extra: str) -> tuple[int, str]:
    code, _, err = run_qaudit(["import", "pennylane", f"{path}:{attr}", "--weights", weights, "--dataset", data,
                               "--members", members, "--out", str(out), *extra])
    return code, err


def _probs(out: Path, X: np.ndarray) -> np.ndarray:
    from qaudit.files import model_file as model_io
    from qaudit.run.query import predict_proba

    return predict_proba(model_io.load(out).model, X)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_batch_norm_and_dropout_before_and_after_the_circuit(models, tmp_path, run_qaudit):
    """Probabilities within 1e-8 of the eval-mode torch module; gradients (encoder linear, circuit angles,
    head linear) equal torch autograd's in eval mode to 1e-10; the BatchNorm layers are fixed affine ops."""
    import torch

    from qaudit.files import model_file as model_io

    path, module = models
    net = module.batch_norm
    data, members, X, y = _data(tmp_path)
    weights = _train_and_save(net, X, y, tmp_path)
    assert float(net[1].running_var.min()) > 0.0 and float(net[6].running_mean.abs().max()) > 1e-3
    out = tmp_path / "model.json"
    code, err = _import(run_qaudit, path, "batch_norm", weights, data, members, out)
    assert code == 0, err
    net.eval()
    with torch.no_grad():
        theirs = _softmax(net(torch.tensor(X)).numpy())
    assert np.max(np.abs(_probs(out, X) - theirs)) <= TOL
    doc = json.loads(out.read_text())
    assert [layer["op"] for layer in doc["config"]["encoder"]] == ["linear", "affine", "tanh"]
    assert [layer["op"] for layer in doc["config"]["head"]] == ["affine", "linear"]
    details = doc["provenance"]["import"]["details"]
    assert len(details["dropped_layers"]) == 3  # two Dropout, one Flatten
    assert any("without dropout" in n for n in details["recipe_notes"])

    model = model_io.load(out).model
    _, grads = model.loss_and_grad(X[:12], y[:12])
    net.zero_grad()
    torch.nn.functional.cross_entropy(net(torch.tensor(X[:12])), torch.tensor(y[:12])).backward()
    params = dict(net.named_parameters())
    pairs = {"enc0_W": "0.weight", "enc0_b": "0.bias", "head1_W": "8.weight", "head1_b": "8.bias"}
    for ours, name in pairs.items():
        assert np.max(np.abs(grads[ours] - params[name].grad.numpy())) < 1e-10, ours
    assert np.max(np.abs(grads["theta"] - params["5.weights"].grad.numpy().reshape(-1))) < 1e-10
    assert np.abs(grads["enc0_W"]).max() > 1e-4  # a gradient that is really there
    assert not any("affine" in key for key in grads)  # the BatchNorm maps are not trained


@pytest.mark.parametrize("attr", ["softmax", "log_softmax"])
def test_final_softmax_is_the_models_own_output_normalisation(models, tmp_path, run_qaudit, attr):
    """A final Softmax (LogSoftmax) is dropped -- qaudit applies the softmax to the head's logits -- and the
    probabilities equal the module's output (its exp) to 1e-8; BatchNorm1d first or affine=False works."""
    import torch

    path, module = models
    net = getattr(module, attr)
    data, members, X, y = _data(tmp_path)
    weights = _train_and_save(net, X, y, tmp_path)
    out = tmp_path / "model.json"
    code, err = _import(run_qaudit, path, attr, weights, data, members, out)
    assert code == 0, err
    with torch.no_grad():
        theirs = net.eval()(torch.tensor(X)).numpy()
    theirs = theirs if attr == "softmax" else np.exp(theirs)
    assert np.max(np.abs(_probs(out, X) - theirs)) <= TOL
    info = json.loads(out.read_text())["provenance"]["import"]
    assert info["details"]["module_output"] == {"softmax": "probs", "log_softmax": "log_probs"}[attr]


def test_lira_runs_on_a_batch_norm_model_and_says_what_the_recipe_left_out(models, tmp_path, run_qaudit):
    path, module = models
    data, members, X, y = _data(tmp_path)
    weights = _train_and_save(module.batch_norm, X, y, tmp_path)
    out = tmp_path / "model.json"
    code, err = _import(run_qaudit, path, "batch_norm", weights, data, members, out, "--epochs", "2",
                        "--batch-size", "8")
    assert code == 0, err
    code, stdout, err = run_qaudit(["leak", str(out), "-a", "lira", "-K", "2", "-f", "json"])
    assert code in (0, 1), err
    report = json.loads(stdout)
    assert "lira" in report["attacks"]
    statement = report["summary"]["reference_models"]
    assert "trained by qaudit's engine" in statement and "without dropout" in statement
    assert "do not train them" in statement


@pytest.mark.parametrize("attr, needle", [("conv", "Conv1d"), ("no_stats", "running statistics"),
                                          ("flatten_all", "Flatten")])
def test_unsupported_layers_are_one_line_errors_naming_them(models, tmp_path, run_qaudit, attr, needle):
    path, module = models
    data, members, X, y = _data(tmp_path)
    import torch

    torch.save(getattr(module, attr).state_dict(), tmp_path / "w.pt")
    out = tmp_path / "model.json"
    code, err = _import(run_qaudit, path, attr, str(tmp_path / "w.pt"), data, members, out)
    assert code == 2
    assert needle in one_line_error(err)
    assert not out.exists()


@pytest.mark.parametrize("change, needle", [
    (lambda layer: layer.update(scale=layer["scale"][:-1]), "affine needs exactly"),
    (lambda layer: layer.update(shift=["x"] * len(layer["shift"])), "affine needs exactly"),
    (lambda layer: layer.update(extra=1), "affine needs exactly"),
    (lambda layer: layer.update(scale=[1e30] * len(layer["scale"])), "affine needs exactly"),
    (lambda layer: layer.update(scale=[1.0, 2.0], shift=[0.0, 0.0]), "affine has 2 features for 3 inputs"),
])
def test_malformed_affine_op_in_a_model_file_is_one_line_exit_2(models, tmp_path, run_qaudit, change, needle):
    path, module = models
    data, members, X, y = _data(tmp_path)
    weights = _train_and_save(module.batch_norm, X, y, tmp_path, steps=1)
    out = tmp_path / "model.json"
    code, err = _import(run_qaudit, path, "batch_norm", weights, data, members, out)
    assert code == 0, err
    doc = json.loads(out.read_text())
    change(doc["config"]["encoder"][1])
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run_qaudit(["leak", str(bad), "-a", "loss"])
    assert code == 2
    assert needle in one_line_error(err)
