"""``qaudit leak``: the membership-inference audit workflow.

1. Ground truth: members / non-members from the model file's data record or
   index files. The rest of the dataset is *population* (data the target never
   saw) for shadow/reference models.
2. Each population (members, non-members) is split at random (seeded) into an
   attacker-*known* part (``AttackContext.X_members``/``X_non_members``: what
   calibrated attacks such as gray-box train on) and an *evaluation* part; only
   the evaluation samples are scored for metrics, identically for every attack.
3. Attacks (plugins) fit and score; the core computes every metric from the
   scores (:mod:`qaudit.metrics`), slices them, lists the most exposed members
   and builds a :class:`qaudit.results.Report`.

Every query of the target (and of the attacker's reference models) goes through
:class:`qaudit.query.TargetQueries`, i.e. :func:`qaudit.query.query`: the
model's task on the audit's backend, sampled when ``shots`` are given.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit import metrics
from qaudit.errors import QauditError
from qaudit.progress import SILENT, Progress
from qaudit.protocols import AttackContext
from qaudit.query import TargetQueries
from qaudit.results import Curve, Report, Table

SCHEMA = "qaudit.leak/1"
SLICES = ("class", "correctness", "loss-decile")
#: Metrics ``--fail-above`` accepts for leak reports.
GATE_METRICS = (*metrics.METRICS, "member_rate")
MIN_SLICE = 5


# --------------------------------------------------------------------------- ground truth
@dataclass
class GroundTruth:
    """Dataset indices of members, non-members and population (never used by the target)."""

    members: np.ndarray
    non_members: np.ndarray
    population: np.ndarray
    source: str


def ground_truth(mf: Any, n_samples: int, members_file: str | None = None,
                 non_members_file: str | None = None) -> GroundTruth:
    """Members/non-members from index files, else from the model's data record; validated."""
    from qaudit.data import read_indices

    record = mf.data
    if members_file:
        members = read_indices(members_file, n_samples)
        source = "index files"
    elif record is not None and len(record.members):
        members = np.asarray(record.members)
        source = "model data record"
    else:
        raise QauditError("no members: the model file has no data record; pass --members FILE and "
                          "--non-members FILE (sample indices into --dataset)")
    if non_members_file:
        non_members = read_indices(non_members_file, n_samples)
    elif record is not None and len(record.holdout):
        non_members = np.asarray(record.holdout)
    else:
        raise QauditError("no non-members to compare against: the model's data record has no holdout; pass "
                          "--non-members FILE with indices of samples the model never trained on")
    for name, idx in (("members", members), ("non-members", non_members)):
        if idx.size == 0:
            raise QauditError(f"the {name} set is empty")
        if idx.min() < 0 or idx.max() >= n_samples:
            raise QauditError(f"{name} indices must lie in 0..{n_samples - 1}")
    overlap = np.intersect1d(members, non_members)
    if overlap.size:
        raise QauditError(f"members and non-members overlap in {overlap.size} sample(s) (e.g. index {overlap[0]})")
    if len(members) < 4 or len(non_members) < 4:
        raise QauditError("an audit needs at least 4 members and 4 non-members")
    used = set(members.tolist()) | set(non_members.tolist())
    if record is not None:
        used |= set(np.asarray(record.members).tolist()) | set(np.asarray(record.holdout).tolist())
        used |= set(int(i) for i in record.excluded.get("indices", []))
    population = np.setdiff1d(np.arange(n_samples), np.fromiter(used, dtype=np.int64, count=len(used)))
    return GroundTruth(np.sort(members), np.sort(non_members), population, source)


# --------------------------------------------------------------------------- the audit
def default_attacks(role: str = "default") -> list[str]:
    """The attacks plugins declare for *role* (``default``, ``fast``, ``verification``)."""
    from qaudit.plugins import get_host

    names = get_host().with_role("attack", role)
    if not names:
        raise QauditError(f"no installed attack declares the role {role!r}; name attacks with --attack")
    return names


@dataclass
class AuditSettings:
    """What to run; every field is recorded in the report."""

    attacks: list[str] = field(default_factory=lambda: default_attacks("default"))
    backend: str = ""
    shots: int | None = None
    seed: int = 0
    slices: list[str] = field(default_factory=list)
    forget_class: int | None = None
    n_reference: int = 16
    n_jobs: int = 1
    attack_options: dict[str, Any] = field(default_factory=dict)
    top_k: int = 10
    include_scores: bool = False
    eval_fraction: float = 0.5
    n_bootstrap: int = metrics.DEFAULT_BOOTSTRAP


