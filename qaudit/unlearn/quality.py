"""Forget quality: the distinguishability of unlearned and retrained models over repeated pairs."""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.files.data import Dataset
from qaudit.files.model_file import ModelFile
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.progress import SILENT, Progress
from qaudit.unlearn.request import ForgetSet, build_request, run_method

# ----------------------------------------------------------------------------- forget quality
FQ_BIN_WIDTH = 0.5


def _epsilon(a: np.ndarray, b: np.ndarray, delta: float = 0.0) -> float:
    """Largest ε any threshold on a 1-D statistic separates samples *a* from *b* with:
    max over thresholds and both directions of log((1 - δ - FPR) / FNR), FPR and FNR
    estimated as (k + 0.5) / (N + 1) so that ε stays finite with few models."""
    values = np.unique(np.r_[a, b])
    cuts = np.r_[values - 1e-12, values[-1] + 1e-12]
    best = 0.0
    for t in cuts:
        for lo, hi in ((a, b), (b, a)):  # "positive" = above the threshold
            fpr = (np.sum(lo >= t) + 0.5) / (len(lo) + 1)
            fnr = (np.sum(hi < t) + 0.5) / (len(hi) + 1)
            for x, y in ((fpr, fnr), (fnr, fpr)):
                if 1 - delta - x > 0:
                    best = max(best, float(np.log((1 - delta - x) / y)))
    return best


def _forget_quality_pair(cls: Any, params: dict[str, Any], pool: tuple[np.ndarray, np.ndarray], members: np.ndarray,
                         fs: ForgetSet, method: str, options: dict[str, Any], seed: int,
                         n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Job: train an original model on the members with *seed*, unlearn the forget set with *method*,
    retrain on the retained data with *seed*; return the forget examples' logit-scaled true-class
    confidences under the unlearned and the retrained model."""
    from types import SimpleNamespace

    from qaudit.run.query import predict_proba

    X, y = pool
    retain = fs.retain_ids
    X_f, y_f = X[fs.forget_ids], y[fs.forget_ids]

    def stat(model: Any) -> np.ndarray:
        p = np.clip(predict_proba(model, X_f)[np.arange(len(y_f)), y_f], 1e-12, 1 - 1e-12)
        return np.log(p) - np.log1p(-p)

    original = cls.from_options({**params, "seed": seed}).fit(X[members], y[members], n_classes=n_classes,
                                                              sample_ids=members)
    request = build_request(get_host().get("unlearning", method), SimpleNamespace(X=X, y=y), fs, seed, options,
                            n_classes)
    unlearned = stat(run_method(method, original, request).model)
    retrained = stat(cls.from_options({**params, "seed": seed}).fit(X[retain], y[retain], n_classes=n_classes,
                                                                    sample_ids=retain))
    return unlearned, retrained


def forget_quality(mf: ModelFile, dataset: Dataset, fs: ForgetSet, method: str, options: dict[str, Any],
                   n_models: int, seed: int = 0, progress: Progress = SILENT, executor: Any = None) -> dict[str, Any]:
    """The NeurIPS 2023 machine-unlearning challenge's forget quality, on a small scale.

    N original models are trained on the model's members with seeds seed..seed+N-1
    (same options), each is unlearned with *method*, and N oracles are retrained on
    the retained data with the same seeds. For every forget example the statistic is
    the logit-scaled true-class confidence log(p_y / (1 - p_y)); ε_i is the largest
    privacy loss a threshold on it achieves between the N unlearned and the N
    retrained models (:func:`_epsilon`). As in the challenge, ε_i falls into bins of
    width 0.5 (bin n = floor(ε_i / 0.5) + 1) and scores 2 / 2^n; the forget quality
    is the mean score (1 = indistinguishable from retraining). With few models the
    estimate is coarse: ε cannot exceed log(N + 1) - log(0.5).
    """
    from qaudit.run.parallel import using
    from qaudit.sdk.protocols import Job

    check_forget_quality(n_models)
    if n_models < 2:
        raise QauditError("--forget-quality needs at least 2 models per side")
    if mf.data is None:
        raise QauditError("the model file has no data record")
    n_classes = mf.model.n_classes or dataset.n_classes
    params = mf.model.get_params()
    cls = type(mf.model)
    with using(executor) as ex, progress.track(f"forget quality: {n_models} x (train, {method}, retrain)",
                                                n_models) as task:
        pool = ex.share((dataset.X, dataset.y))
        jobs = [Job((cls, params, pool, mf.data.members, fs, method, dict(options), int(seed) + k, n_classes),
                    seed=int(seed) + k,
                    origin=f"forget-quality pair {k + 1} ({method})") for k in range(n_models)]
        pairs = ex.map(_forget_quality_pair, jobs, on_done=lambda: progress.advance(task))
    unlearned = [u for u, _ in pairs]
    retrained = [r for _, r in pairs]
    U, R = np.array(unlearned), np.array(retrained)  # (N, n_forget)
    eps = np.array([_epsilon(U[:, i], R[:, i]) for i in range(U.shape[1])])
    bins = np.floor(eps / FQ_BIN_WIDTH).astype(int) + 1
    scores = 2.0 / 2.0 ** bins
    return {"n_models": int(n_models), "forget_quality": float(scores.mean()),
            "epsilon_mean": float(eps.mean()), "epsilon_max": float(eps.max()),
            "epsilon_cap": float(np.log((n_models + 1) / 0.5)), "seeds": [int(seed) + k for k in range(n_models)]}


def attach_forget_quality(report: Any, method: str, fq: dict[str, Any]) -> None:
    """Add the forget-quality numbers to an unlearn report."""
    from qaudit.report.results import Table

    report.tables.append(Table("forget quality (NeurIPS 2023 unlearning challenge measure)", ["measure", "value"], [
        ["models per side (seeds)", f"{fq['n_models']} ({', '.join(map(str, fq['seeds']))})"],
        ["forget quality (1 = like retraining)", fq["forget_quality"]],
        ["mean per-example epsilon", fq["epsilon_mean"]], ["max per-example epsilon", fq["epsilon_max"]],
        ["largest epsilon measurable with this N", fq["epsilon_cap"]]]))
    report.payload["forget_quality"] = fq
    report.summary["forget_quality"] = fq["forget_quality"]


def check_forget_quality(n_models: int) -> None:
    """``--forget-quality N``: 0 (off) or 2..MAX_FORGET_QUALITY_MODELS model pairs (each trains a model, unlearns
    it and retrains an oracle)."""
    from qaudit.sdk.limits import MAX_FORGET_QUALITY_MODELS, check_option

    check_option("--forget-quality", n_models, "int", 0, MAX_FORGET_QUALITY_MODELS,
                 hint="0 = off; each model pair trains, unlearns and retrains once")
    if n_models == 1:
        raise QauditError("--forget-quality needs at least 2 models per side (or 0 for off)")
