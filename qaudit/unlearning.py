"""Unlearning: resolve a forget request, run a method, build the oracle and the reports.

Every method is verified the same way (:mod:`qaudit.verification`: accuracies, the
cross-fitted forget-set MIA, distance to the retrain oracle) and judged the same way
(:func:`qaudit.verification.judge`: forget accuracy and forget-MIA AUC within tolerance of
the oracle); cost is reported relative to the oracle (per-sample gradient evaluations of the
method divided by those a retrain spends).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qaudit.data import Dataset, read_indices
from qaudit.errors import QauditError
from qaudit.model import ModelFile
from qaudit.plugins import get_host
from qaudit.progress import SILENT, Progress
from qaudit.protocols import UnlearningCost, UnlearningOutcome, UnlearningRequest
from qaudit.verification import Judgement, Verifier, judge, public

SCHEMA = "qaudit.unlearn/1"
COMPARE_SCHEMA = "qaudit.compare-unlearning/1"
#: Gateable metrics (``--fail-above``); higher is worse for all of them.
METRICS = ("forget_mia", "forget_mia_auc", "forget_accuracy", "retain_accuracy_drop", "holdout_accuracy_drop",
           "oracle_disagreement", "oracle_kl", "mia_auc_gap", "cost_ratio")


@dataclass
class ForgetSet:
    """Dataset indices to forget / retain (both subsets of the model's training members)."""

    forget_ids: np.ndarray
    retain_ids: np.ndarray
    classes: list[int] = field(default_factory=list)
    source: str = ""


def resolve_forget(mf: ModelFile, dataset: Dataset, forget_class: list[int] | None = None,
                   forget_indices: str | None = None) -> ForgetSet:
    """Turn ``--forget-class`` / ``--forget-indices`` into a validated :class:`ForgetSet`."""
    if mf.data is None:
        raise QauditError("the model file has no data record, so its training members are unknown")
    members = mf.data.members
    if not forget_class and not forget_indices:
        raise QauditError("say what to forget: --forget-class C or --forget-indices FILE")
    if forget_class and forget_indices:
        raise QauditError("use either --forget-class or --forget-indices, not both")
    classes: list[int] = []
    if forget_class:
        present = set(dataset.y.tolist())
        if len(set(forget_class)) != len(forget_class):
            raise QauditError(f"--forget-class lists a class twice: {forget_class}")
        missing = [c for c in forget_class if c not in present]
        if missing:
            raise QauditError(f"class(es) {missing} do not exist in dataset {dataset.name!r} "
                              f"(classes {min(present)}..{max(present)})")
        classes = sorted(int(c) for c in forget_class)
        forget = members[np.isin(dataset.y[members], classes)]
        if forget.size == 0:
            raise QauditError(f"the model has no training members of class(es) {classes}: nothing to forget")
        source = f"class {','.join(map(str, classes))}"
    else:
        idx = read_indices(forget_indices, len(dataset))
        outside = np.setdiff1d(idx, members)
        if outside.size:
            raise QauditError(f"{forget_indices}: {outside.size} index(es) (e.g. {int(outside[0])}) are not "
                              "training members of this model")
        forget = np.sort(idx)
        source = f"indices from {forget_indices}"
    retain = np.setdiff1d(members, forget)
    if retain.size == 0:
        raise QauditError("the forget set covers every training member: nothing would remain "
                          "(train a new model instead)")
    return ForgetSet(np.sort(forget), retain, classes, source)


def build_request(method: Any, dataset: Dataset, fs: ForgetSet, seed: int, options: dict[str, Any],
                  n_classes: int, retain_fraction: float = 1.0, progress: Progress | None = None,
                  executor: Any = None) -> UnlearningRequest:
    """The data *method* declared it needs, and nothing else.

    ``retain_fraction`` < 1 hands over only a seeded fraction of the retained data
    (0 = none available): methods needing it then fail with a clear error.
    """
    needs = set(method.needs)
    if not 0.0 <= retain_fraction <= 1.0:
        raise QauditError("--retain-fraction must lie in [0, 1]")
    retain = fs.retain_ids
    if retain_fraction < 1.0:
        k = int(round(retain_fraction * len(retain)))
        retain = np.sort(np.random.default_rng(seed).choice(retain, k, replace=False)) if k else retain[:0]
    request = UnlearningRequest(dataset.X[fs.forget_ids], dataset.y[fs.forget_ids], seed=seed,
                                options=dict(options), progress=progress, forget_ids=fs.forget_ids,
                                forget_classes=list(fs.classes), n_classes=n_classes, executor=executor)
    if needs & {"retain", "train"}:
        if len(retain) == 0:
            what = "the retained training data" if "retain" in needs else "the training data"
            raise QauditError(f"method {method.name!r} needs {what}, but no retained data is available "
                              "(use a method that needs only the forget set, e.g. ga)")
        request.X_retain, request.y_retain, request.retain_ids = dataset.X[retain], dataset.y[retain], retain
    return request


def preflight(method: str, mf: ModelFile, dataset: Dataset, fs: ForgetSet, seed: int, options: dict[str, Any],
              retain_fraction: float = 1.0) -> None:
    """Reject a request before any expensive work: unknown method, unusable model or options
    (methods may define ``check(model, options)``), missing retained data, a bad seed."""
    from qaudit.limits import check_seed

    check_seed(seed)
    cls = get_host().get("unlearning", method)
    instance = cls()
    if callable(getattr(instance, "check", None)):  # optional UnlearningMethod member
        instance.check(mf.model, dict(options))
    build_request(cls, dataset, fs, seed, options, mf.model.n_classes or dataset.n_classes,
                  retain_fraction)


def run_method(name: str, model: Any, request: UnlearningRequest) -> UnlearningOutcome:
    """Run unlearning method *name*; checks the input model is left untouched."""
    method = get_host().get("unlearning", name)()
    before = {k: v.copy() for k, v in model.weights.items()}
    start = time.perf_counter()
    outcome = method.unlearn(model, request)
    if not outcome.cost.seconds:
        outcome.cost.seconds = time.perf_counter() - start
    after = model.weights
    if any(not np.array_equal(before[k], after[k]) for k in before):
        raise QauditError(f"unlearning method {name!r} modified its input model (a plugin bug)")
    if outcome.model is model:
        raise QauditError(f"unlearning method {name!r} returned its input model instead of a new one")
    return outcome


def retrain_cost(mf: ModelFile, n_retain: int) -> int:
    """Per-sample gradient evaluations of a retrain on *n_retain* samples (from the model's options)."""
    model = mf.model
    spent = getattr(model, "gradient_evaluations", None)  # optional Model member
    if spent:
        n_members = len(mf.data.members) if mf.data is not None else n_retain
        return int(round(spent * n_retain / max(n_members, 1)))
    epochs = model.get_params().get("epochs")
    if epochs is None:
        epochs = len(mf.training.get("loss_history", [])) or 1
    return int(epochs) * int(n_retain)


@dataclass
class MethodResult:
    """One method's run on one request: new model, cost, details and measurements."""

    method: str
    needs: list[str]
    options: dict[str, Any]
    seed: int
    model: Any
    cost: UnlearningCost
    details: dict[str, Any]
    after: dict[str, Any]
    distance: dict[str, float | None]
    cost_ratio: float
    judgement: Judgement | None = None

    def measurements(self, before: dict[str, Any]) -> dict[str, float]:
        """The gateable numbers (see :data:`METRICS`)."""
        a, b = self.after["accuracy"], before["accuracy"]
        values = {"forget_mia": self.after["forget_mia"], "forget_mia_auc": self.after["forget_mia_auc"],
                  "forget_accuracy": a["forget"], "retain_accuracy_drop": b["retain"] - a["retain"],
                  "holdout_accuracy_drop": b["holdout"] - a["holdout"],
                  "oracle_disagreement": 1.0 - self.distance["forget_agreement"],
                  "oracle_kl": self.distance["forget_kl"], "mia_auc_gap": self.distance["mia_auc_gap"],
                  "cost_ratio": self.cost_ratio}
        return {k: float(v) for k, v in values.items() if v is not None}

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "needs": self.needs, "options": self.options, "seed": self.seed,
                "cost": self.cost.to_json(), "cost_ratio": self.cost_ratio, "details": self.details,
                "after": public(self.after), "distance_to_oracle": self.distance,
                "judgement": self.judgement.to_json() if self.judgement is not None else None}

    def findings(self, location: str) -> list[Any]:
        """The forget-request checks as gate findings (exit 1 when a check fails)."""
        from qaudit.results import Finding

        j = self.judgement
        if j is None:
            return []
        out = []
        checks = (("forget-accuracy", "forget_accuracy_vs_oracle", self.distance_value("accuracy"), "accuracy"),
                  ("forget-mia-auc", "forget_mia_auc_vs_oracle", self.distance.get("mia_auc_gap"), "auc"))
        for rule, metric, value, key in checks:
            if value is None:
                continue
            ok = value <= j.tolerance[key]
            message = (f"{self.method}: {metric.replace('_', ' ')} {value:.3f} "
                       f"{'<=' if ok else '>'} tolerance {j.tolerance[key]:g}" + ("" if ok else f" ({j.reason})"))
            out.append(Finding(f"unlearn/{rule}", self.method, metric, float(value), float(j.tolerance[key]), ok,
                               message, location))
        return out

    def distance_value(self, key: str) -> float | None:
        """|forget accuracy - oracle's| (key ``accuracy``)."""
        return self.distance.get("forget_accuracy_gap") if key == "accuracy" else None