@dataclass
class AttackRun:
    """One attack's scores on the evaluation samples and its metrics."""

    name: str
    scores: np.ndarray
    metrics: dict[str, Any]
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


def _split(idx: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(idx)
    n_eval = int(round(len(perm) * fraction))
    n_eval = min(max(n_eval, 2), len(perm) - 2)
    return np.sort(perm[n_eval:]), np.sort(perm[:n_eval])  # known, evaluation


def run_audit(mf: Any, dataset: Any, truth: GroundTruth, settings: AuditSettings, backend: Any = None,
              progress: Progress = SILENT, location: str = "") -> Report:
    """Run every attack in *settings* against ``mf.model`` and build the leak Report."""
    from qaudit.plugins import get_host

    if not settings.attacks:
        raise QauditError("no attacks selected")
    host = get_host()
    classes = {name: host.get("attack", name) for name in settings.attacks}
    for bad in settings.slices:
        if bad not in SLICES:
            raise QauditError(f"unknown slice {bad!r} (choose from {', '.join(SLICES)})")
    if not 0 < settings.eval_fraction < 1:
        raise QauditError("the evaluation fraction must lie strictly between 0 and 1")
    for name, cls in classes.items():
        if getattr(cls, "needs_shots", False) and not settings.shots:  # optional Attack member
            raise QauditError(f"attack {name} scores raw bit strings: pass --shots N")
    model = mf.model
    if backend is None:  # resolved here when a caller passes only names (same rules as the CLI)
        from qaudit.backends import default_backend, resolve_backend

        settings.backend = settings.backend or default_backend(settings.shots)
        backend, settings.shots = resolve_backend(settings.backend, settings.shots, model)
    X, y = dataset.X, dataset.y
    rng = np.random.default_rng(settings.seed)
    known_m, eval_m = _split(truth.members, settings.eval_fraction, rng)
    known_n, eval_n = _split(truth.non_members, settings.eval_fraction, rng)
    eval_idx = np.concatenate([eval_m, eval_n])
    is_member = np.r_[np.ones(len(eval_m), bool), np.zeros(len(eval_n), bool)]
    X_eval, y_eval = X[eval_idx], y[eval_idx]
    n_train = int(len(mf.data.members)) if mf.data is not None else len(truth.members)
    oracle = TargetQueries(model, backend, settings.shots, settings.seed)
    pop = truth.population
    context = AttackContext(
        model=model, backend=backend, shots=settings.shots, seed=settings.seed,
        X_members=X[known_m], y_members=y[known_m], X_non_members=X[known_n], y_non_members=y[known_n],
        population_X=X[pop] if len(pop) else None, population_y=y[pop] if len(pop) else None,
        progress=progress, X_targets=X_eval, y_targets=y_eval, n_train=n_train,
        n_classes=model.n_classes or dataset.n_classes, n_reference=settings.n_reference,
        n_jobs=settings.n_jobs, options=dict(settings.attack_options), query=oracle)
    _check_options(settings.attack_options, settings.attacks)

    runs: list[AttackRun] = []
    with progress.track("attacks", len(classes)) as task:
        for name, cls in classes.items():
            start = time.perf_counter()
            attack = cls()
            attack.fit(context)
            scores = np.asarray(attack.score(context, X_eval, y_eval), dtype=np.float64)
            if scores.shape != (len(eval_idx),) or not np.all(np.isfinite(scores)):
                raise QauditError(f"attack {name} returned invalid scores (need {len(eval_idx)} finite values)")
            summary = metrics.summarise(scores, is_member, seed=settings.seed, n_bootstrap=settings.n_bootstrap)
            details = _attack_details(name, attack, context, truth, X, y, settings, scores, is_member, eval_idx)
            runs.append(AttackRun(name, scores, summary, time.perf_counter() - start, details))
            progress.advance(task, attack=name, auc=summary["auc"])

    target_out = oracle(model, X_eval)
    probs = target_out.probs
    loss = -np.log(np.clip(probs[np.arange(len(y_eval)), y_eval], 1e-12, None))
    correct = np.argmax(probs, axis=1) == y_eval
    return _build_report(mf, dataset, truth, settings, runs, eval_idx, is_member, y_eval, loss, correct,
                         oracle, location, len(known_m), len(known_n))


def _check_options(opts: dict[str, Any], attacks: list[str]) -> None:
    for key in opts:
        if "." not in key:
            raise QauditError(f"--attack-option {key!r}: write ATTACK.KEY=VALUE (e.g. gray-box.epochs=500)")
        owner = key.split(".", 1)[0]
        if owner not in attacks:
            raise QauditError(f"--attack-option {key!r} names attack {owner!r}, which is not selected")


def _attack_details(name: str, attack: Any, context: AttackContext, truth: GroundTruth, X: np.ndarray,
                    y: np.ndarray, settings: AuditSettings, scores: np.ndarray, is_member: np.ndarray,
                    eval_idx: np.ndarray) -> dict[str, Any]:
    """Attack-specific extras: the paper's member rate for attacks with a decision threshold."""
    details: dict[str, Any] = dict(attack.details()) if callable(getattr(attack, "details", None)) else {}
    threshold = getattr(attack, "decision_threshold", None)  # optional Attack member
    if threshold is None:
        return details
    members = truth.members
    label = "all classes"
    if settings.forget_class is not None:
        members = members[y[members] == settings.forget_class]
        label = f"class {settings.forget_class}"
    if len(members):
        all_scores = np.asarray(attack.score(context, X[members], y[members]), dtype=np.float64)
        details["member_rate"] = metrics.member_rate(all_scores, threshold)
        details["member_rate_scope"] = f"{label}, all {len(members)} members (the paper's number)"
    eval_members = eval_idx[is_member]
    sel = y[eval_members] == settings.forget_class if settings.forget_class is not None else np.ones(
        len(eval_members), bool)
    if sel.any():
        details["member_rate_eval"] = metrics.member_rate(scores[is_member][sel], threshold)
    non_scores = scores[~is_member]
    if settings.forget_class is not None:
        non_scores = non_scores[y[eval_idx[~is_member]] == settings.forget_class]
    if non_scores.size:
        details["non_member_rate_eval"] = metrics.member_rate(non_scores, threshold)
    details["decision_threshold"] = threshold
    return details


def _slice_groups(kind: str, y: np.ndarray, loss: np.ndarray, correct: np.ndarray) -> list[tuple[str, np.ndarray]]:
    if kind == "class":
        return [(f"class {c}", y == c) for c in np.unique(y)]
    if kind == "correctness":
        return [("correct", correct), ("misclassified", ~correct)]
    edges = np.quantile(loss, np.linspace(0, 1, 11))
    decile = np.clip(np.searchsorted(edges, loss, side="right") - 1, 0, 9)
    return [(f"loss decile {d + 1}", decile == d) for d in range(10)]


def _build_report(mf: Any, dataset: Any, truth: GroundTruth, settings: AuditSettings, runs: list[AttackRun],
                  eval_idx: np.ndarray, is_member: np.ndarray, y_eval: np.ndarray, loss: np.ndarray,
                  correct: np.ndarray, oracle: TargetQueries, location: str, n_known_m: int, n_known_n: int) -> Report:
    best = max(runs, key=lambda r: r.metrics["auc"])
    measurements: dict[str, dict[str, float]] = {}
    for r in runs:
        measurements[r.name] = {k: float(r.metrics[k]) for k in metrics.METRICS}
        if "member_rate" in r.details:
            measurements[r.name]["member_rate"] = float(r.details["member_rate"])
    report = Report(kind="leak", title=f"Membership-inference audit of {location or 'model'}", schema=SCHEMA,
                    location=location)
    m = best.metrics
    leaks = m["auc_low"] > 0.5
    report.verdict = (f"{'LEAKS' if leaks else 'no significant leakage'}: strongest attack {best.name} "
                      f"AUC {m['auc']:.3f} [{m['auc_low']:.3f}, {m['auc_high']:.3f}], "
                      f"TPR@1%FPR {m['tpr@1%fpr']:.3f}, epsilon >= {m['epsilon']:.2f}")
    acc_m = float(np.mean(correct[is_member]))
    acc_n = float(np.mean(correct[~is_member]))
    report.summary = {
        "model": location, "kind": mf.kind, "dataset": dataset.name,
        "members": int(len(truth.members)), "non_members": int(len(truth.non_members)),
        "population": int(len(truth.population)), "evaluated_members": int(is_member.sum()),
        "evaluated_non_members": int((~is_member).sum()), "attacker_known_members": n_known_m,
        "attacker_known_non_members": n_known_n, "ground_truth": truth.source,
        "backend": settings.backend, "shots": settings.shots, "member_accuracy": acc_m,
        "non_member_accuracy": acc_n, "generalisation_gap": acc_m - acc_n,
        "strongest_attack": best.name, "leaks": bool(leaks), "target_queries": oracle.count,
    }
    cols = ["attack", "AUC", "AUC 95% CI", "TPR@0.1%FPR", "TPR@1%FPR", "TPR@10%FPR", "bal. acc", "advantage",
            "epsilon LB", "member rate", "non-member rate", "seconds"]
    rows = []
    for r in runs:
        mm = r.metrics
        rows.append([r.name, mm["auc"], f"[{mm['auc_low']:.3f}, {mm['auc_high']:.3f}]", mm["tpr@0.1%fpr"],
                     mm["tpr@1%fpr"], mm["tpr@10%fpr"], mm["balanced_accuracy"], mm["advantage"], mm["epsilon"],
                     r.details.get("member_rate"), r.details.get("non_member_rate_eval"), round(r.seconds, 2)])
    note = (f"{int(is_member.sum())} members vs {int((~is_member).sum())} non-members scored (held out from "
            f"attack training); member rate = fraction of "
            f"{'class ' + str(settings.forget_class) if settings.forget_class is not None else 'all'} members "
            f"called member at the attack's own decision threshold (the paper's MIA accuracy); "
            f"non-member rate = the same for the scored non-members (its false-positive rate).")
    report.tables.append(Table("attacks", cols, rows, note))

    slices_payload: dict[str, list[dict[str, Any]]] = {}
    worst: tuple[float, str, str] | None = None
    for kind in settings.slices:
        groups = _slice_groups(kind, y_eval, loss, correct)
        rows = []
        entries = []
        for label, mask in groups:
            nm, nn = int((mask & is_member).sum()), int((mask & ~is_member).sum())
            row: list[Any] = [label, nm, nn]
            entry: dict[str, Any] = {"slice": label, "members": nm, "non_members": nn, "auc": {}}
            for r in runs:
                if nm >= MIN_SLICE and nn >= MIN_SLICE:
                    value = metrics.auc(r.scores[mask], is_member[mask])
                    entry["auc"][r.name] = value
                    if worst is None or value > worst[0]:
                        worst = (value, f"{kind}: {label}", r.name)
                else:
                    value = None
                row.append(value)
            rows.append(row)
            entries.append(entry)
        slices_payload[kind] = entries
        report.tables.append(Table(f"AUC by {kind}", ["slice", "members", "non-members", *[r.name for r in runs]],
                                   rows, f"slices with fewer than {MIN_SLICE} members or non-members are skipped"))
    if worst is not None:
        report.summary["worst_slice"] = {"slice": worst[1], "attack": worst[2], "auc": worst[0]}

    order = np.argsort(-best.scores[is_member], kind="stable")[: settings.top_k]
    member_idx = eval_idx[is_member]
    exposed = []
    for i in order:
        exposed.append({"index": int(member_idx[i]), "label": int(y_eval[is_member][i]),
                        "score": float(best.scores[is_member][i]), "loss": float(loss[is_member][i]),
                        "correct": bool(correct[is_member][i])})
    report.tables.append(Table(f"most exposed members ({best.name})", ["dataset index", "label", "score", "loss",
                                                                       "correct"],
                               [[e["index"], e["label"], e["score"], e["loss"], e["correct"]] for e in exposed]))
    for r in runs:
        fpr, tpr, _ = metrics.roc(r.scores, is_member)
        f, t = metrics.curve_points(fpr, tpr)
        report.curves.append(Curve(r.name, f, t, r.metrics["auc"]))
    report.measurements = measurements
    report.seeds = {"audit": settings.seed, "split": settings.seed, "bootstrap": settings.seed,
                    "shots": settings.seed}
    report.settings = {"attacks": list(settings.attacks), "backend": settings.backend, "shots": settings.shots,
                       "slices": list(settings.slices), "forget_class": settings.forget_class,
                       "reference_models": settings.n_reference, "jobs": settings.n_jobs,
                       "attack_options": settings.attack_options, "eval_fraction": settings.eval_fraction,
                       "bootstrap": settings.n_bootstrap}
    payload: dict[str, Any] = {
        "attacks": {r.name: {"metrics": r.metrics, "seconds": round(r.seconds, 3), "details": r.details}
                    for r in runs},
        "slices": slices_payload,
        "most_exposed": exposed,
    }
    if settings.include_scores:
        payload["scores"] = {"index": eval_idx.tolist(), "is_member": is_member.tolist(),
                             "label": y_eval.tolist(), **{r.name: r.scores.tolist() for r in runs}}
    report.payload = payload
    return report
