"""Measuring the unlearn judgement's error rates on controls (``benchmarks/unlearning_calibration.py``, tests).

Given a pool of retrains from independent seeds, replicate r fits a fresh verifier with seed r, draws K
oracles from the pool without retrain r, and judges exactly as ``qaudit unlearn`` does
(:func:`qaudit.unlearn.verification.judge`):

* ``independent retrain`` -- pool retrain r (its own seed, never one of its oracles): should be met;
* ``no-op`` -- the original model unchanged: should not be met;
* ``destroyed`` -- retrain r with seeded Gaussian weight noise, its scale bisected until the retained
  accuracy is at most half of retrain r's: should not be met.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from qaudit.run.query import predict_proba

CONTROLS = ("independent retrain", "no-op", "destroyed")


def destroy(model: Any, X: np.ndarray, y: np.ndarray, seed: int, factor: float = 0.5) -> Any:
    """A copy of *model* with seeded weight noise whose accuracy on (X, y) is at most *factor* x the model's
    (the smallest such noise scale, by bisection)."""
    def accuracy(m: Any) -> float:
        return float(np.mean(np.argmax(predict_proba(m, X), axis=1) == y))

    target = factor * accuracy(model)
    rng = np.random.default_rng([int(seed), 0xDE57])
    noise = {k: rng.standard_normal(np.shape(v)) for k, v in model.weights.items()}

    def noisy(scale: float) -> Any:
        m = model.copy()
        m.weights = {k: np.asarray(v) + scale * noise[k] for k, v in model.weights.items()}
        return m

    lo, hi = 0.0, 0.05
    while accuracy(noisy(hi)) > target:
        lo, hi = hi, hi * 2
        if hi > 1e4:
            raise RuntimeError("weight noise did not lower the accuracy enough")
    for _ in range(12):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if accuracy(noisy(mid)) > target else (lo, mid)
    return noisy(hi)


def calibrate(mf: Any, dataset: Any, fs: Any, pool: list[Any], replicates: int, oracles: int,
              tolerance: dict[str, float] | None = None,
              on_replicate: Callable[[int, dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """One record per (replicate, control): ``{"replicate", "model", "met", "checks"}`` (checks as JSON).
    *pool*: :class:`qaudit.unlearn.Oracle` s, more than *replicates* and than *oracles*."""
    from qaudit.unlearn.verification import Verifier, judge

    if len(pool) < max(replicates, oracles + 1):
        raise ValueError("the pool needs more retrains than replicates and oracles")
    X_r, y_r = dataset.X[fs.retain_ids], dataset.y[fs.retain_ids]
    records = []
    for r in range(replicates):
        verifier = Verifier(mf, dataset, fs, seed=r)
        rng = np.random.default_rng([r, 26])
        others = rng.choice([i for i in range(len(pool)) if i != r], oracles, replace=False)
        snaps = [verifier.snapshot(pool[i].model) for i in others]
        models = {"independent retrain": pool[r].model, "no-op": mf.model,
                  "destroyed": destroy(pool[r].model, X_r, y_r, r)}
        done = {}
        for label, model in models.items():
            j = judge(label, verifier.snapshot(model), snaps, mf.model, model, verifier.is_forget, tolerance)
            done[label] = j.met
            records.append({"replicate": r, "model": label, "met": j.met, "checks": [c.to_json() for c in j.checks]})
        if on_replicate is not None:
            on_replicate(r, done)
    return records


def rates(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per control: how often it was judged as it should be (met for the independent retrain, not met for the
    others), with the Clopper-Pearson 95 % interval and the checks that failed."""
    from qaudit.leak.metrics import clopper_pearson

    out = {}
    for label in CONTROLS:
        rows = [r for r in records if r["model"] == label]
        want = label == "independent retrain"
        k, n = sum(r["met"] == want for r in rows), len(rows)
        lo, hi = clopper_pearson(k, n)
        failed: dict[str, int] = {}
        for r in rows:
            for c in r["checks"]:
                if not c["passed"]:
                    failed[c["key"]] = failed.get(c["key"], 0) + 1
        out[label] = {"correct": k, "n": n, "rate": k / n if n else float("nan"), "cp_low": float(lo),
                      "cp_high": float(hi), "want": "met" if want else "not met", "failed_checks": failed}
    return out
