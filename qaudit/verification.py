"""Verifying an unlearning request the same way for every method, on held-out evidence.

For the original, the unlearned and the retrain-oracle model alike, :class:`Verifier` measures

* accuracy on the forget set, the retained training set and the holdout (for class requests
  also the holdout split into forget classes / other classes);
* the forget-set membership inference, **cross-fitted** (:mod:`qaudit.crossfit`): the
  forget samples and the class-matched holdout (holdout samples whose label occurs in the
  forget set; the whole holdout if none) are split into k folds; the verification attack
  (role ``verification``, e.g. the paper's gray-box) for fold f is fitted on the ORIGINAL
  model's outputs for retained members (never the forget set) and for the holdout outside
  fold f, and scores fold f -- so no scored sample was seen by the attack that scores it.
  The same fitted attacks score every model's outputs. ``forget_mia`` is the fraction of
  forget samples called "member" at the attack's threshold (the paper's number),
  ``forget_mia_auc`` the AUC of forget samples against the matched holdout (0.5 = the forget
  set looks like unseen data), with its bootstrap CI and one-sided p-value;
* distance to the oracle: prediction agreement and mean KL(oracle || model) on the forget set
  and the holdout, and the gaps in forget MIA and its AUC.

:func:`judge` then states whether the request was met: forget accuracy and forget-MIA AUC
within a stated tolerance of the retrain oracle's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit import metrics
from qaudit.crossfit import DEFAULT_FOLDS, FoldPlan, fit_folds, split_folds, uses_known_labels
from qaudit.crossfit import score as score_folds
from qaudit.errors import QauditError
from qaudit.plugins import get_host
from qaudit.progress import SILENT, Progress
from qaudit.protocols import AttackContext

#: Default tolerances of :func:`judge` (accuracy in [0, 1], AUC).
DEFAULT_TOLERANCE = {"accuracy": 0.10, "auc": 0.05}


def _kl(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1.0)
    q = np.clip(q, 1e-12, 1.0)
    return np.sum(p * (np.log(p) - np.log(q)), axis=1)


class Verifier:
    """Measures any model against one forget request, with attacks fitted once on the original."""

    def __init__(self, original: Any, dataset: Any, fs: Any, seed: int = 0, backend: Any = None,
                 shots: int | None = None, attack: str | None = None, progress: Progress = SILENT,
                 folds: int = DEFAULT_FOLDS):
        self.dataset, self.fs, self.seed = dataset, fs, seed
        self.backend, self.shots = backend, shots
        self.holdout = original.data.holdout
        y_hold = dataset.y[self.holdout]
        matched = self.holdout[np.isin(y_hold, np.unique(dataset.y[fs.forget_ids]))]
        self.matched_holdout = matched if matched.size >= 2 else self.holdout
        if len(self.matched_holdout) < 2:
            raise QauditError("the verification needs at least 2 holdout samples")
        self.attack_name = attack or get_host().role("attack", "verification")
        cls = get_host().get("attack", self.attack_name)
        rng = np.random.default_rng(seed)
        k = min(folds, len(self.matched_holdout))
        self.folds = k if uses_known_labels(cls) else 1
        plans = self._plans(original, cls, rng)
        context = AttackContext(original.model, backend, shots, seed, dataset.X[:0], dataset.y[:0],
                                dataset.X[:0], dataset.y[:0], progress=progress,
                                n_classes=original.model.n_classes or dataset.n_classes)
        with progress.track(f"fitting {self.attack_name} on the original model ({len(plans)} fits)",
                            len(plans)) as task:
            self.fitted = fit_folds(cls, context, dataset.X, dataset.y, plans, progress, task)
        self.scored = np.concatenate([self.fs.forget_ids, self.matched_holdout])
        self.is_forget = np.r_[np.ones(len(self.fs.forget_ids), bool), np.zeros(len(self.matched_holdout), bool)]

    def _plans(self, original: Any, cls: Any, rng: np.random.Generator) -> list[FoldPlan]:
        """Fold plans: forget samples and matched holdout split alike; known members are retained
        members (never the forget set), as many as the known holdout."""
        forget_folds = split_folds(self.fs.forget_ids, self.folds, rng)
        matched_folds = split_folds(self.matched_holdout, self.folds, rng)
        if self.folds == 1:
            empty = self.fs.forget_ids[:0]
            return [FoldPlan(empty, empty, np.concatenate([self.fs.forget_ids, self.matched_holdout]))]
        retain = np.setdiff1d(original.data.members, self.fs.forget_ids)
        plans = []
        for f in range(self.folds):
            known_n = np.setdiff1d(self.holdout, matched_folds[f])
            size = min(len(retain), len(known_n))
            known_m = np.sort(rng.choice(retain, size, replace=False))
            plans.append(FoldPlan(known_m, known_n, np.concatenate([forget_folds[f], matched_folds[f]])))
        return plans

    def _probs(self, model: Any, ids: np.ndarray) -> np.ndarray:
        from qaudit.query import predict_proba

        return predict_proba(model, self.dataset.X[ids], self.backend, self.shots, self.seed)

    def _accuracy(self, probs: dict[str, np.ndarray]) -> dict[str, float | None]:
        ds, fs = self.dataset, self.fs
        ids = {"forget": fs.forget_ids, "retain": fs.retain_ids, "holdout": self.holdout}
        acc: dict[str, float | None] = {name: float(np.mean(np.argmax(p, axis=1) == ds.y[ids[name]]))
                                        for name, p in probs.items()}
        if fs.classes:
            pred, y = np.argmax(probs["holdout"], axis=1), ds.y[self.holdout]
            fc = np.isin(y, fs.classes)
            acc["holdout_forget_classes"] = float(np.mean(pred[fc] == y[fc])) if fc.any() else None
            acc["holdout_other_classes"] = float(np.mean(pred[~fc] == y[~fc])) if (~fc).any() else None
        return acc

    def snapshot(self, model: Any) -> dict[str, Any]:
        """Accuracies, the held-out forget MIA numbers and the raw outputs (key ``_probs``) of *model*."""
        fs = self.fs
        probs = {name: self._probs(model, ids) for name, ids in
                 (("forget", fs.forget_ids), ("retain", fs.retain_ids), ("holdout", self.holdout))}
        scores, called = score_folds(self.fitted, self.attack_name, self.dataset.X, self.dataset.y, self.scored,
                                     model=model)
        m = self.is_forget
        snap: dict[str, Any] = {"accuracy": self._accuracy(probs), "_probs": probs, "mia_folds": self.folds,
                                "forget_mia": float(called[m].mean()) if called is not None else None,
                                "holdout_mia": float(called[~m].mean()) if called is not None else None,
                                "forget_mia_auc": None, "forget_mia_auc_ci": None, "forget_mia_p_value": None}
        if m.sum() >= 2:
            summary = metrics.summarise(scores, m, seed=self.seed, n_bootstrap=200)
            snap.update({"forget_mia_auc": summary["auc"], "forget_mia_auc_ci": [summary["auc_low"],
                                                                               summary["auc_high"]],
                         "forget_mia_p_value": summary["p_value"], "forget_mia_advantage": summary["advantage"]})
        return snap

    @staticmethod
    def distance(snap: dict[str, Any], oracle: dict[str, Any]) -> dict[str, float | None]:
        """Agreement / KL(oracle || model) on forget set and holdout, and the MIA gaps."""
        out: dict[str, float | None] = {}
        for part in ("forget", "holdout"):
            p, q = oracle["_probs"][part], snap["_probs"][part]
            out[f"{part}_agreement"] = float(np.mean(np.argmax(p, axis=1) == np.argmax(q, axis=1)))
            out[f"{part}_kl"] = float(np.mean(_kl(p, q)))
        out["forget_accuracy_gap"] = float(abs(snap["accuracy"]["forget"] - oracle["accuracy"]["forget"]))
        for key, gap in (("forget_mia_auc", "mia_auc_gap"), ("forget_mia", "forget_mia_gap")):
            a, b = snap.get(key), oracle.get(key)
            out[gap] = None if a is None or b is None else float(abs(a - b))
        return out


def public(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without its raw outputs (for JSON)."""
    return {k: v for k, v in snap.items() if not k.startswith("_")}


