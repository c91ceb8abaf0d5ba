"""The ``qaudit unlearn`` and ``qaudit compare-unlearning`` reports (tables, ROC curves, verdict, JSON payload).

Every figure of the unlearned model stands beside the retrains' mean ± standard deviation (K retrains
from independent seeds, :class:`qaudit.unlearn.Reference`); the judgement's checks
(:mod:`qaudit.unlearn.equivalence`) get their own table with intervals and margins.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.files.model_file import ModelFile
from qaudit.unlearn import COMPARE_SCHEMA, SCHEMA, ForgetSet, MethodResult, Reference
from qaudit.unlearn.verification import TEST_NAME, public


def _pct(v: Any) -> Any:
    return None if v is None else f"{100.0 * float(v):.1f}"


def _arrow(before: float | None, after: float | None, percent: bool = True) -> str:
    if before is None or after is None:
        return "n/a"
    if percent:
        return f"{100 * before:.1f}% -> {100 * after:.1f}%"
    return f"{before:.3f} -> {after:.3f}"


def _spread(summary: dict[str, Any], key: str, percent: bool = True) -> str | None:
    """``57.1 ± 1.2`` (mean ± sd over the retrains) of *key* in a :meth:`Reference.summary`."""
    entry = summary.get(key)
    if entry is None or entry["mean"] is None:
        return None
    scale, digits = (100.0, 1) if percent else (1.0, 3)
    sd = entry["sd"]
    return f"{scale * entry['mean']:.{digits}f}" + ("" if sd is None else f" ± {scale * sd:.{digits}f}")


def _accuracy_table(fs: ForgetSet, b: dict[str, Any], a: dict[str, Any], ref: dict[str, Any], k: int,
                    settings: dict[str, Any]) -> Any:
    from qaudit.report.results import Table

    acc = Table("accuracy and membership leakage (%)",
                ["measure", "before", "after", f"retraining (mean ± sd, {k} retrains)"])
    rows = [("forget-set accuracy", "forget"), ("retained accuracy", "retain"), ("holdout accuracy", "holdout")]
    if fs.classes:
        rows += [("holdout accuracy, forget classes", "holdout_forget_classes"),
                 ("holdout accuracy, other classes", "holdout_other_classes")]
    for label, key in rows:
        acc.rows.append([label, _pct(b["accuracy"].get(key)), _pct(a["accuracy"].get(key)),
                         _spread(ref, f"accuracy.{key}")])
    acc.rows.append(["forget MIA (paper: members called member)", _pct(b["forget_mia"]), _pct(a["forget_mia"]),
                     _spread(ref, "forget_mia")])
    acc.rows.append(["holdout MIA (same classes called member)", _pct(b["holdout_mia"]), _pct(a["holdout_mia"]),
                     _spread(ref, "holdout_mia")])
    acc.rows.append(["forget MIA AUC vs holdout (x100)", _pct(b["forget_mia_auc"]), _pct(a["forget_mia_auc"]),
                     _spread(ref, "forget_mia_auc")])
    acc.note = (f"{settings.get('attack', 'verification')} attack fitted on the original model "
                f"({b.get('mia_folds', 1)}-fold cross-fitting: no forget or holdout sample is scored by an attack "
                "that saw it), applied to each model's outputs; AUC compares forget members with holdout samples "
                "of the same classes (50 = indistinguishable)")
    return acc


def _judgement_table(result: MethodResult) -> Any:
    from qaudit.report.results import Table

    table = Table("forget request: tests against retraining", ["check", "test", f"{result.method} [95 % CI]",
                                                              "retraining mean ± sd", "difference [interval]",
                                                              "margin", "result"])
    for c in result.judgement.checks:
        lo, hi = c.value_interval
        dlo, dhi = c.interval
        table.rows.append([c.label, c.kind, f"{c._num(c.value)} [{c._num(lo)}, {c._num(hi)}]",
                           f"{c._num(c.reference_mean)} ± {c._num(c.reference_sd)}",
                           f"{c._num(c.difference)} [{c._num(dlo)}, {c._num(dhi)}]",
                           ("±" if c.kind == "equivalence" else "-") + c._num(c.margin),
                           "pass" if c.passed else "FAIL"])
    table.note = (f"{TEST_NAME}; α = {result.judgement.to_json()['alpha']} per check and for 'met' as a whole. "
                  "Accuracies and margins in %, AUC as a number; interval = 90 % for equivalence (TOST), one-sided "
                  "95 % lower bound for non-inferiority (docs/statistics.md §8)")
    return table


def _distance_table(result: MethodResult, ref: dict[str, Any]) -> Any:
    from qaudit.report.results import Table

    rows = [("prediction agreement, forget set", "forget_agreement"), ("prediction agreement, holdout",
                                                                       "holdout_agreement"),
            ("mean KL(retrain || model), forget set", "forget_kl"),
            ("mean KL(retrain || model), holdout", "holdout_kl"),
            ("|forget accuracy - retrain's|", "forget_accuracy_gap"), ("|forget MIA AUC - retrain's|", "mia_auc_gap")]
    return Table("distance to retraining", ["measure", f"{result.method} vs the retrains (mean)",
                                            "retrains vs each other (mean ± sd)"],
                 [[label, result.distance[key], _spread(ref, f"distance.{key}", percent=False)]
                  for label, key in rows])


def _curves(verifier_mask: np.ndarray, snaps: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Forget-set ROC curves (forget members vs matched holdout) of each model's verification scores."""
    from qaudit.leak import metrics
    from qaudit.report.results import Curve

    out = []
    for label, snap in snaps:
        scores = snap.get("_mia_scores")
        if scores is None or verifier_mask.sum() < 1 or (~verifier_mask).sum() < 1:
            continue
        fpr, tpr, _ = metrics.roc(scores, verifier_mask)
        out.append(Curve(label, [float(v) for v in fpr], [float(v) for v in tpr], snap.get("forget_mia_auc")))
    return out