@dataclass
class Oracle:
    """The retrain oracle: its model, snapshot and gradient cost."""

    model: Any
    snapshot: dict[str, Any]
    gradient_evaluations: int
    source: str


def make_oracle(mf: ModelFile, dataset: Dataset, fs: ForgetSet, verifier: Verifier, seed: int,
                oracle_mf: ModelFile | None = None, progress: Progress = SILENT, cache: bool = True,
                executor: Any = None) -> Oracle:
    """Train the retrain oracle (same kind, options and seed, retained data only) or use *oracle_mf*.

    A trained oracle is cached (see :func:`oracle_cache_path`) so repeated
    requests on the same model file and forget set do not retrain it.
    """
    if oracle_mf is not None:
        if oracle_mf.data is not None and np.intersect1d(oracle_mf.data.members, fs.forget_ids).size:
            raise QauditError("--oracle was trained on samples of the forget set; train it with "
                              "`qaudit train --exclude-class ...` or `--exclude-indices ...`")
        cost = retrain_cost(oracle_mf, len(fs.retain_ids))
        return Oracle(oracle_mf.model, verifier.snapshot(oracle_mf.model), cost, oracle_mf.path or "given")
    from qaudit.checkpoints import cache_note, read_model_entry, write_model_entry

    cached, key = oracle_cache_entry(mf, fs) if cache else (None, "")
    hit = read_model_entry(cached, key, ORACLE_SCHEMA, "oracle cache entry")
    if hit is not None:
        cost = hit.training.get("gradient_evaluations", 0)
        if (hit.kind == mf.kind and hit.data is not None and np.array_equal(hit.data.members, fs.retain_ids)
                and isinstance(cost, int) and not isinstance(cost, bool) and cost > 0):
            return Oracle(hit.model, verifier.snapshot(hit.model), cost, f"cached {cached}")
        cache_note(f"oracle cache entry {cached} not used and recomputed: it does not hold a retrain of this "
                   "model without the forget set")
    oracle_method = get_host().role("unlearning", "oracle")
    request = build_request(get_host().get("unlearning", oracle_method), dataset, fs, seed, {},
                            mf.model.n_classes or dataset.n_classes, progress=progress, executor=executor)
    outcome = run_method(oracle_method, mf.model, request)
    if cached is not None and mf.data is not None:
        record = dataclasses.replace(mf.data, members=fs.retain_ids,
                                     excluded={"indices": fs.forget_ids.tolist()})
        training = {"seconds": round(outcome.cost.seconds, 3),
                    "gradient_evaluations": int(outcome.cost.gradient_evaluations)}
        write_model_entry(cached, key, ORACLE_SCHEMA, ModelFile(outcome.model, mf.kind, record, training,
                                                                 {"oracle_for": mf.path}),
                          "qaudit unlearn (retrain oracle)")  # the cache is an optimisation only
    return Oracle(outcome.model, verifier.snapshot(outcome.model), outcome.cost.gradient_evaluations, "retrained")


