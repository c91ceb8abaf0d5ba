"""One unlearning run: apply a method, verify it against the reference, and the model file it writes."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from qaudit.files.data import Dataset
from qaudit.files.model_file import ModelFile
from qaudit.sdk.host import get_host
from qaudit.sdk.progress import SILENT, Progress
from qaudit.sdk.protocols import UnlearningCost
from qaudit.unlearn.oracles import Reference
from qaudit.unlearn.request import ForgetSet, build_request, run_method
from qaudit.unlearn.verification import Judgement, Verifier, judge, public


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
        from qaudit.report.results import Finding

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
    from qaudit.files.model_file import from_portable

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
    from qaudit.files.model_file import portable
    from qaudit.run.parallel import run, using
    from qaudit.sdk.protocols import Job

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
