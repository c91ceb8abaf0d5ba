"""Cross-fitting folds: stratified by class (x membership), known sets balanced per stratum (issue 25 item 2)."""

from __future__ import annotations

import numpy as np

from qaudit.leak.crossfit import FoldPlan, audit_plans, balance_strata, split_folds


class _CrossFitted:
    uses_known_labels = True


def test_stratified_folds_spread_every_stratum_evenly():
    rng = np.random.default_rng(0)
    idx = np.arange(1000, 1000 + 437)
    strata = rng.integers(0, 10, size=len(idx))
    folds = split_folds(idx, 5, np.random.default_rng(1), strata)
    assert np.array_equal(np.sort(np.concatenate(folds)), idx)  # every sample in exactly one fold
    assert max(map(len, folds)) - min(map(len, folds)) <= 1
    where = {int(i): s for i, s in zip(idx, strata)}
    for key in range(10):
        counts = [sum(where[int(i)] == key for i in fold) for fold in folds]
        assert max(counts) - min(counts) <= 1, (key, counts)


def test_known_sets_have_one_member_ratio_in_every_stratum():
    rng = np.random.default_rng(2)
    members, non_members = np.arange(0, 300), np.arange(300, 500)
    stratum = {int(i): int(rng.integers(0, 10)) for i in range(500)}
    m, n = balance_strata(members, non_members, stratum, np.random.default_rng(3))
    assert set(m) <= set(members) and set(n) <= set(non_members)
    ratio = len(members) / len(non_members)
    for key in range(10):
        km = sum(stratum[int(i)] == key for i in m)
        kn = sum(stratum[int(i)] == key for i in n)
        assert abs(km - ratio * kn) <= ratio + 1, (key, km, kn)  # rounding only
    assert len(m) + len(n) > 0.8 * 500  # only the excess is cut


def test_cross_fitted_plans_never_know_the_scored_fold():
    rng = np.random.default_rng(4)
    members, non_members = np.arange(0, 120), np.arange(120, 200)
    stratum = {i: int(rng.integers(0, 4)) for i in range(200)}
    keys = np.array([stratum[i] for i in range(200)])
    mf = split_folds(members, 5, rng, keys[members])
    nf = split_folds(non_members, 5, rng, keys[non_members])
    plans: list[FoldPlan] = audit_plans(_CrossFitted, mf, nf, stratum, seed=0)
    assert np.array_equal(np.sort(np.concatenate([p.targets for p in plans])), np.arange(200))
    for p in plans:
        assert not set(p.targets) & (set(p.known_members) | set(p.known_non_members))
        assert set(p.known_members) <= set(members) and set(p.known_non_members) <= set(non_members)
