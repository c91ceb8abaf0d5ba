"""Verifying an unlearning request the same way for every method, on held-out evidence.

For the original, the unlearned model and every retrain of the reference alike, :class:`Verifier` measures

* accuracy on the forget set, the retained training set and the holdout (for class requests
  also the holdout split into forget classes / other classes), and per-sample correctness;
* the forget-set membership inference, **cross-fitted** (:mod:`qaudit.leak.crossfit`): the
  forget samples and the class-matched holdout (holdout samples whose label occurs in the
  forget set; the whole holdout if none) are split into k folds; the verification attack
  (role ``verification``, e.g. the paper's gray-box) for fold f is fitted on the ORIGINAL
  model's outputs for retained members (never the forget set) and for the holdout outside
  fold f, and scores fold f -- so no scored sample was seen by the attack that scores it.
  The same fitted attacks score every model's outputs. ``forget_mia`` is the fraction of
  forget samples called "member" at the attack's threshold (the paper's number),
  ``forget_mia_auc`` the AUC of forget samples against the matched holdout (0.5 = the forget
  set looks like unseen data), with its bootstrap CI and one-sided p-value;
* distance to retraining: prediction agreement and mean KL(retrain || model) on the forget set
  and the holdout, and the gaps in forget MIA and its AUC, averaged over the retrains (and, for
  the retrains themselves, to each other: how far retraining lies from retraining).

:func:`judge` then states whether the request was met: forgetting (forget accuracy, forget-MIA
AUC) equivalent to retraining's within a margin, utility (retained and holdout accuracy) not worse
than retraining's beyond a margin -- tests of :mod:`qaudit.unlearn.equivalence` against the K retrains.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.leak import metrics
from qaudit.leak.crossfit import DEFAULT_FOLDS, FoldPlan, fit_folds, split_folds, uses_known_labels
from qaudit.leak.crossfit import score as score_folds
from qaudit.run.query import TargetQueries
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.progress import SILENT, Progress
from qaudit.sdk.protocols import AttackContext
from qaudit.unlearn.equivalence import (
    ALPHA,
    EQUIVALENCE,
    NON_INFERIORITY,
    Check,
    accuracy_se,
    auc_difference_se,
    figure_check,
)

#: Default margins of :func:`judge`: forget accuracy (fraction) and forget-MIA AUC within +-margin of
#: retraining, retained/holdout accuracy (``utility``, fraction) at most this far below it.
DEFAULT_TOLERANCE = {"accuracy": 0.10, "auc": 0.10, "utility": 0.25}
TEST_NAME = ("two one-sided tests (forgetting) and non-inferiority tests (utility) of the difference to the "
             "retrains' mean; SE = retraining spread + paired evaluation noise; met = every check passed "
             "(intersection-union test)")


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
                                n_classes=original.model.n_classes or dataset.n_classes,
                                query=TargetQueries(original.model, backend, shots, seed))
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
        from qaudit.run.query import predict_proba

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

    def _correct(self, probs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Per-sample correctness of each part (``holdout_utility``: the holdout outside the forget classes
        for a class request, else the whole holdout)."""
        ds, fs = self.dataset, self.fs
        ids = {"forget": fs.forget_ids, "retain": fs.retain_ids, "holdout": self.holdout}
        out = {name: np.argmax(p, axis=1) == ds.y[ids[name]] for name, p in probs.items()}
        other = ~np.isin(ds.y[self.holdout], fs.classes) if fs.classes else np.ones(len(self.holdout), bool)
        out["holdout_utility"] = out["holdout"][other] if other.any() else out["holdout"]
        return out

    def snapshot(self, model: Any) -> dict[str, Any]:
        """Accuracies, the held-out forget MIA numbers and the raw outputs (key ``_probs``) of *model*."""
        fs = self.fs
        probs = {name: self._probs(model, ids) for name, ids in
                 (("forget", fs.forget_ids), ("retain", fs.retain_ids), ("holdout", self.holdout))}
        scores, called = score_folds(self.fitted, self.attack_name, self.dataset.X, self.dataset.y, self.scored,
                                     model=model)
        m = self.is_forget
        snap: dict[str, Any] = {"accuracy": self._accuracy(probs), "_probs": probs, "mia_folds": self.folds,
                                "_correct": self._correct(probs), "_mia_scores": np.asarray(scores, np.float64),
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

    @staticmethod
    def reference_distance(snap: dict[str, Any], oracles: list[dict[str, Any]]) -> dict[str, float | None]:
        """:meth:`distance` to each oracle, averaged over the oracles."""
        rows = [Verifier.distance(snap, o) for o in oracles]
        return {k: (None if any(r[k] is None for r in rows) else float(np.mean([r[k] for r in rows])))
                for k in rows[0]}

    @staticmethod
    def oracle_spread(oracles: list[dict[str, Any]]) -> dict[str, list[float]]:
        """Each oracle's :meth:`reference_distance` to the *other* oracles (how far retrains lie from each other),
        key -> one value per oracle (empty with fewer than two oracles)."""
        if len(oracles) < 2:
            return {}
        rows = [Verifier.reference_distance(o, oracles[:i] + oracles[i + 1:]) for i, o in enumerate(oracles)]
        return {k: [float(r[k]) for r in rows if r[k] is not None] for k in rows[0]}


def public(snap: dict[str, Any]) -> dict[str, Any]:
    """A snapshot without its raw outputs (for JSON)."""
    return {k: v for k, v in snap.items() if not k.startswith("_")}


@dataclass
class Judgement:
    """Whether a forget request was met (every check of :mod:`qaudit.unlearn.equivalence` passed), and why."""

    met: bool
    reason: str
    tolerance: dict[str, float]
    changed_parameters: int
    total_parameters: int
    checks: list[Check] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON form (the unlearn report's ``payload.result.judgement``)."""
        return {"met": self.met, "reason": self.reason, "tolerance": self.tolerance, "alpha": ALPHA,
                "test": TEST_NAME, "checks": [c.to_json() for c in self.checks],
                "changed_parameters": self.changed_parameters, "total_parameters": self.total_parameters}


def changed_parameters(before: Any, after: Any) -> tuple[int, int]:
    """(entries that changed, all entries) over the models' weights (``EnsembleModel`` parts included)."""
    wb, wa = before.weights, after.weights
    total = sum(int(np.size(v)) for v in wb.values())
    changed = sum(int(np.count_nonzero(~np.isclose(np.asarray(wa[k]), np.asarray(v), rtol=0, atol=1e-12)))
                  for k, v in wb.items() if k in wa and np.shape(wa[k]) == np.shape(v))
    return changed, total


def _accuracy_check(key: str, label: str, part: str, kind: str, after: dict[str, Any],
                    oracles: list[dict[str, Any]], margin: float) -> Check | None:
    c_u = after["_correct"][part]
    if c_u.size == 0:
        return None
    c_r = np.array([o["_correct"][part] for o in oracles])
    low, high = metrics.clopper_pearson(int(c_u.sum()), int(c_u.size))
    return figure_check(key, label, kind, float(c_u.mean()), (float(low), float(high)),
                        [float(c.mean()) for c in c_r], accuracy_se(c_u, c_r), margin)


def checks(after: dict[str, Any], oracles: list[dict[str, Any]], is_forget: np.ndarray,
           tolerance: dict[str, float]) -> list[Check]:
    """The four checks: forget accuracy and forget-MIA AUC (equivalence, margins ``accuracy``/``auc``),
    retained and holdout accuracy (non-inferiority, margin ``utility``; holdout outside the forget classes
    for a class request)."""
    out = [_accuracy_check("forget_accuracy", "forget accuracy", "forget", EQUIVALENCE, after, oracles,
                           tolerance["accuracy"])]
    if after.get("forget_mia_auc") is not None and all(o.get("forget_mia_auc") is not None for o in oracles):
        scores = after["_mia_scores"]
        low, high = metrics.delong_ci(scores, is_forget)
        out.append(figure_check("forget_mia_auc", "forget MIA AUC", EQUIVALENCE, after["forget_mia_auc"],
                                (low, high), [o["forget_mia_auc"] for o in oracles],
                                auc_difference_se(scores, [o["_mia_scores"] for o in oracles], is_forget),
                                tolerance["auc"], percent=False))
    out.append(_accuracy_check("retained_accuracy", "retained accuracy", "retain", NON_INFERIORITY, after, oracles,
                               tolerance["utility"]))
    out.append(_accuracy_check("holdout_accuracy", "holdout accuracy", "holdout_utility", NON_INFERIORITY, after,
                               oracles, tolerance["utility"]))
    return [c for c in out if c is not None]


def judge(method: str, after: dict[str, Any], oracles: list[dict[str, Any]], before_model: Any, after_model: Any,
          is_forget: np.ndarray, tolerance: dict[str, float] | None = None) -> Judgement:
    """Met when the unlearned model is shown equivalent to retraining on forgetting and not worse than it on
    utility beyond the margins (:func:`checks`, each at level :data:`~qaudit.unlearn.equivalence.ALPHA`)."""
    tol = {**DEFAULT_TOLERANCE, **(tolerance or {})}
    changed, total = changed_parameters(before_model, after_model)
    found = checks(after, oracles, is_forget, tol)
    changes = f"{method} changed {changed} of {total} parameters"
    failed = [c for c in found if not c.passed]
    if failed:
        return Judgement(False, "forget request not met: " + "; ".join(c.reason() for c in failed) + f" ({changes})",
                         tol, changed, total, found)
    return Judgement(True, f"forget request met: forgetting equivalent to retraining and utility within "
                           f"{100 * tol['utility']:.0f} points of it, at α = {ALPHA} ({changes})",
                     tol, changed, total, found)
