"""``qaudit leak``: the membership-inference audit workflow.

1. Ground truth: members / non-members from the model file's data record or
   index files. The rest of the dataset is *population* (data the target never
   saw) for shadow/reference models.
2. Every member and non-member is scored *out of fold* (:mod:`qaudit.leak.crossfit`):
   attacks that calibrate on attacker-known samples (gray-box) are fitted k times,
   each on the other folds; attacks that do not (threshold, reference-model) once.
3. The core computes every metric from the held-out scores (:mod:`qaudit.leak.metrics`),
   tests "no membership signal" per attack and slice and controls the family-wise
   error of the LEAKS verdict (:mod:`qaudit.leak.verdict`), lists the most exposed
   members and builds a :class:`qaudit.report.results.Report`. ``docs/statistics.md``
   states every convention.

Every query of the target (and of the attacker's reference models) goes through
:class:`qaudit.run.query.TargetQueries`, i.e. :func:`qaudit.run.query.query`: the
model's task on the audit's backend, sampled when ``shots`` are given.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.files.checkpoints import Checkpoints
from qaudit.leak import evidence, metrics, power, verdict
from qaudit.leak.crossfit import DEFAULT_FOLDS, audit_plans, check_folds, fit_folds, split_folds
from qaudit.leak.crossfit import score as score_folds
from qaudit.leak.verdict import SLICES
from qaudit.report.results import Curve, Finding, Report, Table
from qaudit.run.query import TargetQueries
from qaudit.sdk import limits
from qaudit.sdk.errors import QauditError
from qaudit.sdk.progress import SILENT, Progress
from qaudit.sdk.protocols import AttackContext

SCHEMA = "qaudit.leak/1"
#: Metrics ``--fail-above`` accepts for leak reports.
GATE_METRICS = (*metrics.METRICS, "member_rate")


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
    from qaudit.files.data import read_indices

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
#: Reference models an attack needs when it does not declare ``reference_models`` and -K is not given.
DEFAULT_REFERENCE_MODELS = 16


def default_attacks(role: str = "default", fast: bool = False) -> list[str]:
    """The attacks plugins declare for *role* (``default``, ``fast``, ``verification``); *fast* leaves out
    those that train reference models (``qaudit leak --fast``)."""
    from qaudit.sdk.host import get_host

    host = get_host()
    names = host.with_role("attack", role)
    if fast:
        names = [n for n in names if not getattr(host.get("attack", n), "needs_reference", False)]
    if not names:
        raise QauditError(f"no installed attack declares the role {role!r}; name attacks with --attack")
    return names


def reference_models_for(attacks: list[str]) -> int:
    """The number of reference models an audit of *attacks* trains when ``--reference-models`` is not given:
    the largest ``reference_models`` the attacks that train them declare (their shared set serves all)."""
    from qaudit.sdk.host import get_host

    host = get_host()
    wanted = [int(getattr(cls, "reference_models", DEFAULT_REFERENCE_MODELS))
              for cls in (host.get("attack", n) for n in attacks) if getattr(cls, "needs_reference", False)]
    return max(wanted, default=DEFAULT_REFERENCE_MODELS)


@dataclass
class AuditSettings:
    """What to run; every field is recorded in the report."""

    attacks: list[str] = field(default_factory=lambda: default_attacks("default"))
    backend: str | None = None
    shots: int | None = None
    seed: int = 0
    slices: list[str] = field(default_factory=list)
    forget_class: int | None = None
    #: None: the number the attacks declare (:func:`reference_models_for`), resolved by :meth:`validate`.
    n_reference: int | None = None
    #: Local worker processes for reference models when no executor is given. None: 1 here; ``qaudit.api`` (and
    #: so every command) resolves None to :func:`qaudit.api.default_jobs` first.
    n_jobs: int | None = None
    attack_options: dict[str, Any] = field(default_factory=dict)
    top_k: int = 10
    include_scores: bool = False
    folds: int = DEFAULT_FOLDS
    alpha: float = metrics.DEFAULT_ALPHA
    delta: float = metrics.DEFAULT_DELTA
    n_bootstrap: int = metrics.DEFAULT_BOOTSTRAP
    resume: bool = False
    #: Print the execution plan of the target's queries (``--dry-run``) instead of running the audit.
    dry_run: bool = False
    #: Refuse a run whose estimated device time exceeds this many seconds (``--max-qpu-seconds``).
    max_qpu_seconds: float | None = None

    #: True on the copy :meth:`resolved` returns (``dataclasses.replace`` of it is resolved again).
    is_resolved: bool = field(default=False, init=False, repr=False, compare=False)

    def resolved(self, reference_models: bool = True) -> AuditSettings:
        """A validated copy with every default resolved: the reference models the attacks declare
        (:func:`reference_models_for`), the backend's name
        (:func:`qaudit.run.backend_choice.backend_or_default`), 0 shots as exact (None), ``n_jobs`` None as 1.
        These resolved values are what the report records; *self* is left unchanged. *reference_models* False:
        see :meth:`validate`."""
        import dataclasses

        from qaudit.run.backend_choice import backend_or_default

        if self.is_resolved:
            return self
        shots = self.shots or None
        n_reference = self.n_reference
        if reference_models and n_reference is None and self.attacks:
            n_reference = reference_models_for(self.attacks)
        out = dataclasses.replace(self, shots=shots, n_reference=n_reference,
                                  backend=backend_or_default(self.backend, shots),
                                  n_jobs=1 if self.n_jobs is None else self.n_jobs, attacks=list(self.attacks))
        out.validate(reference_models)
        out.is_resolved = True
        return out

    def validate(self, reference_models: bool = True) -> None:
        """One-line errors for settings out of range (before any work); *reference_models* False skips
        ``--reference-models`` (a black-box audit's reference models are the ones its file records).
        Nothing is changed: :meth:`resolved` fills the defaults."""
        if not self.attacks:
            raise QauditError("no attacks selected")
        if len(set(self.attacks)) != len(self.attacks):
            raise QauditError("an attack is listed twice")
        for bad in self.slices:
            if bad not in SLICES:
                raise QauditError(f"unknown slice {bad!r} (choose from {', '.join(SLICES)})")
        if not 0 < self.alpha < 0.5:
            raise QauditError(f"--alpha must lie in (0, 0.5), got {self.alpha}")
        if not 0 <= self.delta < 1:
            raise QauditError(f"--delta must lie in [0, 1), got {self.delta}")
        if not 10 <= self.n_bootstrap <= metrics.MAX_BOOTSTRAP:
            raise QauditError(f"--bootstrap must lie in 10..{metrics.MAX_BOOTSTRAP}, got {self.n_bootstrap}")
        limits.check_seed(self.seed)
        if reference_models:
            self._check_reference_models()
        if self.n_jobs is not None:
            limits.check_jobs(self.n_jobs)
        limits.check_option("--top-k", self.top_k, "int", 0, limits.MAX_TOP_K)
        if self.shots is not None:
            limits.check_option("--shots", self.shots, "int", 0, limits.MAX_SHOTS)
        if self.max_qpu_seconds is not None and not self.max_qpu_seconds > 0:
            raise QauditError(f"--max-qpu-seconds must be > 0, got {self.max_qpu_seconds}")
        from qaudit.sdk.host import get_host

        for name in self.attacks:  # optional Attack member: check_options(options) fails fast on bad options
            check = getattr(get_host().get("attack", name), "check_options", None)
            if callable(check):
                check(self.attack_options)


    def _check_reference_models(self) -> None:
        n = reference_models_for(self.attacks) if self.n_reference is None else self.n_reference
        limits.check_option("--reference-models", n, "int", 2, limits.MAX_REFERENCE_MODELS)
        if n % 2:
            raise QauditError(f"--reference-models must be an even number (half IN, half OUT per sample), got {n}")


@dataclass
class AttackRun:
    """One attack's held-out scores on every scored sample and its metrics."""

    name: str
    scores: np.ndarray
    metrics: dict[str, Any]
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class Scored:
    """The scored samples: dataset indices, membership, labels and the target's outputs on them."""

    ids: np.ndarray
    is_member: np.ndarray
    y: np.ndarray
    loss: np.ndarray
    correct: np.ndarray


@dataclass
class AuditSubject:
    """What an audit scores, however its outputs are obtained (one per audit path).

    ``X``/``y`` are indexed by the sample ids in ``members``/``non_members`` (raw features for a model
    audit; row numbers for recorded outputs); ``context`` is the attack context every fold copies (its
    ``query`` answers ``context.outputs``); ``facts`` are the report summary's description of the
    subject (``model``, ``kind``, ``dataset``, ``population``, ``ground_truth``, ``backend``, ``shots``).
    """

    X: np.ndarray
    y: np.ndarray
    members: np.ndarray
    non_members: np.ndarray
    context: AttackContext
    facts: dict[str, Any]


def attack_classes(settings: AuditSettings) -> dict[str, Any]:
    """The registered classes of the attacks *settings* names (unknown names: one-line error)."""
    from qaudit.sdk.host import get_host

    return {name: get_host().get("attack", name) for name in settings.attacks}


def run_audit(mf: Any, dataset: Any, truth: GroundTruth, settings: AuditSettings, backend: Any = None,
              progress: Progress = SILENT, location: str = "", executor: Any = None) -> Report:
    """Run every attack in *settings* against ``mf.model`` and build the leak Report.

    Reference/shadow models run as jobs on *executor* (:mod:`qaudit.run.parallel`; None: ``settings.n_jobs``
    local workers); the report does not depend on which. *settings* is not changed: the audit runs on (and the
    report records) its :meth:`AuditSettings.resolved` copy. *backend* (an instance) is built from the settings
    by :func:`qaudit.run.backend_choice.resolve_backend` when not given.

    Every member and non-member is scored out of fold (:mod:`qaudit.leak.crossfit`); the metrics
    and the verdict use held-out scores only (:mod:`qaudit.leak.metrics`, :mod:`qaudit.leak.verdict`).
    """
    settings = settings.resolved()  # a copy: the caller's settings are never changed
    classes = attack_classes(settings)
    for name, cls in classes.items():
        if getattr(cls, "needs_shots", False) and not settings.shots:  # optional Attack member
            raise QauditError(f"attack {name} scores raw bit strings: pass --shots N")
    check_folds(settings.folds, len(truth.members), len(truth.non_members))
    check_attack_options(settings.attack_options, settings.attacks)
    model = mf.model
    if backend is None:  # built here when a caller passes only names, by the one function that builds backends
        from qaudit.run.backend_choice import resolve_backend

        backend, _ = resolve_backend(settings.backend, settings.shots, model)
    X, y = dataset.X, dataset.y
    oracle = TargetQueries(model, backend, settings.shots, settings.seed)
    pop = truth.population
    n_train = int(len(mf.data.members)) if mf.data is not None else len(truth.members)
    context = AttackContext(
        model=model, backend=backend, shots=settings.shots, seed=settings.seed,
        X_members=X[:0], y_members=y[:0], X_non_members=X[:0], y_non_members=y[:0],
        population_X=X[pop] if len(pop) else None, population_y=y[pop] if len(pop) else None,
        progress=progress, n_train=n_train, n_classes=model.n_classes or dataset.n_classes,
        n_reference=settings.n_reference, n_jobs=settings.n_jobs, options=dict(settings.attack_options),
        query=oracle, checkpoints=Checkpoints("reference-models", settings.resume), executor=executor)
    facts = {"model": location, "kind": mf.kind, "dataset": dataset.name, "population": int(len(pop)),
             "ground_truth": truth.source, "backend": settings.backend, "shots": settings.shots}
    queried = target_rows(X[np.concatenate([truth.members, truth.non_members])], classes, context)
    budget = _budget(model, queried, backend, settings, location)
    if isinstance(budget, Report):
        return budget
    jobs = Checkpoints("backend-jobs", settings.resume)
    if budget is not None:  # a PlanningBackend: one query of every sample the attacks query, jobs checkpointed
        backend.use_checkpoints(jobs)
        oracle.prefetch(queried)
        facts["reference_outputs"] = _reference_note(settings)
    subject = AuditSubject(X, y, truth.members, truth.non_members, context, facts)
    report = score_and_report(subject, classes, settings, progress, location)
    report.summary["target_queries"] = oracle.count
    if budget is not None:
        report.summary["reference_outputs"] = facts["reference_outputs"]
        execution = {"plan": budget.to_json(), "submitted": _submitted(backend), "backend": _backend_facts(backend)}
        report.payload["execution"] = execution
        report.tables.append(_execution_table(execution))
    context.checkpoints.discard()
    jobs.discard()
    return report


def target_rows(X_scored: np.ndarray, classes: dict[str, Any], context: Any) -> np.ndarray:
    """Every sample the target will be queried on: the scored samples, then the rows each attack declares
    beyond them (the optional ``Attack.target_samples``, e.g. RMIA's population z-samples), each row once.
    A budgeted backend plans and receives exactly these rows, so ``--dry-run`` equals what the run submits."""
    X_scored = np.asarray(X_scored, dtype=np.float64)
    rows, seen = [X_scored], {row.tobytes() for row in X_scored}
    for cls in classes.values():
        declared = getattr(cls, "target_samples", None)  # optional Attack member
        extra = declared(context) if callable(declared) else None
        if extra is None:
            continue
        extra = np.asarray(extra, dtype=np.float64)
        new = []
        for i, row in enumerate(extra):
            if row.tobytes() not in seen:
                seen.add(row.tobytes())
                new.append(i)
        rows.append(extra[new].reshape(len(new), *X_scored.shape[1:]))
    return np.concatenate(rows)


def _budget(model: Any, X: np.ndarray, backend: Any, settings: AuditSettings, location: str) -> Any:
    """The execution plan of the target's queries when the backend has one (a PlanningBackend), checked
    against ``--max-qpu-seconds``; with ``--dry-run`` the plan's Report instead. None for other backends."""
    from qaudit.run.query import plan_query

    planning = callable(getattr(backend, "plan", None))  # optional PlanningBackend members
    if not (planning or settings.dry_run):
        return None
    plan = plan_query(model, X, backend, settings.shots)
    cap = settings.max_qpu_seconds
    if cap is not None and plan.qpu_seconds is not None and plan.qpu_seconds > cap:
        raise QauditError(f"the run needs an estimated {plan.qpu_seconds:.1f} QPU seconds ({plan.jobs} jobs, "
                          f"{plan.bindings} bindings x {plan.shots} shots), above --max-qpu-seconds {cap:g}; "
                          "see --dry-run")
    if settings.dry_run:
        return plan_report(plan, location, settings)
    return plan if planning else None


def plan_report(plan: Any, location: str, settings: AuditSettings) -> Report:
    """The ``--dry-run`` report: what the target's queries would submit and cost; nothing ran."""
    report = Report(kind="plan", title=f"Execution plan of the audit of {location or 'model'} (dry run)",
                    schema="qaudit.plan/1", location=location)
    facts = plan.to_json()
    seconds = "not estimated (a simulator)" if plan.qpu_seconds is None else f"{plan.qpu_seconds:.1f} s"
    report.verdict = (f"dry run, nothing submitted: {plan.circuits} circuit(s), {plan.bindings} bindings x "
                      f"{plan.shots} shots in {plan.units} unit(s) of work, {plan.jobs} job(s); estimated QPU "
                      f"time {seconds}")
    report.summary = {**facts, "max_qpu_seconds": settings.max_qpu_seconds,
                      "reference_outputs": _reference_note(settings)}
    report.tables.append(Table("execution plan (the target's queries)", ["item", "value"],
                               [[k, v if not isinstance(v, list) else "; ".join(v)] for k, v in facts.items()]))
    report.settings = {"backend": settings.backend, "shots": settings.shots, "seed": settings.seed}
    return report


def _reference_note(settings: AuditSettings) -> str:
    """How the attacker's reference models were evaluated when the target runs on a budgeted backend."""
    from qaudit.sdk.host import get_host

    exact = get_host().role("backend", "default")
    return (f"simulated: reference and shadow models train and are queried on the {exact!r} backend (exact "
            f"expectation values: no shot noise, no device noise; the model's own training noise model if it has "
            f"one); only the target runs on "
            f"{settings.backend!r}")


def _execution_table(execution: dict[str, Any]) -> Table:
    """Planned vs submitted work of the target's queries on a budgeted backend."""
    plan, done = execution["plan"], execution["submitted"] or {}
    keys = ("circuits", "bindings", "shots", "units", "jobs", "depth", "two_qubit_gates", "qpu_seconds", "mitigation")
    rows = [[key, plan.get(key), done.get(key)] for key in keys]
    facts = execution["backend"]
    note = "; ".join(f"{k}: {v}" for k, v in facts.items() if k not in ("job_ids", "readout_calibration"))
    beyond = int(done.get("bindings") or 0) - int(plan.get("bindings") or 0)
    if beyond > 0:
        note = (f"{beyond} bindings submitted beyond the plan: an attack queried the target on samples it does not "
                f"declare (Attack.target_samples); {note}")
    return Table("execution of the target's queries (planned before the run, then submitted)",
                 ["item", "planned", "submitted"], rows, note + "; " + "; ".join(done.get("notes", [])))


def _submitted(backend: Any) -> Any:
    record = backend.submitted() if callable(getattr(backend, "submitted", None)) else None
    return None if record is None else record.to_json()


def _backend_facts(backend: Any) -> dict[str, Any]:
    facts = getattr(backend, "facts", None)
    return dict(facts()) if callable(facts) else {}


def score_and_report(subject: AuditSubject, classes: dict[str, Any], settings: AuditSettings,
                     progress: Progress = SILENT, location: str = "") -> Report:
    """The scoring and report pipeline every audit path shares: fit every attack in *classes* per fold
    (or once), score every member and non-member out of fold, compute the metrics, decide the verdict
    (Holm) and build the leak :class:`Report`."""
    X, y, context = subject.X, subject.y, subject.context
    ids = np.concatenate([subject.members, subject.non_members])
    is_member = np.r_[np.ones(len(subject.members), bool), np.zeros(len(subject.non_members), bool)]
    probs = context.outputs(X[ids]).probs
    y_ids = y[ids]
    loss = -np.log(np.clip(probs[np.arange(len(ids)), y_ids], 1e-12, None))
    scored = Scored(ids, is_member, y_ids, loss, np.argmax(probs, axis=1) == y_ids)
    strata = fold_strata(settings.slices, scored)
    rng = np.random.default_rng(settings.seed)
    member_folds = split_folds(subject.members, settings.folds, rng, strata[is_member])
    non_member_folds = split_folds(subject.non_members, settings.folds, rng, strata[~is_member])
    stratum = dict(zip(ids.tolist(), strata.tolist()))
    plans = {name: audit_plans(cls, member_folds, non_member_folds, stratum, settings.seed)
             for name, cls in classes.items()}
    runs: list[AttackRun] = []
    with progress.track("attacks (fits)", sum(len(p) for p in plans.values())) as task:
        for name, cls in classes.items():
            start = time.perf_counter()
            fitted = fit_folds(cls, context, X, y, plans[name], progress, task)
            scores, called = score_folds(fitted, name, X, y, ids)
            summary = metrics.summarise(scores, is_member, seed=settings.seed, n_bootstrap=settings.n_bootstrap,
                                        delta=settings.delta, alpha=settings.alpha)
            details = _attack_details(fitted, called, is_member, y[ids], settings)
            extra = _extra_protocol(fitted[0].attack, subject, settings)
            if extra is not None:
                details["extra_protocol"] = extra
            runs.append(AttackRun(name, scores, summary, time.perf_counter() - start, details))
    return _build_report(subject, settings, runs, scored, location)


def fold_strata(slices: list[str], scored: Scored) -> np.ndarray:
    """The cross-fitting strata of the scored samples (membership is stratified separately): the class, times
    the group of every declared slice (docs/statistics.md, "Held-out evidence")."""
    key = np.unique(scored.y, return_inverse=True)[1].astype(np.int64)
    for kind in slices:
        if kind == "class":
            continue
        groups = verdict.slice_groups(kind, scored.y, scored.loss, scored.correct)
        group = np.zeros(len(key), np.int64)
        for g, (_, mask) in enumerate(groups):
            group[mask] = g
        key = key * len(groups) + group
    return key


def _extra_protocol(attack: Any, subject: AuditSubject, settings: AuditSettings) -> dict[str, Any] | None:
    """The attack's optional ``extra_protocol`` figure on every member / non-member (never in the metrics)."""
    method = getattr(attack, "extra_protocol", None)  # optional Attack member
    if not callable(method):
        return None
    from dataclasses import replace

    X, y = subject.X, subject.y
    full = replace(subject.context, X_members=X[subject.members], y_members=y[subject.members],
                   X_non_members=X[subject.non_members], y_non_members=y[subject.non_members])
    return method(full, settings.forget_class)


def _extra_protocol_table(runs: list[AttackRun]) -> Table | None:
    rows = [[r.name, e.get("figure"), e.get("figure_scope"), e.get("scored"), e.get("scored_in_attack_train"),
             r.metrics["auc"], r.metrics["tpr@1%fpr"], e.get("label")]
            for r in runs for e in [r.details.get("extra_protocol")] if e]
    if not rows:
        return None
    return Table("other protocols (not held-out; beside the held-out metrics, never in the verdict)",
                 ["attack", "figure", "scored", "n scored", "of which in the attack's training set",
                  "held-out AUC", "held-out TPR@1%FPR", "protocol"], rows,
                 "the figure is computed the way the named protocol computes it, on points the attack partly trained "
                 "on; the held-out AUC and TPR@1%FPR are this audit's clean metrics for the same model and seed")


def check_attack_options(opts: dict[str, Any], attacks: list[str]) -> None:
    """Every ``--attack-option`` key is ``ATTACK.KEY`` for a selected attack (one-line error otherwise)."""
    for key in opts:
        if "." not in key:
            raise QauditError(f"--attack-option {key!r}: write ATTACK.KEY=VALUE (e.g. gray-box.epochs=500)")
        owner = key.split(".", 1)[0]
        if owner not in attacks:
            raise QauditError(f"--attack-option {key!r} names attack {owner!r}, which is not selected")


def _attack_details(fitted: list[Any], called: np.ndarray | None, is_member: np.ndarray, y: np.ndarray,
                    settings: AuditSettings) -> dict[str, Any]:
    """The attack's own report extras, its fits, and -- for attacks with a decision threshold -- the
    paper's member rate (fraction of members called member, every member scored out of fold) and the
    same rate on non-members (the false-positive rate the paper does not report)."""
    first = fitted[0].attack
    details: dict[str, Any] = dict(first.details()) if callable(getattr(first, "details", None)) else {}
    details["fits"] = len(fitted)
    details["cross_fitted"] = len(fitted) > 1
    if called is None:
        return details
    scope = np.ones(len(y), bool) if settings.forget_class is None else y == settings.forget_class
    label = "all classes" if settings.forget_class is None else f"class {settings.forget_class}"
    if (scope & is_member).any():
        details["member_rate"] = float(called[scope & is_member].mean())
        details["member_rate_scope"] = f"{label}, all {int((scope & is_member).sum())} members, out of fold"
    if (scope & ~is_member).any():
        details["non_member_rate"] = float(called[scope & ~is_member].mean())
    details["decision_threshold"] = getattr(first, "decision_threshold", None)
    return details


def _verdict(settings: AuditSettings, runs: list[AttackRun], scored: Scored) -> verdict.Verdict:
    scores = {r.name: r.scores for r in runs}
    cells = verdict.slice_cells(settings.slices, scores, scored.is_member, scored.y, scored.loss, scored.correct)
    masks = _slice_masks(settings, scored)
    return verdict.decide({r.name: r.metrics["p_value"] for r in runs}, cells, scores, scored.is_member, masks,
                          settings.alpha)


def _slice_masks(settings: AuditSettings, scored: Scored) -> dict[tuple[str, str], np.ndarray]:
    return {(kind, label): mask for kind in settings.slices
            for label, mask in verdict.slice_groups(kind, scored.y, scored.loss, scored.correct)}


def rejected_hypothesis(decision: verdict.Verdict, runs: list[AttackRun]) -> dict[str, Any] | None:
    """The rejected hypothesis with the smallest Holm-adjusted p (None when nothing was rejected): its attack,
    slice (None = overall), AUC, interval (overall: its 95 % interval; a slice: its simultaneous
    interval) and adjusted p."""
    if not decision.rejected:
        return None
    key = decision.rejected[0]
    by_name = {r.name: r for r in runs}
    if key in by_name:
        m = by_name[key].metrics
        return {"hypothesis": key, "attack": key, "slice": None, "auc": m["auc"], "ci": [m["auc_low"], m["auc_high"]],
                "p_adjusted": decision.adjusted[key], "members": m["n_members"], "non_members": m["n_non_members"]}
    cell = next(c for c in decision.cells if f"{c.attack} on {c.kind}: {c.label}" == key)
    return {"hypothesis": key, "attack": cell.attack, "slice": f"{cell.kind}: {cell.label}", "auc": cell.auc,
            "ci": list(cell.ci), "p_adjusted": cell.p_adjusted, "members": cell.members,
            "non_members": cell.non_members}


def power_statements(decision: verdict.Verdict, runs: list[AttackRun], settings: AuditSettings
                     ) -> tuple[dict[str, Any], dict[tuple[str, str], dict[str, Any]]]:
    """What the audit could have detected (:mod:`qaudit.leak.power`): the overall statement (every attack scores
    the same samples) and one per tested slice group, all at level alpha / (hypotheses)."""
    m = runs[0].metrics
    overall = power.detectable(m["n_members"], m["n_non_members"], settings.alpha, decision.hypotheses)
    slices = {(c.kind, c.label): power.detectable(c.members, c.non_members, settings.alpha, decision.hypotheses)
              for c in decision.cells}
    return overall, slices


def _verdict_line(decision: verdict.Verdict, best: AttackRun, settings: AuditSettings,
                  rejected: dict[str, Any] | None, detect: dict[str, Any],
                  slice_detect: dict[tuple[str, str], dict[str, Any]]) -> str:
    m = best.metrics
    test = (f"{decision.hypotheses} one-sided test{'s' if decision.hypotheses > 1 else ''}, Holm, "
            f"family-wise alpha {settings.alpha:g}")
    if rejected is not None:
        where = "overall" if rejected["slice"] is None else f"on {rejected['slice']}"
        head = (f"LEAKS ({test}; {len(decision.rejected)} rejected): {rejected['attack']} {where} AUC "
                f"{rejected['auc']:.3f} [{rejected['ci'][0]:.3f}, {rejected['ci'][1]:.3f}], adjusted p "
                f"{rejected['p_adjusted']:.2g}; ")
    else:
        head = (f"no significant leakage ({test}): no hypothesis rejected; it would have detected "
                f"{power.text(detect)} overall with {detect['power']:.0%} power ({detect['members']} members vs "
                f"{detect['non_members']} non-members, level {settings.alpha:g}/{decision.hypotheses} per test)")
        if slice_detect:
            (kind, label), worst = max(slice_detect.items(), key=lambda kv: kv[1]["auc"] or 2.0)
            head += f", {power.text(worst)} in the smallest tested slice ({kind}: {label})"
        head += "; "
    return (head + f"strongest attack {best.name} AUC {m['auc']:.3f} [{m['auc_low']:.3f}, "
            f"{m['auc_high']:.3f}], adjusted p {decision.adjusted[best.name]:.2g}, "
            f"TPR@1%FPR {_tpr_cell(m, 'tpr@1%fpr', True)}, "
            f"distinguishability >= {m['distinguishability']:.2f} at {m['distinguishability_confidence']:.0%} "
            "confidence (not a DP bound)")


def _attack_table(runs: list[AttackRun], decision: verdict.Verdict, scored: Scored,
                  settings: AuditSettings) -> Table:
    cols = ["attack", "AUC", "AUC 95% CI", "adj. p", "TPR@0.1%FPR", "TPR@1%FPR", "TPR@10%FPR", "bal. acc",
            "advantage", "distinguishability", "member rate", "non-member rate", "seconds"]
    rows = []
    for r in runs:
        mm = r.metrics
        rows.append([r.name, mm["auc"], f"[{mm['auc_low']:.3f}, {mm['auc_high']:.3f}]", decision.adjusted[r.name],
                     *(_tpr_cell(mm, key) for key in ("tpr@0.1%fpr", "tpr@1%fpr", "tpr@10%fpr")),
                     mm["balanced_accuracy"], mm["advantage"],
                     mm["distinguishability"], r.details.get("member_rate"), r.details.get("non_member_rate"),
                     round(r.seconds, 2)])
    first = runs[0].metrics
    scope = "class " + str(settings.forget_class) if settings.forget_class is not None else "all"
    note = (f"{int(scored.is_member.sum())} members vs {int((~scored.is_member).sum())} non-members, every one "
            f"scored out of fold ({settings.folds}-fold cross-fitting); adj. p = Holm-adjusted one-sided "
            f"Mann-Whitney p-value; TPR@FPR, bal. acc, advantage and distinguishability use thresholds chosen on a "
            f"calibration half ({first['calibration_members']} + {first['calibration_non_members']}) and evaluated "
            f"on the other ({first['test_members']} + {first['test_non_members']}); distinguishability = "
            f"{first['distinguishability_confidence']:.0%} lower confidence bound on ln((1 - delta - FPR)/FNR) of the "
            f"attack's threshold on this model (delta {settings.delta:g}; not a DP epsilon: one training run, "
            f"membership not randomised -- see qaudit audit-dp); member rate = fraction of "
            f"{scope} members called member at the attack's own decision threshold (the paper's MIA accuracy); "
            f"non-member rate = the same for non-members (its false-positive rate). A TPR@FPR resting on fewer "
            f"than {metrics.MIN_EXPECTED_FALSE_POSITIVES:g} expected false positives is shown with its 95% "
            f"Clopper-Pearson interval and marked unreliable.")
    return Table("attacks", cols, rows, note)


def _tpr_cell(m: dict[str, Any], key: str, text: bool = False) -> Any:
    """The TPR@FPR cell: the number, or the flagged text with its interval (``metrics.low_fpr_text``)."""
    point = m.get("operating_points", {}).get(key)
    if point and point.get("flagged"):
        return metrics.low_fpr_text(point)
    return f"{m[key]:.3f}" if text else m[key]


def _slice_tables(settings: AuditSettings, runs: list[AttackRun], decision: verdict.Verdict, scored: Scored,
                  detect: dict[tuple[str, str], dict[str, Any]]) -> tuple[list[Table], dict[str, list[dict[str, Any]]]]:
    by_cell = {(c.kind, c.label, c.attack): c for c in decision.cells}
    level = 1.0 - settings.alpha / max(len(decision.cells), 1)
    tables, payload = [], {}
    for kind in settings.slices:
        rows, entries = [], []
        for label, mask in verdict.slice_groups(kind, scored.y, scored.loss, scored.correct):
            nm, nn = int((mask & scored.is_member).sum()), int((mask & ~scored.is_member).sum())
            statement = detect.get((kind, label))
            row: list[Any] = [label, nm, nn, None if statement is None else statement["auc"]]
            entry: dict[str, Any] = {"slice": label, "members": nm, "non_members": nn, "auc": {}, "ci": {},
                                     "p_adjusted": {},
                                     "detectable_auc": None if statement is None else statement["auc"]}
            for r in runs:
                cell = by_cell.get((kind, label, r.name))
                row.append(None if cell is None else f"{cell.auc:.3f} [{cell.ci[0]:.2f}, {cell.ci[1]:.2f}]")
                if cell is not None:
                    entry["auc"][r.name], entry["ci"][r.name] = cell.auc, list(cell.ci)
                    entry["p_adjusted"][r.name] = cell.p_adjusted
            rows.append(row)
            entries.append(entry)
        payload[kind] = entries
        tables.append(Table(f"AUC by {kind}", ["slice", "members", "non-members",
                                               f"detectable AUC ({power.DEFAULT_POWER:.0%} power)",
                                               *[r.name for r in runs]], rows,
                            f"AUC [simultaneous {level:.2%} interval: Bonferroni over {len(decision.cells)} slice "
                            f"cells, hull of logit-DeLong and Newcombe score intervals]; slices with fewer than "
                            f"{verdict.MIN_SLICE} members or non-members are not tested; detectable AUC = the smallest "
                            f"AUC a slice's test detects with {power.DEFAULT_POWER:.0%} power at level "
                            f"alpha/{decision.hypotheses} (docs/statistics.md, Power)"))
    return tables, payload


def _most_exposed(best: AttackRun, scored: Scored, top_k: int) -> list[dict[str, Any]]:
    m = scored.is_member
    order = np.argsort(-best.scores[m], kind="stable")[:top_k]
    return [{"index": int(scored.ids[m][i]), "label": int(scored.y[m][i]), "score": float(best.scores[m][i]),
             "loss": float(scored.loss[m][i]), "correct": bool(scored.correct[m][i])} for i in order]


def _build_report(subject: AuditSubject, settings: AuditSettings, runs: list[AttackRun], scored: Scored,
                  location: str) -> Report:
    decision = _verdict(settings, runs, scored)
    best = max(runs, key=lambda r: r.metrics["auc"])
    report = Report(kind="leak", title=f"Membership-inference audit of {location or 'model'}", schema=SCHEMA,
                    location=location)
    rejected = rejected_hypothesis(decision, runs)
    detect, slice_detect = power_statements(decision, runs, settings)
    report.verdict = _verdict_line(decision, best, settings, rejected, detect, slice_detect)
    is_member = scored.is_member
    acc_m, acc_n = float(np.mean(scored.correct[is_member])), float(np.mean(scored.correct[~is_member]))
    facts = subject.facts
    report.summary = {
        "model": facts["model"], "kind": facts["kind"], "dataset": facts["dataset"],
        "members": int(len(subject.members)), "non_members": int(len(subject.non_members)),
        "population": facts["population"], "evaluated_members": int(is_member.sum()),
        "evaluated_non_members": int((~is_member).sum()), "folds": settings.folds,
        "ground_truth": facts["ground_truth"], "backend": facts["backend"], "shots": facts["shots"],
        "member_accuracy": acc_m, "non_member_accuracy": acc_n, "generalisation_gap": acc_m - acc_n,
        "strongest_attack": best.name, "leaks": decision.leaks, "verdict_test": verdict.TEST_NAME,
        "alpha": settings.alpha, "hypotheses": decision.hypotheses, "rejected_hypothesis": rejected,
        "detectable_auc": detect,
    }
    report.tables.append(_attack_table(runs, decision, scored, settings))
    extra = _extra_protocol_table(runs)
    if extra is not None:
        report.tables.append(extra)
    slice_tables, slices_payload = _slice_tables(settings, runs, decision, scored, slice_detect)
    report.tables += slice_tables
    if decision.cells:
        worst = max(decision.cells, key=lambda c: c.auc)
        report.summary["worst_slice"] = {"slice": f"{worst.kind}: {worst.label}", "attack": worst.attack,
                                         "auc": worst.auc, "ci": list(worst.ci), "p_adjusted": worst.p_adjusted}
    exposed = _most_exposed(best, scored, settings.top_k)
    report.tables.append(Table(f"most exposed members ({best.name})", ["dataset index", "label", "score", "loss",
                                                                       "correct"],
                               [[e["index"], e["label"], e["score"], e["loss"], e["correct"]] for e in exposed]))
    for r in runs:
        fpr, tpr, _ = metrics.roc(r.scores, is_member)
        f, t = metrics.curve_points(fpr, tpr)
        report.curves.append(Curve(r.name, f, t, r.metrics["auc"]))
    report.measurements = _measurements(runs)
    report.seeds = {"audit": settings.seed, "folds": settings.seed, "calibration_split": settings.seed,
                    "bootstrap": settings.seed, "shots": settings.seed}
    report.settings = {"attacks": list(settings.attacks), "backend": settings.backend, "shots": settings.shots,
                       "slices": list(settings.slices), "forget_class": settings.forget_class,
                       "reference_models": settings.n_reference, "jobs": settings.n_jobs,
                       "attack_options": settings.attack_options, "folds": settings.folds, "alpha": settings.alpha,
                       "delta": settings.delta, "bootstrap": settings.n_bootstrap}
    payload: dict[str, Any] = {
        "attacks": {r.name: {"metrics": r.metrics, "seconds": round(r.seconds, 3), "details": r.details}
                    for r in runs},
        "verdict": decision.to_json(),
        "slices": slices_payload,
        "most_exposed": exposed,
        "score_histogram": evidence.score_histogram(decision.rejected, decision.cells, {r.name: r.scores for r in runs},
                                                    is_member, _slice_masks(settings, scored), best.name),
    }
    if settings.include_scores:
        payload["scores"] = {"index": scored.ids.tolist(), "is_member": is_member.tolist(),
                             "label": scored.y.tolist(), **{r.name: r.scores.tolist() for r in runs}}
    report.payload = payload
    return report


#: ``--fail-on`` values: ``leaks`` (the default: a LEAKS verdict is a finding, exit 1) or ``none``.
FAIL_ON = ("leaks", "none")


def verdict_finding(report: Report) -> Finding:
    """The LEAKS verdict as a gated check (``--fail-on leaks``): fails when a hypothesis was rejected."""
    summary = report.summary
    alpha = float(summary["alpha"])
    rejected = summary.get("rejected_hypothesis")
    if rejected is not None:
        return Finding("leak/verdict", rejected["hypothesis"], "p_adjusted", float(rejected["p_adjusted"]), alpha,
                       False, f"LEAKS: {rejected['hypothesis']} rejected (AUC {rejected['auc']:.3f}, adjusted p "
                       f"{rejected['p_adjusted']:.2g} <= alpha {alpha:g})", report.location, kind="verdict")
    smallest = min(report.payload["verdict"]["adjusted_p_values"].items(), key=lambda kv: kv[1])
    return Finding("leak/verdict", smallest[0], "p_adjusted", float(smallest[1]), alpha, True,
                   f"no hypothesis rejected (smallest adjusted p {smallest[1]:.2g} > alpha {alpha:g})",
                   report.location, kind="verdict")


def gate_bounds(report: Report) -> dict[tuple[str, str], tuple[float, str]]:
    """The figures the report flags unreliable, with the bound a gate compares instead (qaudit.report.gating's rule):
    the lower end of a flagged TPR@FPR's 95 % Clopper-Pearson interval."""
    bounds = {}
    for name, entry in report.payload.get("attacks", {}).items():
        for key, point in entry["metrics"].get("operating_points", {}).items():
            if point.get("flagged"):
                bounds[(name, key)] = (float(point["tpr_ci"][0]),
                                       f"{point['expected_false_positives']:.1f} expected false positives")
    return bounds


def _measurements(runs: list[AttackRun]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for r in runs:
        out[r.name] = {k: float(r.metrics[k]) for k in metrics.METRICS}
        if "member_rate" in r.details:
            out[r.name]["member_rate"] = float(r.details["member_rate"])
    return out