#: The envelope schema of an oracle cache entry (:func:`qaudit.checkpoints.envelope`).
ORACLE_SCHEMA = "qaudit.oracle/2"


def oracle_cache_entry(mf: ModelFile, fs: ForgetSet) -> tuple[Any, str]:
    """(where the retrain oracle for this model file's bytes and this forget set is cached, or None; its key:
    the SHA-256 of both). Folder: ``$QAUDIT_CACHE_DIR/oracles`` (default ``~/.cache/qaudit/oracles``);
    ``QAUDIT_CACHE_DIR=off`` disables the cache. Entries carry the key and the hash of their content, checked
    on load (:func:`qaudit.checkpoints.read_model_entry`)."""
    import hashlib

    from qaudit.checkpoints import cache_root
    from qaudit.io import read_bytes_limited
    from qaudit.model import MAX_FILE_BYTES

    root = cache_root()
    if root is None or not mf.path:
        return None, ""
    try:
        content = read_bytes_limited(mf.path, MAX_FILE_BYTES, "model file")
    except (OSError, QauditError):
        return None, ""
    key = hashlib.sha256(content + b"\0" + fs.forget_ids.astype("<i8").tobytes()).hexdigest()
    return root / "oracles" / f"{key[:24]}.json", key


def oracle_cache_path(mf: ModelFile, fs: ForgetSet) -> Any:
    """Where the retrain oracle for (this model file's bytes, this forget set) is cached, or None."""
    return oracle_cache_entry(mf, fs)[0]


