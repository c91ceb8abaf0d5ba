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
from qaudit.limits import MAX_ORACLES
from qaudit.model import ModelFile
from qaudit.plugins import get_host
from qaudit.progress import SILENT, Progress
from qaudit.protocols import UnlearningCost, UnlearningOutcome, UnlearningRequest
from qaudit.verification import Judgement, Verifier, judge, public

SCHEMA = "qaudit.unlearn/2"
COMPARE_SCHEMA = "qaudit.compare-unlearning/2"
#: Retrains in the reference by default (``--oracles``).
DEFAULT_ORACLES = 5
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
        """The forget-request checks as gate findings (exit 1 when a check fails): value = the interval bound
        compared with the margin (|bound| for forgetting, how far below retraining for utility)."""
        from qaudit.results import Finding

        j = self.judgement
        if j is None:
            return []
        out = []
        for c in j.checks:
            rule = c.key.replace("_", "-")
            message = f"{self.method}: {c.reason() if not c.passed else c.describe() + ': passed'}"
            out.append(Finding(f"unlearn/{rule}", self.method, f"{c.key}_vs_retraining", c.worst(), c.margin,
                               c.passed, message, location))
        return out


@dataclass
class Oracle:
    """One retrain: its model, snapshot, gradient cost, where it came from and its seed."""

    model: Any
    snapshot: dict[str, Any]
    gradient_evaluations: int
    source: str
    seed: int | None = None


@dataclass
class Reference:
    """The retraining reference: K retrains from independent seeds (or the given ``--oracle`` files)."""

    oracles: list[Oracle]

    @property
    def snapshots(self) -> list[dict[str, Any]]:
        return [o.snapshot for o in self.oracles]

    @property
    def gradient_evaluations(self) -> int:
        """Mean gradient evaluations of one retrain."""
        return int(round(float(np.mean([o.gradient_evaluations for o in self.oracles]))))

    @property
    def source(self) -> str:
        kinds = [o.source.split(" ")[0] for o in self.oracles]
        parts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds))
        return f"{len(self.oracles)} retrain{'s' if len(self.oracles) != 1 else ''} ({parts})"

    def light(self) -> Reference:
        """The reference without its models (what jobs on other processes need)."""
        return Reference([dataclasses.replace(o, model=None) for o in self.oracles])

    def summary(self) -> dict[str, Any]:
        """Every figure of the retrains as {mean, sd, values} (JSON), and their distances to each other."""
        snaps = self.snapshots
        figures: dict[str, list[Any]] = {f"accuracy.{k}": [s["accuracy"].get(k) for s in snaps]
                                         for k in snaps[0]["accuracy"]}
        for key in ("forget_mia", "holdout_mia", "forget_mia_auc"):
            figures[key] = [s.get(key) for s in snaps]
        figures.update({f"distance.{k}": v for k, v in Verifier.oracle_spread(snaps).items()})
        out = {}
        for key, values in figures.items():
            vals = [float(v) for v in values if v is not None]
            out[key] = {"mean": float(np.mean(vals)) if vals else None,
                        "sd": float(np.std(vals, ddof=1)) if len(vals) > 1 else None, "values": vals}
        return out

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "n": len(self.oracles), "seeds": [o.seed for o in self.oracles],
                "sources": [o.source for o in self.oracles], "gradient_evaluations": self.gradient_evaluations,
                "snapshots": [public(s) for s in self.snapshots], "summary": self.summary()}


def oracle_seeds(mf: ModelFile, n: int, avoid: set[int] | None = None) -> list[int]:
    """*n* retrain seeds derived from the model file's training seed (``SeedSequence``), none in *avoid*
    (the seed of a ``retrain`` run under test, so that run is independent of the reference)."""
    base = int(mf.data.seed) if mf.data is not None else int(mf.model.get_params().get("seed", 0) or 0)
    seeds: list[int] = []
    seq = np.random.SeedSequence([base, 0x4F52434C])
    while len(seeds) < n:
        for child in seq.spawn(n - len(seeds)):
            value = int(child.generate_state(1)[0])
            if value not in (avoid or set()) and value not in seeds:
                seeds.append(value)
    return seeds


def _train_oracle(bundle: Any, pool: Any, fs: ForgetSet, seed: int) -> tuple[Any, int, float]:
    """Job: one retrain (the ``oracle`` role's method) on the retained data with *seed*; (portable model file,
    gradient evaluations, seconds)."""
    from types import SimpleNamespace

    from qaudit.model import from_portable, portable

    mf = from_portable(bundle)
    X, y = pool
    name = get_host().role("unlearning", "oracle")
    request = build_request(get_host().get("unlearning", name), SimpleNamespace(X=X, y=y), fs, seed, {},
                            mf.model.n_classes or int(np.max(y)) + 1)
    outcome = run_method(name, mf.model, request)
    done = dataclasses.replace(mf, model=outcome.model)
    return portable(done), int(outcome.cost.gradient_evaluations), float(outcome.cost.seconds)


