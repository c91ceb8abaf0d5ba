"""Held-out attack scores by cross-fitting: no sample is scored by an attack fitted on it.

The scored samples are split into k folds, stratified by membership x class (and x the
group of every declared slice), so every fold keeps each stratum's share. Within the
known samples an attack is fitted on, every stratum is then **balanced to one
member : non-member ratio** (the known set's overall ratio; a seeded subsample of the
side in excess): an attack cannot learn a class-level membership prior. Without this
it learns the other folds' ratio for class c, which -- under no membership signal -- is
anti-correlated with the held-out fold's when folds are stratified by membership only
(mean null class-slice AUC of the gray-box attack 0.45), and equal to the scored
sample's own when folds are stratified by class too (mean null overall AUC 0.53): either
way the held-out fold's labels reach its scores (issue 25; ``tests/test_null_aucs.py``).
The scored samples are never subsampled: every one is scored exactly once.

Attacks whose ``fit`` does not read the attacker's known samples (``uses_known_labels =
False``: threshold and reference-model attacks) are fitted once, with empty known sets
and every scored sample as a target; an attack that does not declare it is cross-fitted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from qaudit.run.query import TargetQueries
from qaudit.sdk.errors import QauditError
from qaudit.sdk.protocols import AttackContext

DEFAULT_FOLDS = 5
MAX_FOLDS = 20


@dataclass
class FoldPlan:
    """Dataset indices an attack is fitted on (known members / non-members) and then scores (targets)."""

    known_members: np.ndarray
    known_non_members: np.ndarray
    targets: np.ndarray


@dataclass
class FittedFold:
    """One fitted attack, the context it was fitted in and the targets it scores."""

    attack: Any
    context: AttackContext
    targets: np.ndarray


def uses_known_labels(cls: Any) -> bool:
    """Whether an attack class's ``fit`` reads the attacker's known members/non-members (default True)."""
    return bool(getattr(cls, "uses_known_labels", True))  # optional Attack member


def split_folds(idx: np.ndarray, k: int, rng: np.random.Generator,
                strata: np.ndarray | None = None) -> list[np.ndarray]:
    """*idx* shuffled (seeded) into k nearly equal folds, each sorted.

    With *strata* (one key per element of *idx*) the folds are stratified: the elements are shuffled
    within each stratum, the strata laid end to end and dealt to the folds in turn (position mod k, as
    scikit-learn's ``StratifiedKFold`` does), so every stratum is spread over the folds as evenly as its
    size allows and the folds' sizes differ by at most one.
    """
    idx = np.asarray(idx)
    if strata is None:
        return [np.sort(part) for part in np.array_split(rng.permutation(idx), k)]
    strata = np.asarray(strata)
    order = np.concatenate([rng.permutation(idx[strata == key]) for key in np.unique(strata)])
    return [np.sort(order[f::k]) for f in range(k)]


def check_folds(k: int, n_members: int, n_non_members: int) -> None:
    """Refuse fold counts that cannot give every fold a member and a non-member."""
    if not 2 <= k <= MAX_FOLDS:
        raise QauditError(f"--folds must lie in 2..{MAX_FOLDS}, got {k}")
    if min(n_members, n_non_members) < k:
        raise QauditError(f"--folds {k} needs at least {k} members and {k} non-members "
                          f"(have {n_members} and {n_non_members}); use fewer folds")


def balance_strata(known_m: np.ndarray, known_n: np.ndarray, stratum: dict[int, Any],
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """*known_m* / *known_n* subsampled (seeded) so every stratum has the known set's overall member :
    non-member ratio R (the side in excess of R is cut to it, rounded); both sorted."""
    ratio = len(known_m) / max(len(known_n), 1)
    sm = np.array([stratum[int(i)] for i in known_m])
    sn = np.array([stratum[int(i)] for i in known_n])
    keep_m, keep_n = [], []
    for key in np.unique(np.concatenate([sm, sn])):
        m, n = known_m[sm == key], known_n[sn == key]
        if len(m) > ratio * len(n):
            m = rng.permutation(m)[: int(round(ratio * len(n)))]
        else:
            n = rng.permutation(n)[: int(round(len(m) / ratio))] if ratio > 0 else n[:0]
        keep_m.append(m)
        keep_n.append(n)
    return np.sort(np.concatenate(keep_m)), np.sort(np.concatenate(keep_n))


def audit_plans(cls: Any, member_folds: list[np.ndarray], non_member_folds: list[np.ndarray],
                stratum: dict[int, Any] | None = None, seed: int = 0) -> list[FoldPlan]:
    """The fold plans of a leak audit: cross-fitted (each fold's known sets balanced per *stratum*, see
    :func:`balance_strata`), or one plan scoring everything."""
    everything = np.concatenate(member_folds + non_member_folds)
    if not uses_known_labels(cls):
        empty = everything[:0]
        return [FoldPlan(empty, empty, everything)]
    plans = []
    rng = np.random.default_rng([seed, 25])
    for f in range(len(member_folds)):
        known_m = np.concatenate([p for j, p in enumerate(member_folds) if j != f])
        known_n = np.concatenate([p for j, p in enumerate(non_member_folds) if j != f])
        if stratum is not None:
            known_m, known_n = balance_strata(known_m, known_n, stratum, rng)
        plans.append(FoldPlan(known_m, known_n, np.concatenate([member_folds[f], non_member_folds[f]])))
    return plans


def fit_folds(cls: Any, context: AttackContext, X: np.ndarray, y: np.ndarray, plans: list[FoldPlan],
              progress: Any = None, task: Any = None) -> list[FittedFold]:
    """Fit one attack per plan. A cross-fitted plan gets its own ``cache`` (reference models trained
    for other targets must not be reused); a single plan shares the audit's cache."""
    fitted = []
    for plan in plans:
        ctx = dataclasses.replace(
            context, X_members=X[plan.known_members], y_members=y[plan.known_members],
            X_non_members=X[plan.known_non_members], y_non_members=y[plan.known_non_members],
            X_targets=X[plan.targets], y_targets=y[plan.targets],
            cache=context.cache if len(plans) == 1 else {})
        attack = cls()
        attack.fit(ctx)
        fitted.append(FittedFold(attack, ctx, plan.targets))
        if progress is not None and task is not None:
            progress.advance(task)
    return fitted


def score(fitted: list[FittedFold], name: str, X: np.ndarray, y: np.ndarray, ids: np.ndarray,
          model: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Out-of-fold scores of the dataset indices *ids* (each scored by the fold that holds it) and
    the attack's own decisions (score >= that fold's ``decision_threshold``), or None without one.

    *model* (default: the audit's target) lets the same fitted attacks score another model's outputs.
    """
    position = {int(i): p for p, i in enumerate(ids)}
    scores = np.full(len(ids), np.nan)
    called: np.ndarray | None = np.zeros(len(ids), bool)
    for fold in fitted:
        ctx = fold.context if model is None else dataclasses.replace(
            fold.context, model=model, cache={},
            query=TargetQueries(model, fold.context.backend, fold.context.shots, fold.context.seed))
        where = np.array([position[int(i)] for i in fold.targets if int(i) in position], dtype=np.int64)
        if where.size == 0:
            continue
        rows = ids[where]
        s = np.asarray(fold.attack.score(ctx, X[rows], y[rows]), dtype=np.float64)
        if s.shape != (len(rows),) or not np.all(np.isfinite(s)):
            raise QauditError(f"attack {name} returned invalid scores (need {len(rows)} finite values)")
        scores[where] = s
        threshold = getattr(fold.attack, "decision_threshold", None)  # optional Attack member
        if threshold is None or called is None:
            called = None
        else:
            called[where] = s >= float(threshold)
    if np.isnan(scores).any():
        raise QauditError(f"attack {name}: some samples belong to no fold (internal error)")
    return scores, called