def apply_method(method: str, mf: ModelFile, dataset: Dataset, fs: ForgetSet, verifier: Verifier,
                 oracle: Oracle | None, seed: int, options: dict[str, Any], retain_fraction: float = 1.0,
                 progress: Progress = SILENT, tolerance: dict[str, float] | None = None,
                 executor: Any = None) -> MethodResult:
    """Run *method* on the request, verify and judge the result (``oracle=None``: the result is its
    own oracle, as for ``retrain``). *executor* runs the method's independent jobs (SISA's shards)."""
    cls = get_host().get("unlearning", method)
    request = build_request(cls, dataset, fs, seed, options, mf.model.n_classes or dataset.n_classes,
                            retain_fraction, progress, executor)
    outcome = run_method(method, mf.model, request)
    after = verifier.snapshot(outcome.model)
    details = dict(outcome.details)
    used = details.pop("options", options)
    if oracle is None:
        oracle = Oracle(outcome.model, after, outcome.cost.gradient_evaluations, "this run")
    ratio = outcome.cost.gradient_evaluations / max(oracle.gradient_evaluations, 1)
    distance = Verifier.distance(after, oracle.snapshot)
    judgement = judge(method, after, oracle.snapshot, mf.model, outcome.model, tolerance)
    return MethodResult(method, sorted(cls.needs), used, seed, outcome.model, outcome.cost, details, after,
                        distance, float(ratio), judgement)


def _compare_run(bundle: Any, verifier: Verifier, oracle: Oracle, method: str, seed: int,
                 options: dict[str, Any]) -> dict[str, Any]:
    """Job: one (method, seed) run of ``compare-unlearning`` -- unlearn, verify, judge -- as JSON."""
    from qaudit.model import from_portable

    mf = from_portable(bundle)
    r = apply_method(method, mf, verifier.dataset, verifier.fs, verifier, oracle, seed, options, 1.0)
    return {**r.to_json(), "distance": r.distance}


def compare_runs(mf: ModelFile, verifier: Verifier, oracle: Oracle, seeds: list[int], methods: list[str],
                 options: dict[str, dict[str, Any]], progress: Progress = SILENT,
                 executor: Any = None) -> list[dict[str, Any]]:
    """Every (seed, method) run of ``compare-unlearning`` as independent jobs on *executor* (None: in this
    process), in seed-then-method order; the verifier (with the data) goes to the workers once."""
    from qaudit.model import portable
    from qaudit.parallel import run, using
    from qaudit.protocols import Job

    with using(executor) as ex:
        shared = ex.share(verifier)
        bundle = portable(mf)
        light_oracle = dataclasses.replace(oracle, model=None)  # the runs need its snapshot and cost only
        jobs = [Job((bundle, shared, light_oracle, name, seed, options[name]), seed=seed,
                    origin=f"compare-unlearning {name}") for seed in seeds for name in methods]
        return run(_compare_run, jobs, ex, progress, f"{len(jobs)} unlearning runs")


