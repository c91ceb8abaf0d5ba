"""The quantile-regression attack (Bertran et al. 2023): FPR calibrated by construction, cross-fitted in
audits, class-level mode, alpha outside (0, 1) refused."""

from __future__ import annotations

import numpy as np
import pytest

from qaudit.leak import metrics
from qaudit.sdk.testing import train_tiny_model


@pytest.fixture(scope="module")
def tiny():
    return train_tiny_model()


def _calibration_context(tiny, alpha: float, class_level: bool = False):
    """Known non-members: 1000 digits the model never saw; held out: the other unseen digits + holdout."""
    from qaudit.run.query import TargetQueries
    from qaudit.sdk.protocols import AttackContext
    from qaudit.sdk.testing import _exact_backend

    ds = tiny.dataset
    unseen = np.setdiff1d(np.arange(len(ds)), np.concatenate([tiny.file.data.members, tiny.file.data.holdout]))
    perm = np.random.default_rng(7).permutation(unseen)
    fit, rest = perm[:1000], np.concatenate([perm[1000:], tiny.file.data.holdout])
    Xm, ym = tiny.members
    backend = _exact_backend()
    ctx = AttackContext(model=tiny.model, backend=backend, shots=None, seed=3, X_members=Xm, y_members=ym,
                        X_non_members=ds.X[fit], y_non_members=ds.y[fit], n_classes=ds.n_classes,
                        query=TargetQueries(tiny.model, backend, None, 3),
                        options={"quantile.alpha": alpha, "quantile.class_level": class_level})
    return ctx, ds.X[rest], ds.y[rest]


def _synthetic(alpha: float, class_level: bool, n: int = 20_000, seed: int = 0):
    """A model whose outputs are a fixed function of 8 features (3 classes), queried through the
    attack context: large enough non-member sets for a tight binomial check."""
    from qaudit.sdk.protocols import AttackContext, Outputs

    rng = np.random.default_rng(seed)
    W = rng.normal(size=(8, 3))
    X, y = rng.normal(size=(n, 8)), rng.integers(0, 3, n)

    def query(model, Xq, exact=False):
        z = Xq @ W + 0.5 * np.sin(3 * Xq[:, :3])
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return Outputs(e / e.sum(axis=1, keepdims=True))

    half = n // 2
    ctx = AttackContext(model=None, backend=None, shots=None, seed=seed, X_members=X[:0], y_members=y[:0],
                        X_non_members=X[:half], y_non_members=y[:half], n_classes=3, query=query,
                        options={"quantile.alpha": alpha, "quantile.class_level": class_level})
    return ctx, X[half:], y[half:]


@pytest.mark.parametrize("class_level", [False, True])
@pytest.mark.parametrize("alpha", [0.01, 0.1])
def test_false_positive_rate_is_alpha_on_held_out_non_members(alpha, class_level):
    """Split-conformal threshold: on 10 000 non-members neither the regressor nor the calibration saw,
    the Clopper-Pearson 95 % interval of the observed false-positive count contains alpha."""
    from qaudit_attacks.quantile import QuantileRegressionAttack

    ctx, X, y = _synthetic(alpha, class_level)
    attack = QuantileRegressionAttack().fit(ctx)
    assert attack.details()["calibrated"]
    called = attack.score(ctx, X, y) >= attack.decision_threshold
    lo, hi = metrics.clopper_pearson(int(called.sum()), called.size)
    assert lo <= alpha <= hi, (alpha, called.mean())


@pytest.mark.parametrize("alpha", [0.01, 0.1])
def test_false_positive_rate_on_a_real_model_follows_the_conformal_law(tiny, alpha):
    """On the tiny QNN (digits: only ~500 calibration non-members) the false positives among held-out
    non-members lie inside the central 95 % of their exact law: FPR ~ Beta(n_cal + 1 - r, r) given the
    calibration rank r (split-conformal), then binomial over the held-out set (beta-binomial)."""
    from qaudit_attacks.quantile import QuantileRegressionAttack
    from scipy.stats import betabinom

    ctx, X, y = _calibration_context(tiny, alpha)
    attack = QuantileRegressionAttack().fit(ctx)
    n_cal = attack.details()["calibration_non_members"]
    r = int(np.ceil((n_cal + 1) * (1 - alpha)))
    law = betabinom(len(y), n_cal + 1 - r, r)
    k = int((attack.score(ctx, X, y) >= attack.decision_threshold).sum())
    assert law.ppf(0.025) <= k <= law.ppf(0.975), (k, len(y), law.mean())


def test_uncalibrated_quantile_would_be_caught(tiny):
    """The check above can fail: calling "member" above the regressor's own prediction (no conformal
    step) misses alpha = 1 % on held-out non-members."""
    from qaudit_attacks.quantile import QuantileRegressionAttack

    ctx, X, y = _synthetic(0.01, False)
    attack = QuantileRegressionAttack().fit(ctx)
    called = attack.score(ctx, X, y) >= 0.0
    lo, hi = metrics.clopper_pearson(int(called.sum()), called.size)
    assert not lo <= 0.01 <= hi, called.mean()


def test_audit_cross_fits_it(tiny):
    from qaudit.leak.audit import AuditSettings, ground_truth, run_audit

    rep = run_audit(tiny.file, tiny.dataset, ground_truth(tiny.file, len(tiny.dataset)),
                    AuditSettings(attacks=["quantile"], n_bootstrap=100, folds=3))
    details = rep.payload["attacks"]["quantile"]["details"]
    assert details["cross_fitted"] and details["fits"] == 3
    assert 0.0 <= rep.measurements["quantile"]["auc"] <= 1.0


@pytest.mark.parametrize("value", ["0", "1", "1.5", "-0.1"])
def test_alpha_outside_the_open_unit_interval_is_refused(cli_runner, tiny_model, value):
    res = cli_runner.invoke(["leak", str(tiny_model.path), "--attack", "quantile", "-A", f"quantile.alpha={value}"])
    assert res.exit_code == 2 and "alpha must lie strictly between 0 and 1" in res.stderr, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
