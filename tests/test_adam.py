"""The Adam recipe (issue 15): qaudit's Adam equals PyTorch's, is seeded, survives a checkpoint, and an
imported model records it in the model file and the leak report."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import one_line_error
from qaudit_qnn.user_circuit import UserCircuit
from test_encoder import OPTIONS
from test_import import pl_file  # noqa: F401 - a fixture: the PennyLane user file

from qaudit.train.training import Adam, _restore, _state, make_optimizer


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_adam_matches_torch(sign):
    torch = pytest.importorskip("torch", reason="the reference Adam is torch.optim.Adam")
    rng = np.random.default_rng(0)
    w0 = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=5)}
    grads = [{k: rng.normal(size=v.shape) for k, v in w0.items()} for _ in range(7)]
    ours = {k: v.copy() for k, v in w0.items()}
    opt = Adam(lr=0.03, sign=sign)
    params = {k: torch.tensor(v.copy(), requires_grad=True) for k, v in w0.items()}
    ref = torch.optim.Adam(list(params.values()), lr=0.03, maximize=sign < 0)
    for g in grads:
        opt.step(ours, g)
        for k, p in params.items():
            p.grad = torch.tensor(g[k])
        ref.step()
    for k in w0:
        assert np.max(np.abs(ours[k] - params[k].detach().numpy())) < 1e-12


def test_adam_state_survives_a_checkpoint():
    rng = np.random.default_rng(1)
    weights = {"a": rng.normal(size=4)}
    opt = Adam(lr=0.1)
    for _ in range(3):
        opt.step(weights, {"a": rng.normal(size=4)})

    class Slot:
        def load(self, slot, parse):
            return parse(json.loads(json.dumps(state)))

    state = _state(weights, opt, np.random.default_rng(2), [1.0, 0.5], 2, 4)
    fresh, other = {"a": np.zeros(4)}, Adam(lr=0.1)
    done, history = _restore(Slot(), "s", fresh, other, np.random.default_rng(9), 4)
    assert (done, history) == (2, [1.0, 0.5]) and other.steps == 3
    np.testing.assert_array_equal(other.squares["a"], opt.squares["a"])
    np.testing.assert_array_equal(other.velocity["a"], opt.velocity["a"])
    g = rng.normal(size=4)
    opt.step(weights, {"a": g})
    other.step(fresh, {"a": g})
    np.testing.assert_array_equal(fresh["a"], weights["a"])


def test_make_optimizer_reads_the_options():
    assert isinstance(make_optimizer({"optimizer": "adam", "lr": 0.01}), Adam)
    sgd = make_optimizer({"lr": 0.1, "momentum": 0.9, "nesterov": True})
    assert sgd.momentum == 0.9 and sgd.nesterov


def test_adam_training_is_seeded_and_differs_from_sgd():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] > 0).astype(int)
    adam = {**OPTIONS, "optimizer": "adam", "lr": 0.02, "epochs": 3}
    a = UserCircuit.from_options(adam).fit(X, y, n_classes=2)
    b = UserCircuit.from_options(adam).fit(X, y, n_classes=2)
    s = UserCircuit.from_options({**OPTIONS, "lr": 0.02, "epochs": 3}).fit(X, y, n_classes=2)
    assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert not np.allclose(a.weights["theta"], s.weights["theta"])
    assert a.history[-1] < a.history[0]
    with pytest.raises(Exception, match="optimizer must be one of sgd, adam"):
        UserCircuit.from_options({**OPTIONS, "optimizer": "rmsprop"})


def test_import_records_the_adam_recipe_in_the_file_and_the_report(tmp_path, run_qaudit, pl_file):  # noqa: F811
    from test_import import _normal_data, _save_state

    path, module = pl_file
    weights = _save_state(module.encoder_tanh, tmp_path, "w")
    data, members = _normal_data(tmp_path)
    out = tmp_path / "m.json"
    base = ["import", "pennylane", f"{path}:encoder_tanh", "--weights", weights, "--dataset", data, "--members",
            members, "--out", str(out)]
    code, _, err = run_qaudit([*base, "--optimizer", "adam", "--momentum", "0.5"])
    assert code == 2 and "apply to --optimizer sgd" in one_line_error(err) and not out.exists()
    code, _, err = run_qaudit([*base, "--optimizer", "nadam"])
    assert code == 2 and "--optimizer must be one of sgd, adam" in one_line_error(err)
    code, _, err = run_qaudit([*base, "--optimizer", "adam", "--epochs", "2", "--batch-size", "8"])
    assert code == 0, err
    doc = json.loads(out.read_text())
    recipe = doc["training"]["recipe"]
    assert recipe["optimizer"] == "adam" and recipe["lr"] == 0.01 and recipe["betas"] == [0.9, 0.999]
    assert recipe["eps"] == 1e-8 and "momentum" not in recipe
    assert doc["config"]["optimizer"] == "adam" and doc["config"]["batch_size"] == 8
    code, stdout, err = run_qaudit(["leak", str(out), "-a", "loss,lira", "-K", "2", "-f", "json"])
    assert code in (0, 1), err
    report = json.loads(stdout)
    assert report["settings"]["imported"]["recipe"]["optimizer"] == "adam"
    assert "'optimizer': 'adam'" in report["summary"]["reference_models"]
