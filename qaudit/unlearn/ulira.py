"""U-LiRA: per-example unlearning audits against retraining (Hayes et al., SaTML 2025, arXiv 2403.01218).

Question per audited forget example x: given a model, can one tell whether x was *unlearned* by the
method under test or the model was *retrained* without x? Shadow pairs answer it:

* pair k trains an "original" model O_k on the target's members (x included), draws a forget set
  F_k (half of the audit set), unlearns it with the method under test (only through
  :func:`qaudit.unlearn.run_method`, so every method works alike) -> U_k, and retrains a model
  R_k on the members without F_k with an independent seed;
* pairs come in complementary blocks (pair 2j forgets a random half H_j, pair 2j+1 the other
  half), so with K pairs every audited example has exactly K/2 "unlearned" and K/2 "retrained"
  observations of its logit-scaled confidence phi = log(p_y / (1 - p_y)) (Carlini et al. 2022);
* per example, Gaussians N(mu_U, s^2) and N(mu_R, s^2) fitted to phi of the *other* blocks score
  the observations of each held-out block: log N(phi; U) - log N(phi; R) (leave-one-block-out
  cross-fitting, so no observation is scored by Gaussians fitted on it). The variance is pooled
  over examples with fewer than 64 pairs, as Carlini et al. advise for few models.

Reported: the U-MIA AUC over all held-out (example, model) observations with a block bootstrap
interval, TPR at low FPR (:func:`qaudit.leak.metrics.held_out_operating_points`), per-example AUCs with
one-sided Mann-Whitney tests Holm-adjusted over the examples ("which records stay identifiable"),
and the verdict from a permutation test that swaps unlearned and retrained models within pairs and
re-runs the cross-fitted scoring. Conventions: ``docs/statistics.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.sdk.errors import QauditError
from qaudit.sdk.limits import MAX_SHADOW_PAIRS

#: Smallest number of shadow pairs: leave-one-block-out leaves K/2 - 1 >= 3 observations per side for
#: the Gaussians, and the block bootstrap has at least 4 blocks to resample (with 3 its re-fitted
#: replicates all collapse to one value: a zero-width interval).
MIN_PAIRS = 8
#: Largest number of shadow pairs (each trains two models): :data:`qaudit.sdk.limits.MAX_SHADOW_PAIRS`.
MAX_PAIRS = MAX_SHADOW_PAIRS
DEFAULT_PAIRS = 32
#: Pairs at or above which per-example variances are used instead of the pooled one.
PER_EXAMPLE_VARIANCE_PAIRS = 64
VAR_FLOOR = 1e-4
#: Permutations of the verdict's test and replicates of the AUC interval (each re-fits every block).
DEFAULT_PERMUTATIONS = 1000
DEFAULT_BOOTSTRAP = 1000
DEFAULT_ALPHA = 0.05
#: Gateable metrics an unlearn report with ``--audit ulira`` adds (higher = worse).
METRICS = ("ulira_auc", "ulira_auc_low", "ulira_tpr@1%fpr", "ulira_identifiable_fraction")
#: Values of ``qaudit unlearn --audit``.
AUDITS = ("ulira",)
TEST_NAME = ("one-sided permutation test of the cross-fitted AUC, swapping unlearned/retrained within pairs "
             "(H0: unlearned = retrained)")
EXAMPLE_TEST = "two-sided Mann-Whitney U of phi per example, Holm-Bonferroni over the audited examples"


@dataclass
class PairPlan:
    """One shadow pair: which audit positions it forgets and its three seeds."""

    index: int
    forget: np.ndarray
    train_seed: int
    retrain_seed: int
    unlearn_seed: int


def check_request(n_audit: int, n_members: int, pairs: int) -> None:
    """One-line errors before any training: K must allow a Gaussian fit, the audit set must leave
    every shadow retrain at least half of the members."""
    from qaudit.sdk.limits import check_option

    check_option("-K/--shadow-pairs", pairs, "int", MIN_PAIRS, MAX_PAIRS)
    if pairs % 2:
        raise QauditError(f"-K/--shadow-pairs must be even (pairs come in complementary halves), got {pairs}")
    if n_audit < 2:
        raise QauditError(f"U-LiRA needs at least 2 audited forget examples, got {n_audit}")
    if n_audit > n_members // 2:
        raise QauditError(f"U-LiRA: the forget set ({n_audit} examples) is larger than half of the model's "
                          f"{n_members} training members; shadow pairs could not retrain on a comparable set "
                          "(audit fewer examples with --forget-indices)")


def check_audit(audit: str, mf: Any, fs: Any, pairs: int) -> None:
    """Validate ``--audit`` and ``-K`` against the model and forget set before any work."""
    if audit not in AUDITS:
        raise QauditError(f"--audit: unknown audit {audit!r} (choose from {', '.join(AUDITS)})")
    if mf.data is None:
        raise QauditError("the model file has no data record, so its training members are unknown")
    check_request(len(fs.forget_ids), len(mf.data.members), pairs)


def plan_pairs(n_audit: int, pairs: int, seed: int) -> list[PairPlan]:
    """K shadow pairs in complementary blocks, seeded through ``numpy.random.SeedSequence``."""
    plans = []
    for j, child in enumerate(np.random.SeedSequence([int(seed), 0x554C4952]).spawn(pairs // 2)):
        rng = np.random.default_rng(child)
        perm = rng.permutation(n_audit)
        halves = (np.sort(perm[: n_audit // 2]), np.sort(perm[n_audit // 2:]))
        seeds = rng.integers(0, 2**31 - 1, size=6)
        for h in range(2):
            plans.append(PairPlan(2 * j + h, halves[h], *(int(s) for s in seeds[3 * h: 3 * h + 3])))
    return plans


def run_pair(methods: dict[str, dict[str, Any]], cls: Any, params: dict[str, Any], n_classes: int,
             dataset: Any, members: np.ndarray, audit: np.ndarray, plan: PairPlan) -> dict[str, Any]:
    """Train O_k, unlearn F_k from it with every method in *methods* (name -> options), retrain R_k
    without F_k; phi on the audit set of each U_k (``unlearned[method]``), of R_k (``retrained``), and
    the seconds each step took. O_k and R_k do not depend on the method, so several methods share them."""
    import time

    from qaudit.run.query import predict_proba
    from qaudit.sdk.host import get_host
    from qaudit.unlearn import ForgetSet, build_request, run_method

    forget = audit[plan.forget]
    retain = np.setdiff1d(members, forget)
    X, y = dataset.X, dataset.y
    Xa, ya = X[audit], y[audit]
    start = time.perf_counter()
    original = cls.from_options({**params, "seed": plan.train_seed}).fit(
        X[members], y[members], n_classes=n_classes, sample_ids=members)
    seconds = {"original": time.perf_counter() - start}
    unlearned = {}
    for method, options in methods.items():
        start = time.perf_counter()
        request = build_request(get_host().get("unlearning", method), dataset, ForgetSet(forget, retain),
                                plan.unlearn_seed, options, n_classes)
        unlearned[method] = phi(predict_proba(run_method(method, original, request).model, Xa), ya)
        seconds[method] = time.perf_counter() - start
    start = time.perf_counter()
    retrained = cls.from_options({**params, "seed": plan.retrain_seed}).fit(
        X[retain], y[retain], n_classes=n_classes, sample_ids=retain)
    seconds["retrained"] = time.perf_counter() - start
    return {"unlearned": unlearned, "retrained": phi(predict_proba(retrained, Xa), ya), "seconds": seconds}


def phi(probs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Logit-scaled true-class confidence log(p_y / (1 - p_y)), clipped at 1e-12."""
    p = np.clip(probs[np.arange(len(y)), np.asarray(y, dtype=np.int64)], 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


@dataclass
class Observations:
    """phi of every pair's unlearned and retrained model on the audit set; NaN where the example
    was not in that pair's forget set."""

    unlearned: np.ndarray  # (K, n)
    retrained: np.ndarray  # (K, n)

    @classmethod
    def collect(cls, plans: list[PairPlan], results: list[dict[str, Any]], n: int, method: str) -> Observations:
        """*method*'s observations from the pair results of :func:`run_pair`."""
        U = np.full((len(plans), n), np.nan)
        R = np.full((len(plans), n), np.nan)
        for plan, result in zip(plans, results):
            U[plan.index, plan.forget] = result["unlearned"][method][plan.forget]
            R[plan.index, plan.forget] = result["retrained"][plan.forget]
        return cls(U, R)


def _leave_group_out(values: np.ndarray, onehot: np.ndarray, pooled: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per group g (rows of *onehot*, (m, K)): per-column mean and variance of *values* (K, n) over the
    finite entries of the rows *outside* g; the variance is averaged over columns when *pooled*."""
    finite = np.isfinite(values)
    v = np.where(finite, values, 0.0)
    count = finite.sum(axis=0) - onehot @ finite
    total = v.sum(axis=0) - onehot @ v
    square = (v**2).sum(axis=0) - onehot @ v**2
    with np.errstate(invalid="ignore", divide="ignore"):
        mu = total / count
        var = (square - count * mu**2) / (count - 1)
        if pooled:  # a group with no usable column keeps NaN, and then the unit variance below
            ok = np.isfinite(var)
            var = np.repeat((np.where(ok, var, 0).sum(axis=1) / ok.sum(axis=1))[:, None], var.shape[1], axis=1)
    return mu, np.maximum(np.nan_to_num(var, nan=1.0, posinf=1.0), VAR_FLOOR)


def _loglr(x: np.ndarray, mu_u: np.ndarray, var_u: np.ndarray, mu_r: np.ndarray, var_r: np.ndarray) -> np.ndarray:
    return 0.5 * (np.log(var_r / var_u) + (x - mu_r) ** 2 / var_r - (x - mu_u) ** 2 / var_u)


def cross_fitted_scores(obs: Observations, groups: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Held-out scores (K, n) of the unlearned and the retrained observations: the Gaussians for the
    rows of one group (a block of pairs (2j, 2j+1); default ``k // 2``) are fitted on every other group."""
    K = obs.unlearned.shape[0]
    groups = np.arange(K) // 2 if groups is None else np.asarray(groups)
    labels, row_group = np.unique(groups, return_inverse=True)
    onehot = (np.arange(labels.size)[:, None] == row_group[None, :]).astype(np.float64)
    pooled = labels.size * 2 < PER_EXAMPLE_VARIANCE_PAIRS
    mu_u, var_u = _leave_group_out(obs.unlearned, onehot, pooled)
    mu_r, var_r = _leave_group_out(obs.retrained, onehot, pooled)
    g = row_group
    return (_loglr(obs.unlearned, mu_u[g], var_u[g], mu_r[g], var_r[g]),
            _loglr(obs.retrained, mu_u[g], var_u[g], mu_r[g], var_r[g]))


def pooled_auc(su: np.ndarray, sr: np.ndarray) -> float:
    """AUC of the finite unlearned scores (positives) against the finite retrained ones (Mann-Whitney
    rank sum, ties averaged: equal to ``sklearn.metrics.roc_auc_score``)."""
    from scipy.stats import rankdata

    u, r = su[np.isfinite(su)], sr[np.isfinite(sr)]
    ranks = rankdata(np.r_[u, r])
    return float((ranks[: u.size].sum() - u.size * (u.size + 1) / 2) / (u.size * r.size))


def permutation_p(obs: Observations, observed: float, seed: int, n_perm: int = DEFAULT_PERMUTATIONS) -> float:
    """One-sided p-value of H0 "each pair's unlearned and retrained models are exchangeable" (what
    "indistinguishable from retraining" means): every permutation swaps the two models of a random
    subset of pairs and *re-runs the whole cross-fitted scoring*, so the dependence the shared fits
    create is in the null distribution too; p = (1 + #{AUC* >= AUC}) / (1 + n_perm)."""
    rng = np.random.default_rng([int(seed), 0x5F11])
    U, R = obs.unlearned, obs.retrained
    hits = 0
    for _ in range(n_perm):
        swap = (rng.random(U.shape[0]) < 0.5)[:, None]
        su, sr = cross_fitted_scores(Observations(np.where(swap, R, U), np.where(swap, U, R)))
        hits += pooled_auc(su, sr) >= observed - 1e-12
    return float((1 + hits) / (1 + n_perm))


def bootstrap_auc(obs: Observations, seed: int, n_boot: int = DEFAULT_BOOTSTRAP,
                  level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the cross-fitted AUC, resampling blocks of pairs (the independent units)
    and *re-fitting* in every replicate (copies of a block are held out together; replicates with fewer
    than three distinct blocks leave nothing to fit on and are skipped)."""
    K = obs.unlearned.shape[0]
    blocks = np.arange(K).reshape(-1, 2)
    rng = np.random.default_rng([int(seed), 0xB007])
    values = []
    for _ in range(n_boot):
        pick = rng.integers(0, len(blocks), len(blocks))
        if np.unique(pick).size < 3:  # leave-one-block-out needs two other blocks: AUC undefined, skipped
            continue
        rows = blocks[pick].ravel()
        su, sr = cross_fitted_scores(Observations(obs.unlearned[rows], obs.retrained[rows]), np.repeat(pick, 2))
        values.append(pooled_auc(su, sr))
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(lo), float(hi)


def per_example_tests(obs: Observations) -> tuple[np.ndarray, np.ndarray]:
    """Per example: AUC of its unlearned phi against its retrained phi (0.5 = alike; near 0 or 1 =
    identifiable) and the two-sided Mann-Whitney p-value (its K/2 + K/2 models are independent)."""
    from scipy.stats import mannwhitneyu

    from qaudit.leak import metrics

    n = obs.unlearned.shape[1]
    aucs, ps = np.full(n, 0.5), np.ones(n)
    for i in range(n):
        a = obs.unlearned[:, i][np.isfinite(obs.unlearned[:, i])]
        b = obs.retrained[:, i][np.isfinite(obs.retrained[:, i])]
        if np.ptp(np.r_[a, b]) == 0:
            continue
        aucs[i] = metrics.auc(np.r_[a, b], np.r_[np.ones(a.size, bool), np.zeros(b.size, bool)])
        ps[i] = float(mannwhitneyu(a, b, alternative="two-sided").pvalue)
    return aucs, ps


@dataclass
class ULiRAResult:
    """Everything the report shows; ``to_json`` is the ``ulira`` block of the unlearn report."""

    method: str
    pairs: int
    seed: int
    audit_ids: np.ndarray
    audit_labels: np.ndarray
    summary: dict[str, Any]
    per_example_auc: np.ndarray
    per_example_p: np.ndarray
    per_example_p_adjusted: np.ndarray
    identifiable: np.ndarray
    p_value: float
    alpha: float
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def distinguishable(self) -> bool:
        """The verdict: H0 "unlearned is indistinguishable from retrained" rejected at level alpha."""
        return self.p_value <= self.alpha

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        return {"method": self.method, "shadow_pairs": self.pairs, "seed": self.seed, "seconds": self.seconds,
                "audited_examples": int(self.audit_ids.size),
                "auc": s["auc"], "auc_low": s["auc_low"], "auc_high": s["auc_high"],
                "auc_interval": "bootstrap over blocks of pairs, re-fitted per replicate (95 %)",
                "operating_points": s["operating_points"],
                **{k: s[k] for k in s if k.startswith("tpr@")},
                "verdict": {"distinguishable": self.distinguishable, "test": TEST_NAME, "alpha": self.alpha,
                            "p_value": self.p_value},
                "per_example": {"test": EXAMPLE_TEST, "alpha": self.alpha,
                                "identifiable": int(self.identifiable.sum()),
                                "rows": [{"index": int(i), "label": int(c), "auc": float(a), "p_value": float(p),
                                          "p_adjusted": float(q), "identifiable": bool(b)}
                                         for i, c, a, p, q, b in zip(self.audit_ids, self.audit_labels,
                                                                     self.per_example_auc, self.per_example_p,
                                                                     self.per_example_p_adjusted, self.identifiable)]},
                **self.details}

    def measurements(self) -> dict[str, float]:
        """Gateable numbers (``--fail-above ulira_auc=0.6``); higher = worse for all."""
        return {"ulira_auc": float(self.summary["auc"]), "ulira_auc_low": float(self.summary["auc_low"]),
                "ulira_tpr@1%fpr": float(self.summary["tpr@1%fpr"]),
                "ulira_identifiable_fraction": float(self.identifiable.mean())}


def analyse(obs: Observations, method: str, seed: int, audit_ids: np.ndarray, audit_labels: np.ndarray,
            alpha: float = DEFAULT_ALPHA, seconds: float = 0.0, n_perm: int = DEFAULT_PERMUTATIONS,
            n_boot: int = DEFAULT_BOOTSTRAP) -> ULiRAResult:
    """Scores, metrics, per-example tests and the verdict from the shadow observations."""
    from qaudit.leak import metrics

    su, sr = cross_fitted_scores(obs)
    u, r = su[np.isfinite(su)], sr[np.isfinite(sr)]
    summary = metrics.summarise(np.r_[u, r], np.r_[np.ones(u.size, bool), np.zeros(r.size, bool)], seed=seed,
                                n_bootstrap=200)
    summary["auc_low"], summary["auc_high"] = bootstrap_auc(obs, seed, n_boot)
    per_auc, per_p = per_example_tests(obs)
    holm = metrics.holm({i: float(p) for i, p in enumerate(per_p)}, alpha)
    adjusted = np.array([holm[i][0] for i in range(per_p.size)])
    identifiable = np.array([holm[i][1] for i in range(per_p.size)], dtype=bool)
    p_value = permutation_p(obs, summary["auc"], seed, n_perm)
    return ULiRAResult(method, su.shape[0], seed, np.asarray(audit_ids), np.asarray(audit_labels), summary, per_auc,
                       per_p, adjusted, identifiable, p_value, alpha, seconds,
                       {"variance": "pooled" if su.shape[0] < PER_EXAMPLE_VARIANCE_PAIRS else "per example",
                        "statistic": "logit-scaled true-class confidence, exact outputs",
                        "permutations": n_perm, "bootstrap": n_boot})


def audit(mf: Any, dataset: Any, forget_ids: np.ndarray, method: str, options: dict[str, Any],
          pairs: int = DEFAULT_PAIRS, seed: int = 0, n_jobs: int = 1, progress: Any = None,
          alpha: float = DEFAULT_ALPHA, executor: Any = None) -> ULiRAResult:
    """Run U-LiRA for *method* on the forget examples *forget_ids* of model file *mf* (shadow pairs are jobs
    on *executor*; None: *n_jobs* local workers)."""
    return audit_methods(mf, dataset, forget_ids, {method: options}, pairs, seed, n_jobs, progress, alpha,
                         executor)[method]


def audit_methods(mf: Any, dataset: Any, forget_ids: np.ndarray, methods: dict[str, dict[str, Any]],
                  pairs: int = DEFAULT_PAIRS, seed: int = 0, n_jobs: int = 1, progress: Any = None,
                  alpha: float = DEFAULT_ALPHA, executor: Any = None) -> dict[str, ULiRAResult]:
    """U-LiRA for several methods (name -> options) on the same shadow pairs: the original and
    retrained shadow models are trained once and each method unlearns the same originals."""
    import time

    from qaudit.run.workers import run_jobs
    from qaudit.sdk.progress import SILENT

    if mf.data is None:
        raise QauditError("the model file has no data record, so its training members are unknown")
    members = np.asarray(mf.data.members)
    audit_ids = np.sort(np.asarray(forget_ids))
    check_request(audit_ids.size, members.size, pairs)
    progress = progress or SILENT
    plans = plan_pairs(audit_ids.size, pairs, seed)
    cls, params = type(mf.model), mf.model.get_params()
    n_classes = mf.model.n_classes or dataset.n_classes
    jobs = [(dict(methods), cls, params, n_classes, dataset, members, audit_ids, plan) for plan in plans]
    start = time.perf_counter()
    names = ", ".join(methods)
    with progress.track(f"U-LiRA: {pairs} shadow pairs (train, {names}, retrain)", pairs) as task:
        results = run_jobs(run_pair, jobs, n_jobs, on_done=lambda: progress.advance(task), executor=executor)
    wall = time.perf_counter() - start
    spent = {k: float(sum(r["seconds"].get(k, 0.0) for r in results)) for k in ("original", "retrained", *methods)}
    out = {}
    for method in methods:
        obs = Observations.collect(plans, results, audit_ids.size, method)
        res = analyse(obs, method, seed, audit_ids, dataset.y[audit_ids], alpha, wall)
        res.details["pair_seconds"] = {"original": spent["original"], "retrained": spent["retrained"],
                                       "method": spent[method]}
        out[method] = res
    return out


def attach(report: Any, result: ULiRAResult) -> None:
    """Add the U-LiRA tables, the per-example histogram and measurements to an unlearn report."""
    from qaudit.leak.metrics import FPR_POINTS, fpr_key, low_fpr_text
    from qaudit.report.results import Plot, Series, Table

    j = result.to_json()
    s = result.summary
    head = Table(f"U-LiRA per-example unlearning audit ({result.pairs} shadow pairs, {result.method} vs retraining)",
                 ["measure", "value"], [
                     ["U-MIA AUC (95 % block-bootstrap CI, re-fitted)",
                      f"{s['auc']:.3f} [{s['auc_low']:.3f}, {s['auc_high']:.3f}]"],
                     *[[f"TPR at {100 * p:g} % FPR", low_fpr_text(s["operating_points"][fpr_key(p)])]
                       for p in FPR_POINTS],
                     ["verdict", "distinguishable from retraining" if result.distinguishable
                      else "indistinguishable from retraining"],
                     ["verdict test, p-value", f"{TEST_NAME}; p = {result.p_value:.4g}, alpha = {result.alpha:g}"],
                     ["identifiable examples (Holm over examples)",
                      f"{int(result.identifiable.sum())} of {result.audit_ids.size}"],
                     ["observations (unlearned / retrained)", f"{s['n_members']} / {s['n_non_members']}"],
                     ["seconds", round(result.seconds, 1)]])
    head.note = ("positives = (example, unlearned shadow model), negatives = (example, retrained shadow model); "
                 "per-example Gaussians fitted with the block of pairs held out; AUC 0.5 = unlearning looks like "
                 "retraining (Hayes et al. 2025)")
    # smallest adjusted p first; among equal p, the AUC furthest from 0.5 (remembered or over-forgotten)
    order = np.lexsort((-np.abs(result.per_example_auc - 0.5), result.per_example_p_adjusted))
    worst = Table("most identifiable audited examples", ["dataset index", "class", "per-example AUC",
                                                          "p (Holm)", "identifiable"])
    for i in order[:10]:
        worst.rows.append([int(result.audit_ids[i]), int(result.audit_labels[i]), float(result.per_example_auc[i]),
                           float(result.per_example_p_adjusted[i]), bool(result.identifiable[i])])
    edges = np.linspace(0.0, 1.0, 11)
    counts = np.histogram(result.per_example_auc, bins=edges)[0]
    hist = Table("per-example AUC distribution", ["per-example AUC", "audited examples"],
                 [[f"{a:.1f}-{b:.1f}", int(c)] for a, b, c in zip(edges[:-1], edges[1:], counts)])
    report.tables += [head, worst, hist]
    report.plots.append(Plot("U-LiRA: per-example AUC (unlearned vs retrained)",
                             "per-example AUC (bins of 0.1, lower edge)", "audited examples",
                             [f"{a:.1f}" for a in edges[:-1]],
                             [Series(result.method, [int(c) for c in counts])],
                             note="0.5 = this record looks retrained; near 1 = its unlearned models still stand out",
                             style="bars"))
    report.measurements.setdefault(result.method, {}).update(result.measurements())
    report.summary["ulira_auc"] = f"{s['auc']:.3f} [{s['auc_low']:.3f}, {s['auc_high']:.3f}]"
    report.summary["ulira"] = "distinguishable" if result.distinguishable else "indistinguishable"
    report.payload["ulira"] = j  # the verdict's U-LiRA sentence: conclusion(), added after gating



def conclusion(result: ULiRAResult, judgement: Any = None) -> str:
    """The U-LiRA sentence of an unlearn report's verdict; with the population *judgement*, whether they agree."""
    s = result.summary
    text = (f". U-LiRA ({result.pairs} pairs, per-example evidence): {result.method} is "
            f"{'distinguishable' if result.distinguishable else 'indistinguishable'} from retraining "
            f"(AUC {s['auc']:.3f} [{s['auc_low']:.3f}, {s['auc_high']:.3f}], permutation p = "
            f"{result.p_value:.3g}, alpha {result.alpha:g}); {int(result.identifiable.sum())} of "
            f"{result.audit_ids.size} records identifiable")
    if judgement is not None:
        agree = judgement.met != result.distinguishable
        text += ("; agrees with the population judgement" if agree else
                 "; disagrees with the population judgement (the per-example test is the stronger one)")
    return text