def _cached_oracle(mf: ModelFile, fs: ForgetSet, verifier: Verifier, seed: int) -> Oracle | None:
    """The cached retrain with *seed*, or None. An entry stored under another key, altered, or not a retrain
    of this model without the forget set is named in a warning and retrained
    (:func:`qaudit.checkpoints.read_model_entry`)."""
    from qaudit.checkpoints import cache_note, read_model_entry

    cached, key = oracle_cache_entry(mf, fs, seed)
    hit = read_model_entry(cached, key, ORACLE_SCHEMA, "oracle cache entry")
    if hit is None:
        return None
    cost = hit.training.get("gradient_evaluations", 0)
    if (hit.kind == mf.kind and hit.data is not None and np.array_equal(hit.data.members, fs.retain_ids)
            and isinstance(cost, int) and not isinstance(cost, bool) and cost > 0):
        return Oracle(hit.model, verifier.snapshot(hit.model), cost, f"cached {cached}", seed)
    cache_note(f"oracle cache entry {cached} not used and recomputed: it does not hold a retrain of this "
               "model without the forget set")
    return None


def _store_oracle(mf: ModelFile, fs: ForgetSet, seed: int, model: Any, cost: int, seconds: float) -> None:
    cached, key = oracle_cache_entry(mf, fs, seed)
    if cached is None or mf.data is None:
        return
    from qaudit.checkpoints import write_model_entry

    record = dataclasses.replace(mf.data, members=fs.retain_ids, excluded={"indices": fs.forget_ids.tolist()})
    training = {"seconds": round(seconds, 3), "gradient_evaluations": int(cost), "seed": int(seed)}
    write_model_entry(cached, key, ORACLE_SCHEMA, ModelFile(model, mf.kind, record, training, {"oracle_for": mf.path}),
                      "qaudit unlearn (retrain oracle)")  # the cache is an optimisation only


def given_oracle(oracle_mf: ModelFile, fs: ForgetSet, verifier: Verifier) -> Oracle:
    """An ``--oracle`` file as one retrain of the reference (rejected if it saw the forget set)."""
    if oracle_mf.data is not None and np.intersect1d(oracle_mf.data.members, fs.forget_ids).size:
        raise QauditError("--oracle was trained on samples of the forget set; train it with "
                          "`qaudit train --exclude-class ...` or `--exclude-indices ...`")
    cost = retrain_cost(oracle_mf, len(fs.retain_ids))
    seed = oracle_mf.model.get_params().get("seed")
    return Oracle(oracle_mf.model, verifier.snapshot(oracle_mf.model), cost, f"given {oracle_mf.path or ''}".strip(),
                  seed)


def make_reference(mf: ModelFile, dataset: Dataset, fs: ForgetSet, verifier: Verifier, n: int = DEFAULT_ORACLES,
                   avoid: set[int] | None = None, oracle_mfs: list[ModelFile] | None = None,
                   progress: Progress = SILENT, cache: bool = True, executor: Any = None,
                   seeds: list[int] | None = None) -> Reference:
    """*n* retrains on the retained data (same kind and options, seeds from :func:`oracle_seeds`, or *seeds*),
    each cached by content (:func:`oracle_cache_path`); missing ones are trained as jobs on *executor*.
    Given *oracle_mfs* (``--oracle`` files) are used instead."""
    from qaudit.limits import check_option

    if oracle_mfs:
        return Reference([given_oracle(o, fs, verifier) for o in oracle_mfs])
    check_option("--oracles", n, "int", 1, MAX_ORACLES)
    seeds = list(seeds) if seeds is not None else oracle_seeds(mf, n, avoid)
    found = {s: _cached_oracle(mf, fs, verifier, s) for s in seeds} if cache else {s: None for s in seeds}
    missing = [s for s in seeds if found[s] is None]
    if missing:
        from qaudit.model import from_portable, portable
        from qaudit.parallel import run, using
        from qaudit.protocols import Job

        with using(executor) as ex:
            pool = ex.share((dataset.X, dataset.y))
            jobs = [Job((portable(mf), pool, fs, s), seed=s, origin=f"retrain oracle (seed {s})") for s in missing]
            trained = run(_train_oracle, jobs, ex, progress, f"{len(jobs)} retrain oracle(s)")
        for s, (bundle, cost, seconds) in zip(missing, trained):
            model = from_portable(bundle).model
            if cache:
                _store_oracle(mf, fs, s, model, cost, seconds)
            found[s] = Oracle(model, verifier.snapshot(model), cost, "retrained", s)
    return Reference([found[s] for s in seeds])


