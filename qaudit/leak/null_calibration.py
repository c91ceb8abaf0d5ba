"""Null-calibration runs of the leak verdict as independent executor jobs (issues 13 and 16).

A null audit draws "members" and "non-members" at random from a model's holdout (neither was
trained on) and audits that split with the given settings: every LEAKS verdict and every distinguishability > 0
is a false positive. The splits come from one seeded generator and each run's audit seed is its run
number, so the results do not depend on the executor (``benchmarks/calibration.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.leak.audit import AuditSettings, GroundTruth, run_audit
from qaudit.sdk.progress import SILENT, Progress


def null_truths(holdout: np.ndarray, runs: int, half: int, seed: int) -> list[GroundTruth]:
    """*runs* random disjoint (members, non-members) splits of *holdout*, *half* samples each."""
    if 2 * half > len(holdout):
        raise ValueError(f"a null split needs 2 x {half} holdout samples, the model has {len(holdout)}")
    rng = np.random.default_rng(seed)
    truths = []
    for _ in range(runs):
        hold = rng.permutation(holdout)
        truths.append(GroundTruth(np.sort(hold[:half]), np.sort(hold[half:2 * half]),
                                  np.array([], dtype=np.int64), "null"))
    return truths


def null_audit(bundle: Any, dataset: Any, truth: GroundTruth, settings: AuditSettings) -> dict[str, Any]:
    """One null audit of a :func:`qaudit.files.model_file.portable` bundle: did it say LEAKS, did any attack bound
    distinguishability above 0, its strongest AUC."""
    from qaudit.files.model_file import from_portable

    report = run_audit(from_portable(bundle), dataset, truth, settings)
    measurements = report.measurements.values()
    return {"leaks": bool(report.summary["leaks"]),
            "distinguishability_positive": any(m["distinguishability"] > 0 for m in measurements),
            "strongest_auc": max(m["auc"] for m in measurements)}


def run_null_audits(mf: Any, dataset: Any, runs: int, half: int, seed: int = 2024, n_bootstrap: int = 200,
                    executor: Any = None, progress: Progress = SILENT) -> list[dict[str, Any]]:
    """*runs* null audits of *mf* (run k audited with seed k) as jobs on *executor* (None: in this process)."""
    from qaudit.files.model_file import portable
    from qaudit.run.parallel import using
    from qaudit.sdk.protocols import Job

    truths = null_truths(np.asarray(mf.data.holdout), runs, half, seed)
    with using(executor) as ex, progress.track(f"{runs} null audits", runs) as task:
        shared = ex.share(dataset)  # the data goes to each worker once, not with every job
        bundle = portable(mf)
        jobs = [Job((bundle, shared, truth, AuditSettings(seed=k, n_bootstrap=n_bootstrap)), seed=k,
                    origin=f"null audit {k + 1}") for k, truth in enumerate(truths)]
        return ex.map(null_audit, jobs, on_done=lambda: progress.advance(task))
