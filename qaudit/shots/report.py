"""Aggregating the shot study's runs into its report."""

from __future__ import annotations

from typing import Any

import numpy as np

from qaudit.report.results import Plot, Report, Series, Table
from qaudit.shots.settings import LEAK_METRICS, SCHEMA, UNLEARN_METRICS, ShotSettings, shot_label


def mean_std(values: list[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of the finite *values*."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return None, None
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0


def aggregate(runs: list[dict[str, Any]], shots: list[int | None], part: str, names: tuple[str, ...]
              ) -> dict[str, dict[str, dict[str, Any]]]:
    """shot label -> metric -> {mean, std, values} over the repeats of *part* (``leak``/``unlearn``)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s in shots:
        rows = [r[part] for r in runs if r["shots"] == s and part in r]
        entry = {}
        for name in names:
            values = [row.get(name) for row in rows]
            mean, std = mean_std(values)
            entry[name] = {"mean": mean, "std": std, "values": values}
        out[shot_label(s)] = entry
    return out


def _pm(entry: dict[str, Any], digits: int = 3) -> str:
    if entry["mean"] is None:
        return "-"
    return f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f}"


def trend(values: list[float | None]) -> float | None:
    """Spearman rank correlation of *values* with their position (the shot order), or None."""
    pts = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(pts) < 3:
        return None
    from scipy.stats import spearmanr

    rho = spearmanr([p[0] for p in pts], [p[1] for p in pts]).statistic
    return None if not np.isfinite(rho) else float(rho)


def gated_metrics() -> tuple[str, ...]:
    """Measurement names ``--fail-above`` accepts (checked at every shot count)."""
    names = [f"{k}_{stat}" for k in LEAK_METRICS for stat in ("mean", "std")] + ["output_jitter"]
    names += [f"unlearn_{k}_{stat}" for k in UNLEARN_METRICS for stat in ("mean", "std")]
    return tuple(names)


def build_report(mf: Any, settings: ShotSettings, seeds: list[int], runs: list[dict[str, Any]],
                 jitter: dict[str, float], location: str, n_probe: int, fs: Any = None) -> Report:
    """The shot-study Report: tables, error-bar plots, measurements per shot count, the raw runs."""
    labels = [shot_label(s) for s in settings.shots]
    leak = aggregate(runs, settings.shots, "leak", LEAK_METRICS)
    unl = aggregate(runs, settings.shots, "unlearn", UNLEARN_METRICS) if settings.unlearn else {}
    report = Report(kind="shots", title=f"Shot study of {location or 'model'}", schema=SCHEMA, location=location)
    auc_means = [leak[s]["auc"]["mean"] for s in labels]
    rate_means = [leak[s]["member_rate"]["mean"] for s in labels]
    rho_auc, rho_rate = trend(auc_means), trend(rate_means)
    first, last = labels[0], labels[-1]
    report.verdict = (f"{settings.attack} AUC {_pm(leak[first]['auc'])} at {first} shots vs "
                      f"{_pm(leak[last]['auc'])} at {last}; paper MIA accuracy {_pm(leak[first]['member_rate'])} vs "
                      f"{_pm(leak[last]['member_rate'])} (mean ± std over {len(seeds)} repeats)")
    if settings.unlearn:
        report.verdict += (f"; {settings.unlearn} forget-accuracy spread {unl[first]['forget_accuracy']['std']:.3f} at "
                           f"{first} vs {unl[last]['forget_accuracy']['std']:.3f} at {last}")
    report.summary = {"model": location, "kind": mf.kind, "backend": settings.backend,
                      "shots": ",".join(labels), "repeats": len(seeds), "attack": settings.attack,
                      "forget_class": settings.forget_class, "unlearn": settings.unlearn,
                      "auc_trend_spearman": rho_auc, "mia_trend_spearman": rho_rate}
    rows = []
    for s in labels:
        e = leak[s]
        ci = (f"[{e['auc_low']['mean']:.3f}, {e['auc_high']['mean']:.3f}]" if e["auc_low"]["mean"] is not None
              else "-")
        rows.append([s, _pm(e["auc"]), ci, _pm(e["tpr@0.1%fpr"]), _pm(e["tpr@1%fpr"]), _pm(e["tpr@10%fpr"]),
                     _pm(e["advantage"]), _pm(e["member_rate"]), jitter.get(s)])
    scope = f"class {settings.forget_class}" if settings.forget_class is not None else "all"
    report.tables.append(Table("leakage vs shots", ["shots", "AUC", "AUC 95% CI (mean bounds)", "TPR@0.1%FPR",
                                                    "TPR@1%FPR", "TPR@10%FPR", "advantage", "MIA accuracy (paper)",
                                                    "output jitter"], rows,
                               f"mean ± std over {len(seeds)} repeats (seeds {seeds}); MIA accuracy = fraction of "
                               f"{scope} training members the {settings.attack} attack calls member; output jitter = "
                               f"std across repeats of p(true class) on {n_probe} members, averaged"))
    if settings.unlearn:
        rows = []
        for s in labels:
            e = unl[s]
            rows.append([s, _pm(e["forget_accuracy"]), _pm(e["retain_accuracy"]), _pm(e["forget_mia_before"]),
                         _pm(e["forget_mia"]), _pm(e["forget_accuracy_exact"]), _pm(e["retain_accuracy_exact"]),
                         _pm(e["seconds"], 1)])
        report.tables.append(Table(f"unlearning stability vs shots ({settings.unlearn}, forget class "
                                   f"{settings.forget_class})",
                                   ["shots", "forget acc", "retained acc", "forget MIA before", "forget MIA after",
                                    "forget acc (exact eval)", "retained acc (exact eval)", "seconds"], rows,
                                   "gradients estimated from the shots (parameter shift for the circuit, sampled "
                                   "<Z> for the head); measured with the same shots, and exactly; mean ± std over "
                                   "repeats -- the std is the stability"))
    cols = ["shots", "seed", "AUC", "MIA acc"] + (["forget acc", "retained acc", "forget MIA"] if settings.unlearn
                                                 else []) + ["seconds"]
    raw = []
    for r in runs:
        row = [shot_label(r["shots"]), r["seed"], r["leak"]["auc"], r["leak"]["member_rate"]]
        if settings.unlearn:
            row += [r["unlearn"]["forget_accuracy"], r["unlearn"]["retain_accuracy"], r["unlearn"]["forget_mia"]]
        raw.append(row + [r["seconds"]])
    report.tables.append(Table("every run", cols, raw))
    report.plots.append(Plot("leakage vs shots", "shots", "attack metric", labels, [
        Series(f"{settings.attack} AUC", [leak[s]["auc"]["mean"] for s in labels],
               [leak[s]["auc"]["std"] for s in labels]),
        Series("MIA accuracy (paper)", rate_means, [leak[s]["member_rate"]["std"] for s in labels]),
        Series("TPR@10%FPR", [leak[s]["tpr@10%fpr"]["mean"] for s in labels],
               [leak[s]["tpr@10%fpr"]["std"] for s in labels])],
        note="mean ± 1 std over repeats"))
    if settings.unlearn:
        report.plots.append(Plot(f"unlearning stability vs shots ({settings.unlearn})", "shots", "after unlearning",
                                 labels, [Series(name, [unl[s][key]["mean"] for s in labels],
                                                 [unl[s][key]["std"] for s in labels])
                                          for name, key in (("forget accuracy", "forget_accuracy"),
                                                            ("retained accuracy", "retain_accuracy"),
                                                            ("forget MIA", "forget_mia"))],
                                 note="error bars: ±1 std over repeats (the stability)"))
    for s in labels:
        m = {f"{k}_mean": leak[s][k]["mean"] for k in LEAK_METRICS}
        m.update({f"{k}_std": leak[s][k]["std"] for k in LEAK_METRICS})
        m["output_jitter"] = jitter.get(s)
        if settings.unlearn:
            m.update({f"unlearn_{k}_mean": unl[s][k]["mean"] for k in UNLEARN_METRICS})
            m.update({f"unlearn_{k}_std": unl[s][k]["std"] for k in UNLEARN_METRICS})
        report.measurements[f"shots={s}"] = {k: float(v) for k, v in m.items() if v is not None}
    report.seeds = {"study": settings.seed, **{f"repeat_{i}": s for i, s in enumerate(seeds)}}
    report.settings = {"shots": labels, "repeats": len(seeds), "backend": settings.backend,
                       "attack": settings.attack, "forget_class": settings.forget_class, "unlearn": settings.unlearn,
                       "unlearn_options": settings.unlearn_options, "bootstrap": settings.n_bootstrap,
                       "probe_size": n_probe, "repeat_seeds": seeds}
    report.payload = {"leak": leak, "unlearn": unl, "output_jitter": jitter, "runs": runs,
                      "forget_set_size": int(len(fs.forget_ids)) if fs is not None else None}
    return report
