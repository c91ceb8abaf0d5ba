"""Issue 20: the authors' own protocol and training recipe beside ours.

The gray-box ``protocol=paper`` must match ``HQNN/MIA.py``'s sizes (500 + 500 pool, 800 attack-training
points, digit-4 members of the first 500 scored) and never touch the held-out metrics or the verdict;
the ``bce-multi`` loss's gradient must match finite differences; the ``paper-code`` preset must be
discoverable and trainable."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import one_line_error


def _features(rng, n, shift):
    from qaudit_attacks.common import paper_features

    logits = rng.normal(size=(n, 10)) + shift
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = rng.integers(0, 10, n)
    return paper_features(probs, y), y


def test_paper_protocol_pool_split_and_scored_set_match_mia_py():
    from qaudit_attacks import paper_protocol

    rng = np.random.default_rng(1)
    f_in, y_in = _features(rng, 1000, 0.0)  # 1000 members: only the first 500 may enter the pool
    f_out, _ = _features(rng, 700, 0.0)
    out = paper_protocol.run(f_in, y_in, f_out, seed=5, forget_class=4)
    assert (out["pool_members"], out["pool_non_members"], out["attack_train"]) == (500, 500, 800)
    assert out["scored"] == int(np.sum(y_in[:500] == 4))  # digit-4 members of the first 500, not of all 1000
    # the permutation the protocol draws (same seed, same first draw): the scored rows it trained on
    train = np.random.default_rng(5).permutation(1000)[:800]
    assert out["scored_in_attack_train"] == int(np.isin(np.flatnonzero(y_in[:500] == 4), train).sum())
    assert 0.6 < out["overlap_fraction"] < 0.95  # ~80 % of the scored points are attack-training points
    assert out["label"].startswith("paper protocol") and "NOT a held-out metric" in out["label"]
    assert out == paper_protocol.run(f_in, y_in, f_out, seed=5, forget_class=4)  # seeded


def test_paper_protocol_mlp_gradient_matches_finite_differences():
    from qaudit_attacks.paper_protocol import TorchStyleMLP

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 13)), (rng.random(12) > 0.5).astype(float)
    mlp = TorchStyleMLP(13, np.random.default_rng(2), hidden=5, dropout=0.0)
    _, grads = mlp.loss_and_grads(X, y)
    eps = 1e-6
    for i, p in enumerate(mlp.params):
        for j in [0, p.size - 1]:
            flat = p.reshape(-1)
            old = flat[j]
            flat[j] = old + eps
            up = mlp.loss_and_grads(X, y)[0]
            flat[j] = old - eps
            down = mlp.loss_and_grads(X, y)[0]
            flat[j] = old
            assert grads[i].reshape(-1)[j] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9)


def test_paper_protocol_memorises_its_training_points():
    """The reason the figure is not a metric: on features with no membership signal at all, the scored points
    the attack trained on are called member far more often than the scored points it did not see."""
    from qaudit_attacks import paper_protocol

    rng = np.random.default_rng(3)
    f_in, y_in = _features(rng, 500, 0.0)
    f_out, _ = _features(rng, 500, 0.0)  # same distribution: chance is the truth
    out = paper_protocol.run(f_in, y_in, f_out, seed=0, forget_class=None)
    assert out["scored"] == 500 and out["scored_in_attack_train"] > 350
    assert out["figure"] > out["scored_only_held_out"] + 0.1


def test_bce_multi_gradient_matches_finite_differences():
    from qaudit_qnn.basic import BasicQNN

    rng = np.random.default_rng(0)
    X, y = rng.random((6, 16)), np.arange(6) % 4
    model = BasicQNN(qubits=4, layers=2, loss="bce-multi", head_init="normal").initialise(X, y)
    _, grads = model.loss_and_grad(X, y)
    eps = 1e-6
    for name in ("theta", "W", "b"):
        w = model.weights[name].reshape(-1)
        for j in [0, w.size // 2, w.size - 1]:
            old = w[j]
            w[j] = old + eps
            up = model.loss_and_grad(X, y)[0]
            w[j] = old - eps
            down = model.loss_and_grad(X, y)[0]
            w[j] = old
            assert grads[name].reshape(-1)[j] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8)
    # and it is the authors' formula: -Σ_c [y_c log p_c + (1 - y_c) log(1 - p_c)], mean over the batch
    p = model.predict_proba(X)
    onehot = np.eye(4)[y]
    want = -np.mean(np.sum(onehot * np.log(p) + (1 - onehot) * np.log(1 - p), axis=1))
    assert model.loss_and_grad(X, y)[0] == pytest.approx(want, rel=1e-10)


def test_random_batch_schedule_steps_once_per_epoch():
    from qaudit_qnn.basic import BasicQNN

    rng = np.random.default_rng(0)
    X, y = rng.random((100, 16)), np.arange(100) % 4
    calls = []
    model = BasicQNN(qubits=4, layers=1, epochs=7, batch_size=8, schedule="random-batch").initialise(X, y)
    inner = model._loss_grad_encoded
    model._loss_grad_encoded = lambda Z, yy, **kw: (calls.append(len(yy)), inner(Z, yy, **kw))[1]
    model.partial_fit(X, y, epochs=7)
    assert calls == [8] * 7 and len(model.history) == 7


def test_paper_code_preset_is_listed_and_trains(run_qaudit, tmp_path):
    code, out, _ = run_qaudit(["models", "--json"])
    assert code == 0
    rows = {r["name"]: r for r in json.loads(out)["items"]}
    assert "paper-code" in rows["basic-qnn"]["presets"]
    path = tmp_path / "m.json"
    code, _, err = run_qaudit(["train", "--model", "basic-qnn", "--dataset", "digits", "--preset", "paper-code",
                               "--qubits", "4", "--layers", "2", "--epochs", "5", "--out", str(path)])
    assert code == 0, err
    config = json.loads(path.read_text())["config"]
    assert (config["loss"], config["schedule"], config["head_init"], config["layers"]) == (
        "bce-multi", "random-batch", "normal", 2)  # explicit --layers wins over the preset's 10
    code, _, err = run_qaudit(["train", "--model", "basic-qnn", "--dataset", "digits", "--preset", "nope",
                               "--out", str(tmp_path / "x.json")])
    assert code == 2 and "no preset 'nope'" in one_line_error(err)


def test_paper_protocol_never_enters_metrics_or_verdict(digits_model_file):
    from qaudit.files import model_file as model_io
    from qaudit.files.data import load_dataset
    from qaudit.leak.audit import AuditSettings, ground_truth, run_audit

    mf = model_io.load(digits_model_file)
    ds = load_dataset("digits")
    truth = ground_truth(mf, len(ds))

    def audit(**opts):
        return run_audit(mf, ds, truth, AuditSettings(attacks=["gray-box"], backend="exact", forget_class=4,
                                                      n_bootstrap=20, attack_options=opts))

    plain, paper = audit(), audit(**{"gray-box.protocol": "paper"})
    assert plain.verdict == paper.verdict and plain.measurements == paper.measurements
    assert plain.payload["attacks"]["gray-box"]["metrics"] == paper.payload["attacks"]["gray-box"]["metrics"]
    extra = paper.payload["attacks"]["gray-box"]["details"]["extra_protocol"]
    assert extra["pool_members"] == 200 and extra["pool_non_members"] == 100  # fewer than 500 available
    assert "extra_protocol" not in plain.payload["attacks"]["gray-box"]["details"]
    assert any(t.title.startswith("other protocols") for t in paper.tables)
    with pytest.raises(Exception, match="protocol must be one of"):
        audit(**{"gray-box.protocol": "nope"})