def unlearn_report(mf: ModelFile, fs: ForgetSet, before: dict[str, Any], reference: Reference,
                   result: MethodResult, out_path: str, settings: dict[str, Any],
                   is_forget: np.ndarray | None = None) -> Any:
    """A :class:`qaudit.report.results.Report` for one ``qaudit unlearn`` run."""
    from qaudit.report.results import Report, Table

    a, b = result.after, before
    ref = reference.summary()
    k = len(reference.oracles)
    rep = Report(kind="unlearn", title=f"unlearning {mf.path} with {result.method} ({fs.source})", schema=SCHEMA,
                 location=mf.path or "", seeds={"seed": result.seed}, settings=settings)
    c = result.cost
    cost = Table("cost", ["measure", result.method, f"one retrain (mean of {reference.source})"], [
        ["gradient evaluations (per sample)", c.gradient_evaluations, reference.gradient_evaluations],
        ["circuit evaluations (per sample)", c.circuit_evaluations, None],
        ["seconds", round(c.seconds, 3), None],
        ["gradient evaluations relative to retraining", round(result.cost_ratio, 4), 1.0]])
    rep.tables = [_accuracy_table(fs, b, a, ref, k, settings)]
    if result.judgement is not None:
        rep.tables.append(_judgement_table(result))
    rep.tables += [_distance_table(result, ref), cost]
    if is_forget is not None:
        rep.curves = _curves(np.asarray(is_forget, bool), [("before", b), (f"after ({result.method})", a)]
                             + [(f"retrain {i + 1}", s) for i, s in enumerate(reference.snapshots)])
    rep.summary = {"method": result.method, "forget_set": fs.source, "forget_samples": int(len(fs.forget_ids)),
                   "forget_accuracy": _arrow(b["accuracy"]["forget"], a["accuracy"]["forget"]),
                   "retain_accuracy": _arrow(b["accuracy"]["retain"], a["accuracy"]["retain"]),
                   "forget_mia": _arrow(b["forget_mia"], a["forget_mia"]),
                   "forget_mia_auc": _arrow(b["forget_mia_auc"], a["forget_mia_auc"], percent=False),
                   "retraining_reference": reference.source,
                   "cost_vs_retraining": f"{100 * result.cost_ratio:.2f}%", "output": out_path}
    if result.judgement is not None:
        rep.summary["forget_request"] = "met" if result.judgement.met else "not met"
    rep.measurements = {result.method: result.measurements(before)}
    judged = f"{result.judgement.reason}. " if result.judgement is not None else ""
    rep.verdict = (f"{judged}{result.method}: forget accuracy "
                   f"{_arrow(b['accuracy']['forget'], a['accuracy']['forget'])}"
                   f" (retraining {_spread(ref, 'accuracy.forget')}%), retained "
                   f"{_arrow(b['accuracy']['retain'], a['accuracy']['retain'])} (retraining "
                   f"{_spread(ref, 'accuracy.retain')}%), forget MIA AUC "
                   f"{_arrow(b['forget_mia_auc'], a['forget_mia_auc'], percent=False)} (retraining "
                   f"{_spread(ref, 'forget_mia_auc', percent=False) or 'n/a'}), cost "
                   f"{100 * result.cost_ratio:.1f}% of retraining")
    rep.payload = {"model": mf.path, "output": out_path,
                   "forget": {"source": fs.source, "classes": fs.classes, "n": int(len(fs.forget_ids)),
                              "n_retain": int(len(fs.retain_ids))},
                   "before": public(before), "oracle": reference.to_json(), "result": result.to_json()}
    return rep


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def _dig(d: dict[str, Any], path: tuple[str, ...]) -> Any:
    for p in path:
        d = d.get(p) if isinstance(d, dict) else None
    return d