def unlearned_model_file(mf: ModelFile, result: MethodResult, fs: ForgetSet) -> ModelFile:
    """The output model file: same data record, provenance of the unlearning appended."""
    prov = {k: v for k, v in mf.provenance.items() if k not in ("created", "command")}
    history = list(prov.get("unlearning", []))
    history.append({"method": result.method, "options": result.options, "seed": result.seed,
                    "forget": {"source": fs.source, "classes": fs.classes, "indices": fs.forget_ids.tolist()},
                    "cost": result.cost.to_json(), "from": mf.path})
    prov["unlearning"] = history
    data = mf.data
    if data is not None:
        excluded = dict(data.excluded)
        excluded["unlearned_indices"] = sorted(set(excluded.get("unlearned_indices", [])) |
                                               set(fs.forget_ids.tolist()))
        data = dataclasses.replace(data, excluded=excluded)
    return ModelFile(result.model, mf.kind, data, dict(mf.training), prov)


# ----------------------------------------------------------------------------- reports
def _pct(v: Any) -> Any:
    return None if v is None else f"{100.0 * float(v):.1f}"


def _arrow(before: float | None, after: float | None, percent: bool = True) -> str:
    if before is None or after is None:
        return "n/a"
    if percent:
        return f"{100 * before:.1f}% -> {100 * after:.1f}%"
    return f"{before:.3f} -> {after:.3f}"


