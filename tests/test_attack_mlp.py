"""The gray-box attack's numpy MLP (plugins/qaudit_attacks/mlp.py): exact gradients, scikit-learn's
training rule, seeded, and early stopping that uses only the rows it is given."""

from __future__ import annotations

import numpy as np
import pytest
from qaudit_attacks.mlp import AttackMLP
from sklearn.metrics import roc_auc_score


def _data(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """13 features like the gray-box's; membership depends non-linearly on two of them, plus noise."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 13))
    logit = 1.2 * X[:, 0] - 0.8 * X[:, 1] ** 2 + 0.5
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return X, y


def test_gradients_equal_finite_differences():
    X, y = _data(0, 60)
    mlp = AttackMLP(hidden=(5, 4), alpha=0.3, dtype=np.float64, seed=1)
    mlp.mean_, mlp.scale_ = X.mean(0), X.std(0)
    Z = mlp._standardise(X)
    mlp._init(Z.shape[1])
    _, gw, gb = mlp._loss_and_grads(Z, y)
    for params, grads in ((mlp.weights_, gw), (mlp.biases_, gb)):
        for q, g in zip(params, grads, strict=True):
            flat, gflat = q.reshape(-1), g.reshape(-1)
            for i in range(0, flat.size, max(1, flat.size // 7)):
                keep = flat[i]
                flat[i] = keep + 1e-6
                up = mlp._loss_and_grads(Z, y)[0]
                flat[i] = keep - 1e-6
                down = mlp._loss_and_grads(Z, y)[0]
                flat[i] = keep
                assert gflat[i] == pytest.approx((up - down) / 2e-6, abs=1e-7)


def test_seeded_and_probabilities():
    X, y = _data(1, 300)
    a = AttackMLP(seed=4, validation_fraction=0.1).fit(X, y).predict_proba(X)
    b = AttackMLP(seed=4, validation_fraction=0.1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (300, 2) and np.allclose(a.sum(1), 1.0) and a.dtype == np.float64


def test_same_rule_as_sklearn_and_early_stopping_generalises_at_least_as_well():
    """Trained on 1200 rows, scored on 4000 fresh ones: with the training-loss rule (validation 0) the
    numpy MLP reaches scikit-learn MLPClassifier's held-out AUC (same rule, other random initial
    weights); with early stopping on a tenth of the rows it is no worse and stops far earlier."""
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = _data(2, 1200)
    Xt, yt = _data(3, 4000)
    sk = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(64, 64), learning_rate_init=0.01,
                                                       alpha=1e-3, batch_size=len(X), max_iter=1000,
                                                       random_state=0, tol=1e-4, n_iter_no_change=10)).fit(X, y)
    stalled = AttackMLP(seed=0).fit(X, y)
    early = AttackMLP(seed=0, validation_fraction=0.1).fit(X, y)
    auc_sk = roc_auc_score(yt, sk.predict_proba(Xt)[:, 1])
    auc_stalled = roc_auc_score(yt, stalled.predict_proba(Xt)[:, 1])
    auc_early = roc_auc_score(yt, early.predict_proba(Xt)[:, 1])
    assert abs(auc_stalled - auc_sk) < 0.03, (auc_stalled, auc_sk)
    assert auc_early > auc_sk - 0.01, (auc_early, auc_sk)
    assert early.n_iter_ < stalled.n_iter_ / 2, (early.n_iter_, stalled.n_iter_)


def test_validation_rows_are_a_stratified_seeded_share():
    y = np.r_[np.ones(200), np.zeros(100)]
    train, val = AttackMLP(seed=5, validation_fraction=0.1)._validation_split(y)
    assert val[:200].sum() == 20 and val[200:].sum() == 10 and not (train & val).any()
    train0, val0 = AttackMLP(seed=5)._validation_split(y)
    assert train0.all() and not val0.any()