def _reference_table(base: dict[str, Any], runs: list[dict[str, Any]], reference: dict[str, Any] | None) -> Any:
    from qaudit.report.results import Table

    ref = Table("reference points", ["model", "forget acc %", "retained acc %", "holdout acc %", "forget MIA %",
                                     "forget MIA AUC"])
    ref.rows.append(["original", _pct(base["accuracy"]["forget"]), _pct(base["accuracy"]["retain"]),
                     _pct(base["accuracy"]["holdout"]), _pct(base["forget_mia"]), f"{base['forget_mia_auc']:.3f}"])
    if reference is not None:
        s = reference["summary"]
        ref.rows.append([f"retraining (mean ± sd, {reference['n']} retrains)", _spread(s, "accuracy.forget"),
                         _spread(s, "accuracy.retain"), _spread(s, "accuracy.holdout"), _spread(s, "forget_mia"),
                         _spread(s, "forget_mia_auc", percent=False)])
    else:
        orc = runs[0]["oracle"]
        ref.rows.append(["retrain oracle", _pct(orc["accuracy"]["forget"]), _pct(orc["accuracy"]["retain"]),
                         _pct(orc["accuracy"]["holdout"]), _pct(orc["forget_mia"]), f"{orc['forget_mia_auc']:.3f}"])
    return ref


def _failing(rs: list[dict[str, Any]]) -> str:
    """How many runs were met, and the checks that failed most often."""
    judged = [r["judgement"] for r in rs if r.get("judgement")]
    if not judged:
        return "n/a"
    met = sum(bool(j["met"]) for j in judged)
    failed: dict[str, int] = {}
    for j in judged:
        for c in j.get("checks", []):
            if not c["passed"]:
                failed[c["label"]] = failed.get(c["label"], 0) + 1
    why = ", ".join(f"{k} failed {v}" for k, v in sorted(failed.items(), key=lambda kv: -kv[1]))
    return f"met {met}/{len(judged)}" + (f" ({why})" if why else "")


def compare_report(mf: ModelFile, fs: ForgetSet, runs: list[dict[str, Any]], settings: dict[str, Any],
                   reference: dict[str, Any] | None = None, is_forget: np.ndarray | None = None) -> Any:
    """The paper's comparative table over methods, mean ± std across seeds (and shot counts), with how often
    each method's request was met against retraining (*reference*: :meth:`Reference.to_json`) and, given the
    verification's *is_forget* mask, each method's forget-set ROC curve (first seed)."""
    from qaudit.report.results import Report, Table

    rep = Report(kind="compare-unlearning", title=f"unlearning methods on {mf.path} ({fs.source})",
                 schema=COMPARE_SCHEMA, location=mf.path or "", settings=settings)
    groups: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["method"], run["shots"]), []).append(run)
    cols = ["method", "shots", "data needed", "grad evals", "cost vs retrain %", "seconds", "forget acc %",
            "retained acc %", "holdout acc %", "forget MIA %", "forget MIA AUC", "retrain agreement",
            "retrain KL", "MIA AUC gap", "forget request"]
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
                           ms(get("distance", "forget_kl"), digits=3), ms(get("distance", "mia_auc_gap"), digits=3),
                           _failing(rs)])
        summary = {k: _mean_std(get(*p)) for k, p in (
            ("forget_accuracy", ("after", "accuracy", "forget")), ("retain_accuracy", ("after", "accuracy", "retain")),
            ("holdout_accuracy", ("after", "accuracy", "holdout")),
            ("forget_mia", ("after", "forget_mia")), ("forget_mia_auc", ("after", "forget_mia_auc")),
            ("cost_ratio", ("cost_ratio",)), ("oracle_kl", ("distance", "forget_kl")))}
        met = [bool(_dig(r, ("judgement", "met"))) for r in rs if r.get("judgement")]
        rows_json.append({"method": method, "shots": shots, "n_seeds": len(rs), "met": int(sum(met)),
                          "mean": {k: v[0] for k, v in summary.items()}, "std": {k: v[1] for k, v in summary.items()}})
        rep.measurements[method if shots is None else f"{method}@{shots}"] = {
            "forget_mia": summary["forget_mia"][0], "forget_mia_auc": summary["forget_mia_auc"][0],
            "forget_accuracy": summary["forget_accuracy"][0], "cost_ratio": summary["cost_ratio"][0]}
    rep.tables = [_reference_table(runs[0]["before"], runs, reference), table]
    rep.summary = {"methods": sorted({r["method"] for r in runs}), "seeds": sorted({r["seed"] for r in runs}),
                   "forget_set": fs.source}
    verdicts = "; ".join(f"{m}{'' if s is None else '@' + str(s)}: {_failing(rs)}" for (m, s), rs in groups.items())
    rep.verdict = (f"compared {len(groups)} method/shot setting(s) over {len({r['seed'] for r in runs})} seed(s); "
                   f"forget request against retraining: {verdicts}")
    rep.payload = {"model": mf.path, "rows": rows_json,
                   "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs]}
    if reference is not None:
        rep.payload["oracle"] = reference
    if is_forget is not None:
        firsts = [(f"{m}{'' if sh is None else '@' + str(sh)}", {"_mia_scores": np.asarray(rs[0]["_mia_scores"]),
                                                                   "forget_mia_auc": _dig(rs[0], ("after",
                                                                                                  "forget_mia_auc"))})
                  for (m, sh), rs in groups.items() if rs[0].get("_mia_scores") is not None]
        rep.curves = _curves(np.asarray(is_forget, bool), firsts)
    return rep