def unlearn_report(mf: ModelFile, fs: ForgetSet, before: dict[str, Any], oracle: Oracle, result: MethodResult,
                   out_path: str, settings: dict[str, Any]) -> Any:
    """A :class:`qaudit.results.Report` for one ``qaudit unlearn`` run."""
    from qaudit.results import Report, Table

    a, b, o = result.after, before, oracle.snapshot
    rep = Report(kind="unlearn", title=f"unlearning {mf.path} with {result.method} ({fs.source})", schema=SCHEMA,
                 location=mf.path or "", seeds={"seed": result.seed}, settings=settings)
    acc = Table("accuracy and membership leakage (%)", ["measure", "before", "after", "oracle"])
    rows = [("forget-set accuracy", "forget"), ("retained accuracy", "retain"), ("holdout accuracy", "holdout")]
    if fs.classes:
        rows += [("holdout accuracy, forget classes", "holdout_forget_classes"),
                 ("holdout accuracy, other classes", "holdout_other_classes")]
    for label, key in rows:
        acc.rows.append([label, _pct(b["accuracy"].get(key)), _pct(a["accuracy"].get(key)),
                         _pct(o["accuracy"].get(key))])
    acc.rows.append(["forget MIA (paper: members called member)", _pct(b["forget_mia"]), _pct(a["forget_mia"]),
                     _pct(o["forget_mia"])])
    acc.rows.append(["holdout MIA (same classes called member)", _pct(b["holdout_mia"]), _pct(a["holdout_mia"]),
                     _pct(o["holdout_mia"])])
    acc.rows.append(["forget MIA AUC vs holdout (x100)", _pct(b["forget_mia_auc"]), _pct(a["forget_mia_auc"]),
                     _pct(o["forget_mia_auc"])])
    folds = b.get("mia_folds", 1)
    acc.note = (f"{settings.get('attack', 'verification')} attack fitted on the original model ({folds}-fold "
                "cross-fitting: no forget or holdout sample is scored by an attack that saw it), applied to each "
                "model's outputs; AUC compares forget members with holdout samples of the same classes "
                "(50 = indistinguishable)")
    dist = Table("distance to the retrain oracle", ["measure", "value"], [
        ["prediction agreement, forget set", result.distance["forget_agreement"]],
        ["prediction agreement, holdout", result.distance["holdout_agreement"]],
        ["mean KL(oracle || unlearned), forget set", result.distance["forget_kl"]],
        ["mean KL(oracle || unlearned), holdout", result.distance["holdout_kl"]],
        ["|forget accuracy - oracle's|", result.distance["forget_accuracy_gap"]],
        ["|forget MIA AUC - oracle's|", result.distance["mia_auc_gap"]]])
    c = result.cost
    cost = Table("cost", ["measure", result.method, f"retrain oracle ({oracle.source})"], [
        ["gradient evaluations (per sample)", c.gradient_evaluations, oracle.gradient_evaluations],
        ["circuit evaluations (per sample)", c.circuit_evaluations, None],
        ["seconds", round(c.seconds, 3), None],
        ["gradient evaluations relative to retraining", round(result.cost_ratio, 4), 1.0]])
    rep.tables = [acc, dist, cost]
    rep.summary = {"method": result.method, "forget_set": fs.source, "forget_samples": int(len(fs.forget_ids)),
                   "forget_accuracy": _arrow(b["accuracy"]["forget"], a["accuracy"]["forget"]),
                   "retain_accuracy": _arrow(b["accuracy"]["retain"], a["accuracy"]["retain"]),
                   "forget_mia": _arrow(b["forget_mia"], a["forget_mia"]),
                   "forget_mia_auc": _arrow(b["forget_mia_auc"], a["forget_mia_auc"], percent=False),
                   "cost_vs_retraining": f"{100 * result.cost_ratio:.2f}%", "output": out_path}
    if result.judgement is not None:
        rep.summary["forget_request"] = "met" if result.judgement.met else "not met"
    rep.measurements = {result.method: result.measurements(before)}
    judged = f"{result.judgement.reason}. " if result.judgement is not None else ""
    forget_acc = _arrow(b["accuracy"]["forget"], a["accuracy"]["forget"])
    rep.verdict = (f"{judged}{result.method}: forget accuracy {forget_acc}"
                   f" (oracle {100 * o['accuracy']['forget']:.1f}%), retained "
                   f"{_arrow(b['accuracy']['retain'], a['accuracy']['retain'])}, forget MIA AUC "
                   f"{_arrow(b['forget_mia_auc'], a['forget_mia_auc'], percent=False)} (oracle "
                   f"{'n/a' if o['forget_mia_auc'] is None else format(o['forget_mia_auc'], '.3f')}), cost "
                   f"{100 * result.cost_ratio:.1f}% of retraining")
    rep.payload = {"model": mf.path, "output": out_path,
                   "forget": {"source": fs.source, "classes": fs.classes, "n": int(len(fs.forget_ids)),
                              "n_retain": int(len(fs.retain_ids))},
                   "before": public(before), "oracle": {"source": oracle.source, "snapshot": public(o),
                                                         "gradient_evaluations": oracle.gradient_evaluations},
                   "result": result.to_json()}
    return rep


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def compare_report(mf: ModelFile, fs: ForgetSet, runs: list[dict[str, Any]], settings: dict[str, Any]) -> Any:
    """The paper's comparative table over methods, mean ± std across seeds (and shot counts)."""
    from qaudit.results import Report, Table

    rep = Report(kind="compare-unlearning", title=f"unlearning methods on {mf.path} ({fs.source})",
                 schema=COMPARE_SCHEMA, location=mf.path or "", settings=settings)
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["method"], run["shots"]), []).append(run)
    cols = ["method", "shots", "data needed", "grad evals", "cost vs retrain %", "seconds", "forget acc %",
            "retained acc %", "holdout acc %", "forget MIA %", "forget MIA AUC", "oracle agreement",
            "oracle KL", "MIA AUC gap"]
    table = Table("unlearning methods (mean ± std across seeds)", cols)
    rows_json = []

    def ms(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
        m, s = _mean_std([None if v is None else v * scale for v in values])
        return f"{m:.{digits}f} ± {s:.{digits}f}" if len(values) > 1 else f"{m:.{digits}f}"

    for (method, shots), rs in groups.items():
        def get(*path: str, rs: list[dict[str, Any]] = rs) -> list[Any]:
            return [_dig(r, path) for r in rs]

        table.rows.append([method, shots or "exact", ", ".join(rs[0]["needs"]),
                           ms(get("cost", "gradient_evaluations"), digits=0), ms(get("cost_ratio"), 100),
                           ms(get("cost", "seconds"), digits=2), ms(get("after", "accuracy", "forget"), 100),
                           ms(get("after", "accuracy", "retain"), 100), ms(get("after", "accuracy", "holdout"), 100),
                           ms(get("after", "forget_mia"), 100), ms(get("after", "forget_mia_auc"), digits=3),
                           ms(get("distance", "forget_agreement"), digits=3),
                           ms(get("distance", "forget_kl"), digits=3), ms(get("distance", "mia_auc_gap"), digits=3)])
        summary = {k: _mean_std(get(*p)) for k, p in (
            ("forget_accuracy", ("after", "accuracy", "forget")), ("retain_accuracy", ("after", "accuracy", "retain")),
            ("forget_mia", ("after", "forget_mia")), ("forget_mia_auc", ("after", "forget_mia_auc")),
            ("cost_ratio", ("cost_ratio",)), ("oracle_kl", ("distance", "forget_kl")))}
        rows_json.append({"method": method, "shots": shots, "n_seeds": len(rs),
                          "mean": {k: v[0] for k, v in summary.items()}, "std": {k: v[1] for k, v in summary.items()}})
        rep.measurements[method if shots is None else f"{method}@{shots}"] = {
            "forget_mia": summary["forget_mia"][0], "forget_mia_auc": summary["forget_mia_auc"][0],
            "forget_accuracy": summary["forget_accuracy"][0], "cost_ratio": summary["cost_ratio"][0]}
    base = runs[0]["before"]
    orc = runs[0]["oracle"]
    ref = Table("reference points (first seed)", ["model", "forget acc %", "retained acc %", "holdout acc %",
                                                  "forget MIA %", "forget MIA AUC"])
    for label, snap in (("original", base), ("retrain oracle", orc)):
        ref.rows.append([label, _pct(snap["accuracy"]["forget"]), _pct(snap["accuracy"]["retain"]),
                         _pct(snap["accuracy"]["holdout"]), _pct(snap["forget_mia"]), f"{snap['forget_mia_auc']:.3f}"])
    rep.tables = [ref, table]
    rep.summary = {"methods": sorted({r["method"] for r in runs}), "seeds": sorted({r["seed"] for r in runs}),
                   "forget_set": fs.source}
    rep.verdict = f"compared {len(groups)} method/shot setting(s) over {len({r['seed'] for r in runs})} seed(s)"
    rep.payload = {"model": mf.path, "rows": rows_json, "runs": runs}
    return rep


def _dig(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for p in path:
        d = d.get(p) if isinstance(d, dict) else None
    return d


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

    from qaudit.query import predict_proba

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
    from qaudit.parallel import using
    from qaudit.protocols import Job

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
    from qaudit.results import Table

    report.tables.append(Table("forget quality (NeurIPS 2023 unlearning challenge measure)", ["measure", "value"], [
        ["models per side (seeds)", f"{fq['n_models']} ({', '.join(map(str, fq['seeds']))})"],
        ["forget quality (1 = like retraining)", fq["forget_quality"]],
        ["mean per-example epsilon", fq["epsilon_mean"]], ["max per-example epsilon", fq["epsilon_max"]],
        ["largest epsilon measurable with this N", fq["epsilon_cap"]]]))
    report.payload["forget_quality"] = fq
    report.summary["forget_quality"] = fq["forget_quality"]


def parse_gate(fail_above: str | dict[str, float] | list[Any] | None) -> list[Any]:
    """``--fail-above`` of ``unlearn``/``compare-unlearning`` parsed against the metrics they report (one-line
    error on an unknown metric), before any work."""
    from qaudit.gating import parse_thresholds
    from qaudit.ulira import METRICS as ULIRA_METRICS

    return fail_above if isinstance(fail_above, list) else parse_thresholds(fail_above, (*METRICS, *ULIRA_METRICS))


def check_forget_quality(n_models: int) -> None:
    """``--forget-quality N``: 0 (off) or 2..MAX_FORGET_QUALITY_MODELS model pairs (each trains a model, unlearns
    it and retrains an oracle)."""
    from qaudit.limits import MAX_FORGET_QUALITY_MODELS, check_option

    check_option("--forget-quality", n_models, "int", 0, MAX_FORGET_QUALITY_MODELS,
                 hint="0 = off; each model pair trains, unlearns and retrains once")
    if n_models == 1:
        raise QauditError("--forget-quality needs at least 2 models per side (or 0 for off)")


def gate(report: Any, fail_above: str | dict[str, float] | list[Any] | None,
         judged: list[Any] | None = None) -> list[Any]:
    """Attach the forget-request checks (*judged*) and ``--fail-above`` thresholds (a string as on the command
    line, or parsed :class:`qaudit.gating.Threshold` s) as *report*'s findings; return the failed ones."""
    from qaudit.gating import check_thresholds

    thresholds = parse_gate(fail_above)
    findings = list(judged or [])
    if thresholds:
        findings += check_thresholds(report.measurements, thresholds, "unlearn", report.location)
    if findings:
        report.apply_findings(findings)
    return report.failed
