"""Attacks judged by the core's metrics: real leakage is found, no leakage is not invented.

* a QNN trained on random labels memorises its members: every attack must find
  strong leakage (AUC >> 0.5);
* two disjoint holdout sets labelled member / non-member: AUC ~ 0.5 within its CI;
* the shot-noise variance LiRA uses matches a Monte-Carlo estimate;
* sampled counts agree with the engine's exact expectation values.
"""

from __future__ import annotations

import numpy as np
import pytest

from qaudit.engine.tasks import readout_table
from qaudit.files.data import Dataset, load_dataset
from qaudit.leak.audit import AuditSettings, GroundTruth, ground_truth, run_audit
from qaudit.run.query import TargetQueries, basis_distribution
from qaudit.sdk.errors import QauditError
from qaudit.train.workflows import train_model

OPTS = {"qubits": 5, "layers": 4, "epochs": 60, "lr": 0.2, "batch_size": 20}


@pytest.fixture(scope="module")
def random_label_model():
    """40 members with random labels: memorised, so members are easy to tell apart."""
    digits = load_dataset("digits")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=len(digits))
    ds = Dataset("digits-random", digits.X[:600], y[:600], image_shape=digits.image_shape)
    mf = train_model("basic-qnn", ds, n_train=40, n_holdout=200, seed=0, options=OPTS)
    return mf, ds


@pytest.fixture(scope="module")
def honest_model():
    ds = load_dataset("digits")
    mf = train_model("basic-qnn", ds, n_train=300, n_holdout=600, seed=1,
                     options={"qubits": 4, "layers": 3, "epochs": 5})
    return mf, ds


def _audit(mf, ds, attacks, truth=None, **kw):
    truth = truth or ground_truth(mf, len(ds))
    settings = AuditSettings(attacks=attacks, n_bootstrap=300, **kw)
    return run_audit(mf, ds, truth, settings)


def test_random_labels_leak_strongly(random_label_model):
    mf, ds = random_label_model
    rep = _audit(mf, ds, ["loss", "confidence", "entropy", "gray-box", "lira", "lira-offline", "rmia"],
                 n_reference=4, n_jobs=1)
    # 20 evaluated members vs 100 non-members: wide CIs, so the bar is on the lower CI end
    # LiRA with 4 reference models, each trained on 3x the target's 40 samples: AUC 0.71-0.76 over audit
    # seeds and reference designs (measured for issue 25); every other attack > 0.75
    for name, m in rep.measurements.items():
        assert m["auc_low"] > 0.6, (name, m)
        assert m["auc"] > (0.7 if name == "lira" else 0.75), (name, m)
    assert rep.measurements["loss"]["advantage"] > 0.5
    assert rep.summary["leaks"] is True
    assert rep.payload["attacks"]["lira"]["details"]["reference_models"] == 4


def test_disjoint_holdouts_give_chance(honest_model):
    mf, ds = honest_model
    # shuffle first: digits is ordered by writer, so index halves differ in distribution
    hold = np.random.default_rng(0).permutation(mf.data.holdout)
    truth = GroundTruth(hold[:300], hold[300:], np.array([], dtype=np.int64), "test")
    rep = _audit(mf, ds, ["loss", "confidence", "entropy", "gray-box"], truth=truth, seed=3)
    for name, m in rep.measurements.items():
        assert m["auc_low"] <= 0.5 <= m["auc_high"], (name, m)
        assert abs(m["auc"] - 0.5) < 0.08, (name, m)


def _signs(model):
    task = model.task(np.zeros((1, model.n_features_in)) + 0.1)
    return readout_table(task.observables, task.n_qubits)


def _sampled():
    from qaudit.run.backend_choice import resolve_backend

    return resolve_backend("sampled", 1)[0]


def test_sampled_counts_match_exact_expectations(honest_model):
    mf, ds = honest_model
    X = ds.X[:50]
    signs = _signs(mf.model)
    exact = mf.model.expectations(mf.model.transform(X))
    np.testing.assert_allclose(basis_distribution(mf.model, X) @ signs, exact, atol=1e-12)
    oracle = TargetQueries(mf.model, _sampled(), 200_000, seed=0)
    out = oracle(mf.model, X)
    assert out.counts.sum(axis=1).tolist() == [200_000] * 50
    assert np.max(np.abs(out.expectations - exact)) < 0.02  # ~ 4.5 standard errors
    again = oracle(mf.model, X.copy())
    assert again is out  # cached: same batch, same draw


