"""``qaudit audit-dp``: one-run privacy audit of a training run (Steinke, Nasr & Jagielski 2023).

1. m canaries (:mod:`qaudit.dp.canaries`) are set aside from the data, each included in training
   with probability 1/2 (recorded seed); the rest of the data is split into members and holdout.
2. The model is trained **once** on members + included canaries -- with DP-SGD when a ``--dp`` spec
   is given (:mod:`qaudit.dp.sgd`), else with the model's own ``fit``.
3. Every requested attack (registered by a plugin; default: the attacks declaring the ``fast``
   role) is fitted on the target with the attacker's known members/holdout -- never a canary -- and
   scores the m canaries.
4. For each attack and each k of the guess grid the auditor guesses "in" for the k highest and
   "out" for the k lowest scores; the correct guesses v of r = 2k turn into an epsilon lower bound
   (:mod:`qaudit.dp.one_run`). The grid is fixed before the scores are seen and every (attack, k)
   bound is taken at level (1 - confidence) / (number of bounds) -- Bonferroni -- so the reported
   maximum holds at the stated confidence.
5. With ``unlearn``: the included canaries form the forget set; the unlearned model is scored by the
   same fitted attacks, and the audited epsilon of forgotten against never-seen canaries says how
   much membership signal remains.

A DP-trained model whose audited epsilon exceeds its claimed epsilon is a finding: a bug in the
training or the accountant (or a 1 - confidence chance).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.dp import one_run
from qaudit.dp.canaries import Canaries, make_canaries
from qaudit.dp.spec import DPSpec
from qaudit.files.data import Dataset, split
from qaudit.report.results import Finding, Report, Table
from qaudit.sdk.errors import QauditError
from qaudit.sdk.host import get_host
from qaudit.sdk.progress import SILENT, Progress
from qaudit.sdk.protocols import AttackContext, UnlearningRequest

SCHEMA = "qaudit.leak.audit-dp/1"


@dataclass
class DPAuditSettings:
    """Everything ``qaudit audit-dp`` was asked for (recorded in the report's settings)."""

    model: str
    canaries: int = 200
    canary_kind: str = "mislabel"
    dp: DPSpec | None = None
    attacks: list[str] = field(default_factory=list)
    guesses: list[int] | None = None
    confidence: float = 0.95
    delta: float = 1e-5
    seed: int = 0
    n_train: int | None = None
    n_holdout: int | None = None
    options: dict[str, Any] = field(default_factory=dict)
    unlearn: str | None = None
    unlearn_options: dict[str, Any] = field(default_factory=dict)
    #: Measurement shots of the attacker's queries (None: exact expectation values).
    shots: int | None = None

    def validate(self, n_samples: int) -> None:
        """One-line errors for bad settings, before any training."""
        from qaudit.dp.canaries import check_count
        from qaudit.sdk.limits import check_option, check_seed

        check_seed(self.seed)
        check_count(self.canaries, n_samples, self.n_train, self.n_holdout)
        check_option("--confidence", self.confidence, "float", 0.5, 1.0, low_open=True)
        if self.confidence >= 1.0:
            raise QauditError(f"--confidence must lie in (0.5, 1), got {self.confidence}")
        check_option("--delta", self.delta, "float", 0.0, 1.0)
        if self.delta >= 1.0:
            raise QauditError(f"--delta must lie in [0, 1), got {self.delta}")
        for k in self.guesses or []:
            check_option("--guesses", k, "int", 1, self.canaries // 2,
                         hint=f"k guesses on each side need 2k <= {self.canaries} canaries")


def guess_grid(m: int, guesses: list[int] | None) -> list[int]:
    """The k values (guesses per side) the audit tries: the user's, or a fixed grid m/20 .. m/4."""
    if guesses:
        return sorted(set(guesses))
    return sorted({max(1, m // d) for d in (20, 10, 5, 4)})


@dataclass
class Bound:
    """One (attack, k) row of the audit."""

    attack: str
    model: str
    k: int
    correct: int
    epsilon: float
    auc: float


def _attack_name_list(attacks: list[str]) -> list[str]:
    host = get_host()
    names = list(attacks) or host.with_role("attack", "fast")
    for name in names:
        host.get("attack", name)
    if not names:
        raise QauditError("no attack to score the canaries with: pass --attack NAME (see `qaudit attacks`)")
    return names


def _split_rest(dataset: Dataset, canaries: Canaries, settings: DPAuditSettings) -> tuple[np.ndarray, np.ndarray]:
    """Members and holdout from the samples that are not canaries (dataset indices)."""
    rest = np.setdiff1d(np.arange(len(dataset)), canaries.ids)
    members, holdout = split(dataset.y[rest], settings.n_train, settings.n_holdout, settings.seed)
    return rest[members], rest[holdout]


def _train(settings: DPAuditSettings, dataset: Dataset, members: np.ndarray, canaries: Canaries,
           progress: Progress) -> tuple[Any, dict[str, Any] | None, float]:
    """The one training run: members + included canaries; (model, DP record or None, seconds)."""
    host = get_host()
    cls = host.get("model", settings.model)
    if settings.dp is not None:
        from qaudit.dp.sgd import require_dp

        require_dp(cls, settings.model)
    X = np.concatenate([dataset.X[members], canaries.X[canaries.included]])
    y = np.concatenate([dataset.y[members], canaries.y[canaries.included]])
    ids = np.concatenate([members, canaries.ids[canaries.included]])
    model = cls.from_options({**settings.options, "seed": settings.seed})
    if hasattr(model, "data_kind"):  # optional Model member
        model.data_kind = dataset.kind
    start = time.perf_counter()
    record = None
    if settings.dp is not None:
        from qaudit.dp.sgd import private_fit

        record = private_fit(model, X, y, n_classes=dataset.n_classes, spec=settings.dp, seed=settings.seed,
                             progress=progress).to_json()
    else:
        model.fit(X, y, n_classes=dataset.n_classes, sample_ids=ids, progress=progress)
    return model, record, time.perf_counter() - start


def _fit_attacks(names: list[str], model: Any, dataset: Dataset, members: np.ndarray, holdout: np.ndarray,
                 canaries: Canaries, n_train: int, settings: DPAuditSettings,
                 progress: Progress) -> dict[str, tuple[Any, Any]]:
    """Each attack fitted once on the target (queried with ``settings.shots``): known members/holdout only
    when it reads them."""
    from qaudit.leak.crossfit import uses_known_labels
    from qaudit.run.backend_choice import resolve_backend
    from qaudit.run.query import TargetQueries

    backend, shots = resolve_backend(None, settings.shots, model)
    seed = settings.seed
    X, y = dataset.X, dataset.y
    fitted = {}
    for name in names:
        cls = get_host().get("attack", name)
        known = uses_known_labels(cls)
        m_idx, h_idx = (members, holdout) if known else (members[:0], holdout[:0])
        context = AttackContext(
            model=model, backend=backend, shots=shots, seed=seed, X_members=X[m_idx], y_members=y[m_idx],
            X_non_members=X[h_idx], y_non_members=y[h_idx], population_X=X[holdout], population_y=y[holdout],
            progress=progress, X_targets=canaries.X, y_targets=canaries.y, n_train=n_train,
            n_classes=model.n_classes or dataset.n_classes, query=TargetQueries(model, backend, shots, seed))
        attack = cls()
        attack.fit(context)
        fitted[name] = (attack, context)
    return fitted


def _scores(fitted: dict[str, tuple[Any, Any]], canaries: Canaries, model: Any = None) -> dict[str, np.ndarray]:
    """Each fitted attack's scores of the canaries on its target, or on *model* (same backend and shots)."""
    from qaudit.run.query import TargetQueries

    out = {}
    for name, (attack, context) in fitted.items():
        ctx = context if model is None else dataclasses.replace(
            context, model=model, cache={}, query=TargetQueries(model, context.backend, context.shots, context.seed))
        s = np.asarray(attack.score(ctx, canaries.X, canaries.y), dtype=np.float64)
        if s.shape != (len(canaries.y),) or not np.all(np.isfinite(s)):
            raise QauditError(f"attack {name} returned invalid scores (need {len(canaries.y)} finite values)")
        out[name] = s
    return out


def bounds(scores: dict[str, np.ndarray], included: np.ndarray, grid: list[int], delta: float, p: float,
           label: str) -> list[Bound]:
    """Every (attack, k) bound at level *p* (already Bonferroni-divided by the caller)."""
    from sklearn.metrics import roc_auc_score

    m = len(included)
    rows = []
    for name, s in scores.items():
        auc = float(roc_auc_score(included, s)) if 0 < included.sum() < m else float("nan")
        for k in grid:
            v = one_run.correct_guesses(s, included, k)
            rows.append(Bound(name, label, k, v, one_run.epsilon_lower_bound(m, 2 * k, v, delta, p), auc))
    return rows


def _unlearn(settings: DPAuditSettings, model: Any, dataset: Dataset, members: np.ndarray,
             canaries: Canaries, progress: Progress) -> tuple[Any, dict[str, Any]]:
    """Forget the included canaries with method ``settings.unlearn``; (new model, cost)."""
    from qaudit.unlearn import run_method

    cls = get_host().get("unlearning", settings.unlearn)
    inc = canaries.included
    request = UnlearningRequest(canaries.X[inc], canaries.y[inc], seed=settings.seed,
                                options=dict(settings.unlearn_options), progress=progress,
                                forget_ids=canaries.ids[inc], n_classes=model.n_classes or dataset.n_classes)
    if set(cls.needs) & {"retain", "train"}:
        request.X_retain, request.y_retain = dataset.X[members], dataset.y[members]
        request.retain_ids = members
    instance = cls()
    if callable(getattr(instance, "check", None)):  # optional UnlearningMethod member
        instance.check(model, dict(settings.unlearn_options))
    outcome = run_method(settings.unlearn, model, request)
    return outcome.model, outcome.cost.to_json()


def run_dp_audit(settings: DPAuditSettings, dataset: Dataset, progress: Progress = SILENT) -> Report:
    """The whole one-run audit (module docstring); returns the report with its finding."""
    settings.validate(len(dataset))
    names = _attack_name_list(settings.attacks)
    if settings.unlearn:
        get_host().get("unlearning", settings.unlearn)
    canaries = make_canaries(dataset.X, dataset.y, settings.canaries, settings.canary_kind, settings.seed,
                             dataset.n_classes)
    members, holdout = _split_rest(dataset, canaries, settings)
    model, record, seconds = _train(settings, dataset, members, canaries, progress)
    n_train = len(members) + int(canaries.included.sum())
    fitted = _fit_attacks(names, model, dataset, members, holdout, canaries, n_train, settings, progress)
    grid = guess_grid(settings.canaries, settings.guesses)
    level = (1.0 - settings.confidence) / (len(names) * len(grid))
    delta = record["delta"] if record else settings.delta
    rows = bounds(_scores(fitted, canaries), canaries.included, grid, delta, level, "trained")
    unlearning = None
    if settings.unlearn:
        unlearned, cost = _unlearn(settings, model, dataset, members, canaries, progress)
        after = bounds(_scores(fitted, canaries, unlearned), canaries.included, grid, delta, level, "unlearned")
        unlearning = {"method": settings.unlearn, "cost": cost, "rows": after}
    accuracy = _accuracy(model, dataset, holdout)
    return build_report(settings, canaries, record, rows, unlearning, delta, seconds, accuracy,
                        len(members), len(holdout))


def _accuracy(model: Any, dataset: Dataset, idx: np.ndarray) -> float:
    from qaudit.run.query import predict_proba

    return float(np.mean(np.argmax(predict_proba(model, dataset.X[idx]), axis=1) == dataset.y[idx]))


def _best(rows: list[Bound]) -> Bound:
    return max(rows, key=lambda b: (b.epsilon, b.correct / (2 * b.k)))


def sentence(claimed: float | None, audited: float, confidence: float) -> str:
    """``claimed ε = 8.00, audited ε ≥ 0.41 (95 %)`` -- the headline of every report format."""
    claim = f"{claimed:.2f}" if claimed is not None else "none (not DP-trained)"
    return f"claimed ε = {claim}, audited ε ≥ {audited:.2f} ({confidence * 100:g} %)"


def build_report(settings: DPAuditSettings, canaries: Canaries, record: dict[str, Any] | None, rows: list[Bound],
                 unlearning: dict[str, Any] | None, delta: float, seconds: float, accuracy: float,
                 n_members: int, n_holdout: int) -> Report:
    """The format-neutral report (verdict = the headline sentence; finding when audited > claimed)."""
    best = _best(rows)
    claimed = record["epsilon"] if record else None
    headline = sentence(claimed, best.epsilon, settings.confidence)
    m = settings.canaries
    summary: dict[str, Any] = {
        "claimed_epsilon": claimed, "audited_epsilon": round(best.epsilon, 4), "confidence_level": settings.confidence,
        "delta": f"{delta:g}", "canaries": m, "canaries_included": int(canaries.included.sum()),
        "best_attack": best.attack, "best_k": best.k, "correct_guesses": f"{best.correct}/{2 * best.k}",
        "holdout_accuracy": round(accuracy, 4), "training_seconds": round(seconds, 3)}
    measurements = {"dp": {"audited_epsilon": best.epsilon, "holdout_accuracy": accuracy,
                           **({"claimed_epsilon": claimed} if claimed is not None else {})}}
    all_rows = rows + (unlearning["rows"] if unlearning else [])
    table = Table("One-run audit: guesses on the canaries (Steinke, Nasr & Jagielski 2023)",
                  ["model", "attack", "AUC", "k per side", "guesses r", "correct v", "audited ε ≥"],
                  [[b.model, b.attack, round(b.auc, 4), b.k, 2 * b.k, b.correct, round(b.epsilon, 4)]
                   for b in all_rows],
                  note=f"Each bound at level {(1 - settings.confidence):g} / {len(rows)} (Bonferroni over attacks "
                       f"and k); m = {m} {settings.canary_kind} canaries, each included with probability 1/2 "
                       f"(seed {settings.seed}); δ = {delta:g}.")
    tables = [table]
    if record:
        tables.insert(0, Table("DP-SGD training (what is claimed)", ["quantity", "value"],
                               [[k, v] for k, v in record.items()]))
    payload: dict[str, Any] = {"audit_dp": {
        "claimed": record, "audited_epsilon": best.epsilon, "confidence_level": settings.confidence,
        "guess_grid": guess_grid(m, settings.guesses), "canaries": canaries.to_json(),
        "members": n_members, "holdout": n_holdout,
        "bounds": [dataclasses.asdict(b) for b in all_rows]}}
    if unlearning:
        after = _best(unlearning["rows"])
        summary["audited_epsilon_after_unlearning"] = round(after.epsilon, 4)
        summary["unlearning_method"] = unlearning["method"]
        measurements["dp"]["audited_epsilon_after_unlearning"] = after.epsilon
        headline += f"; after unlearning ({unlearning['method']}) audited ε ≥ {after.epsilon:.2f}"
        payload["audit_dp"]["unlearning"] = {"method": unlearning["method"], "cost": unlearning["cost"],
                                             "audited_epsilon": after.epsilon}
    report = Report(kind="audit-dp", title=f"One-run privacy audit of {settings.model}", schema=SCHEMA,
                    verdict=headline, summary=summary, tables=tables, measurements=measurements, payload=payload,
                    seeds={"seed": settings.seed, "canaries": settings.seed},
                    settings={"model": settings.model, "canaries": m, "canary_kind": settings.canary_kind,
                              "attacks": sorted({b.attack for b in rows}), "confidence_level": settings.confidence,
                              "dp": dataclasses.asdict(settings.dp) if settings.dp else None,
                              "options": settings.options, "unlearn": settings.unlearn, "shots": settings.shots})
    if claimed is not None:
        passed = best.epsilon <= claimed
        message = headline + ("" if passed else " -- the audit contradicts the claim: a bug in the training "
                                                 "or the accountant")
        report.apply_findings([Finding("dp/audited-epsilon", settings.model, "audited_epsilon", best.epsilon,
                                        claimed, passed, message)])
        report.verdict = headline if passed else f"FAIL: {message}"
    return report