def make_oracle(mf: ModelFile, dataset: Dataset, fs: ForgetSet, verifier: Verifier, seed: int,
                oracle_mf: ModelFile | None = None, progress: Progress = SILENT, cache: bool = True,
                executor: Any = None) -> Oracle:
    """One retrain with *seed* (or *oracle_mf*), cached like :func:`make_reference`'s."""
    if oracle_mf is not None:
        return given_oracle(oracle_mf, fs, verifier)
    return make_reference(mf, dataset, fs, verifier, 1, oracle_mfs=None, progress=progress, cache=cache,
                          executor=executor, seeds=[int(seed)]).oracles[0]


#: The envelope schema of an oracle cache entry (:func:`qaudit.checkpoints.envelope`).
ORACLE_SCHEMA = "qaudit.oracle/3"


def oracle_cache_path(mf: ModelFile, fs: ForgetSet, seed: int = 0) -> Any:
    """Where the retrain with *seed* for (this model file's bytes, this forget set) is cached, or None."""
    return oracle_cache_entry(mf, fs, seed)[0]


def oracle_cache_entry(mf: ModelFile, fs: ForgetSet, seed: int = 0) -> tuple[Any, str]:
    """(where the retrain with *seed* for this model file's bytes and this forget set is cached, or None; its
    key: the SHA-256 of all three). Folder: ``$QAUDIT_CACHE_DIR/oracles`` (default ``~/.cache/qaudit/oracles``);
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
    key = hashlib.sha256(content + b"\0" + fs.forget_ids.astype("<i8").tobytes() + b"\0"
                         + str(int(seed)).encode()).hexdigest()
    return root / "oracles" / f"{key[:24]}.json", key


def apply_method(method: str, mf: ModelFile, dataset: Dataset, fs: ForgetSet, verifier: Verifier,
                 reference: Reference, seed: int, options: dict[str, Any], retain_fraction: float = 1.0,
                 progress: Progress = SILENT, tolerance: dict[str, float] | None = None,
                 executor: Any = None) -> MethodResult:
    """Run *method* on the request, verify it and judge it against the retrains of *reference*.
    *executor* runs the method's independent jobs (SISA's shards)."""
    cls = get_host().get("unlearning", method)
    request = build_request(cls, dataset, fs, seed, options, mf.model.n_classes or dataset.n_classes,
                            retain_fraction, progress, executor)
    outcome = run_method(method, mf.model, request)
    after = verifier.snapshot(outcome.model)
    details = dict(outcome.details)
    used = details.pop("options", options)
    ratio = outcome.cost.gradient_evaluations / max(reference.gradient_evaluations, 1)
    distance = Verifier.reference_distance(after, reference.snapshots)
    judgement = judge(method, after, reference.snapshots, mf.model, outcome.model, verifier.is_forget, tolerance)
    return MethodResult(method, sorted(cls.needs), used, seed, outcome.model, outcome.cost, details, after,
                        distance, float(ratio), judgement)


def _compare_run(bundle: Any, verifier: Verifier, reference: Reference, method: str, seed: int,
                 options: dict[str, Any], retain_fraction: float = 1.0,
                 tolerance: dict[str, float] | None = None) -> dict[str, Any]:
    """Job: one (method, seed) run of ``compare-unlearning`` -- unlearn, verify, judge, as ``qaudit unlearn``
    does (:func:`apply_method`) -- as JSON."""
    from qaudit.model import from_portable

    mf = from_portable(bundle)
    r = apply_method(method, mf, verifier.dataset, verifier.fs, verifier, reference, seed, options, retain_fraction,
                     tolerance=tolerance)
    return {**r.to_json(), "distance": r.distance, "_mia_scores": r.after["_mia_scores"].tolist()}


def compare_runs(mf: ModelFile, verifier: Verifier, reference: Reference, seeds: list[int], methods: list[str],
                 options: dict[str, dict[str, Any]], progress: Progress = SILENT,
                 executor: Any = None, retain_fraction: float = 1.0,
                 tolerance: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Every (seed, method) run of ``compare-unlearning`` as independent jobs on *executor* (None: in this
    process), in seed-then-method order; the verifier (with the data) goes to the workers once."""
    from qaudit.model import portable
    from qaudit.parallel import run, using
    from qaudit.protocols import Job

    with using(executor) as ex:
        shared = ex.share(verifier)
        bundle = portable(mf)
        light = reference.light()  # the runs need the snapshots and costs only
        jobs = [Job((bundle, shared, light, name, seed, options[name], retain_fraction, tolerance), seed=seed,
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