def test_shot_noise_variance_matches_monte_carlo(honest_model):
    from qaudit_attacks.common import logit_confidence
    from qaudit_attacks.reference import phi_shot_variance

    mf, ds = honest_model
    X, y = ds.X[:8], ds.y[:8]
    shots = 4096
    draws = []
    for s in range(300):
        out = TargetQueries(mf.model, _sampled(), shots, seed=s)(mf.model, X)
        draws.append(logit_confidence(out.probs, y))
    mc_var = np.var(np.array(draws), axis=0, ddof=1)
    out = TargetQueries(mf.model, _sampled(), shots, seed=999)(mf.model, X)
    analytic = phi_shot_variance(mf.model, out, y)
    np.testing.assert_allclose(analytic, mc_var, rtol=0.35)
    diag = phi_shot_variance(mf.model, type(out)(out.probs, out.expectations, None, shots, out.observables,
                                                 out.n_qubits), y)
    assert diag.shape == analytic.shape and np.all(diag > 0)


def test_shot_aware_attacks_run(random_label_model):
    mf, ds = random_label_model
    rep = _audit(mf, ds, ["lira", "counts-lr", "loss"], n_reference=2, shots=256)
    assert rep.payload["attacks"]["lira"]["details"]["shot_noise_modelled"] is True
    assert rep.measurements["lira"]["auc_low"] > 0.5  # 1 IN + 1 OUT reference model only
    # counts-lr is experimental: bit-string distributions carry little membership signal here (measured
    # AUC ~0.6 at 4096 shots where LiRA reaches ~0.96); it must run and give valid metrics
    assert 0.0 <= rep.measurements["counts-lr"]["auc"] <= 1.0
    assert rep.summary["backend"] == "sampled"  # --shots without --backend: the plugin-declared shot backend


def test_attack_errors(random_label_model):
    mf, ds = random_label_model
    with pytest.raises(QauditError, match="pass --shots"):
        _audit(mf, ds, ["counts-lr"])
    with pytest.raises(QauditError, match="unknown attack"):
        _audit(mf, ds, ["nope"])
    with pytest.raises(QauditError, match="unknown option"):
        _audit(mf, ds, ["gray-box"], attack_options={"gray-box.dropout": 0.3})
    with pytest.raises(QauditError, match="even number"):
        _audit(mf, ds, ["lira"], n_reference=3)
    small = Dataset("small", ds.X[:60], ds.y[:60], image_shape=ds.image_shape)
    truth = GroundTruth(np.arange(50), np.arange(50, 60), np.array([], dtype=np.int64), "test")
    mf_small = train_model("basic-qnn", small, n_train=50, n_holdout=10, seed=0,
                           options={"qubits": 4, "layers": 1, "epochs": 1})
    # 10 + 10 scored samples, nothing else: references of 10 samples (fewer than 20)
    few = GroundTruth(np.arange(10), np.arange(50, 60), np.array([], dtype=np.int64), "test")
    with pytest.raises(QauditError, match="too small for reference models"):
        run_audit(mf_small, small, few, AuditSettings(attacks=["lira"], n_reference=4))
    with pytest.raises(QauditError, match="population data"):
        run_audit(mf_small, small, truth, AuditSettings(attacks=["shadow"]))


def test_hybrid_model_sampling_runs_its_encoder():
    """Shot sampling of the HQNN must use its CNN encoder before the circuit."""

    from conftest import SHARED

    mnist = SHARED / "data" / "mnist"
    if not mnist.is_dir():
        pytest.skip(f"needs the shared MNIST data ({mnist} not found)")
    ds = load_dataset("mnist", {"data_dir": str(mnist)})
    mf = train_model("hqnn", ds, n_train=40, n_holdout=20, seed=0, options={"epochs": 1})
    X = ds.X[:10]
    exact = mf.model.expectations(mf.model.transform(X))
    np.testing.assert_allclose(basis_distribution(mf.model, X) @ _signs(mf.model), exact, atol=1e-12)