@dataclass
class Judgement:
    """Whether a forget request was met, and the one-line reason."""

    met: bool
    reason: str
    tolerance: dict[str, float]
    changed_parameters: int
    total_parameters: int

    def to_json(self) -> dict[str, Any]:
        """JSON form (the unlearn report's ``payload.judgement``)."""
        return {"met": self.met, "reason": self.reason, "tolerance": self.tolerance,
                "changed_parameters": self.changed_parameters, "total_parameters": self.total_parameters}


def changed_parameters(before: Any, after: Any) -> tuple[int, int]:
    """(entries that changed, all entries) over the models' weights (``EnsembleModel`` parts included)."""
    wb, wa = before.weights, after.weights
    total = sum(int(np.size(v)) for v in wb.values())
    changed = sum(int(np.count_nonzero(~np.isclose(np.asarray(wa[k]), np.asarray(v), rtol=0, atol=1e-12)))
                  for k, v in wb.items() if k in wa and np.shape(wa[k]) == np.shape(v))
    return changed, total


def judge(method: str, after: dict[str, Any], oracle: dict[str, Any], before_model: Any, after_model: Any,
          tolerance: dict[str, float] | None = None) -> Judgement:
    """The request is met when forget accuracy and forget-MIA AUC are each within tolerance of the
    retrain oracle's (defaults: 10 accuracy points, 0.05 AUC)."""
    tol = {**DEFAULT_TOLERANCE, **(tolerance or {})}
    changed, total = changed_parameters(before_model, after_model)
    problems = []
    fa, fo = after["accuracy"]["forget"], oracle["accuracy"]["forget"]
    if abs(fa - fo) > tol["accuracy"]:
        problems.append(f"forget accuracy {100 * fa:.0f} % vs oracle {100 * fo:.0f} % "
                        f"(tolerance {100 * tol['accuracy']:.0f} points)")
    aa, ao = after.get("forget_mia_auc"), oracle.get("forget_mia_auc")
    if aa is not None and ao is not None and abs(aa - ao) > tol["auc"]:
        problems.append(f"forget MIA AUC {aa:.3f} vs oracle {ao:.3f} (tolerance {tol['auc']:g})")
    changes = f"{method} changed {changed} of {total} parameters"
    if problems:
        return Judgement(False, f"forget request not met: {changes}; " + "; ".join(problems), tol, changed, total)
    return Judgement(True, f"forget request met: forget accuracy and forget MIA AUC within tolerance of the "
                           f"retrain oracle ({changes})", tol, changed, total)
