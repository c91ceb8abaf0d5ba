"""Figures of the unlearn, compare-unlearning and shots HTML reports, drawn with matplotlib as inline SVG.

matplotlib is imported here only, when an HTML report of those kinds is rendered (never by the core or at
``qaudit --help``). The SVG is deterministic: fixed ``svg.hashsalt``, text kept as text, no date metadata,
so the same report renders byte-identical files. Every figure is built from the report's JSON payload and
curves, i.e. from the numbers the other formats show.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any

from qaudit.sdk import Report

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
RC = {"svg.hashsalt": "qaudit", "svg.fonttype": "none", "font.size": 9, "axes.spines.top": False,
      "axes.spines.right": False}


def _svg(fig: Any) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no date)."""
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": "qaudit"}, bbox_inches="tight")
    text = buf.getvalue()
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.S)  # RDF block: namespace URLs only
    return text[text.index("<svg"):]


def _figure(width: float, height: float, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, axes


def _render(build: Any, *args: Any) -> str:
    import matplotlib

    with matplotlib.rc_context(RC):
        fig = build(*args)
        return _svg(fig)


# ----------------------------------------------------------------------------- unlearn
_BEFORE_KEYS = {"forget_accuracy": ("accuracy", "forget"), "retained_accuracy": ("accuracy", "retain"),
                "forget_mia_auc": ("forget_mia_auc",)}


def _before(payload: dict[str, Any], key: str) -> float | None:
    b = payload["before"]
    if key == "holdout_accuracy":
        other = b["accuracy"].get("holdout_other_classes") if payload["forget"]["classes"] else None
        return other if other is not None else b["accuracy"]["holdout"]
    value: Any = b
    for part in _BEFORE_KEYS[key]:
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _checks_panel(ax: Any, payload: dict[str, Any], checks: list[dict[str, Any]], scale: float, unit: str) -> None:
    """Per check: before (grey diamond), after with its 95 % interval, each retrain (dots), and the retrains'
    mean ± margin (shaded: where the check passes for equivalence; above the line for non-inferiority)."""
    method = payload["result"]["method"]
    for i, c in enumerate(checks):
        mean, margin = scale * c["reference_mean"], scale * c["margin"]
        lo, hi = mean - margin, mean + margin
        ax.fill_between([i - 0.4, i + 0.4], [lo, lo], [hi, hi], color="#2ca02c", alpha=0.12, linewidth=0,
                        label="retraining ± margin" if i == 0 else None)
        ax.plot([i - 0.4, i + 0.4], [mean, mean], color="#2ca02c", linewidth=1.5,
                label="retraining mean" if i == 0 else None)
        ax.plot([i + 0.18] * len(c["reference"]), [scale * v for v in c["reference"]], "o", color="#2ca02c",
                markersize=3.5, alpha=0.8, label=f"retrains ({len(c['reference'])} seeds)" if i == 0 else None)
        before = _before(payload, c["key"])
        if before is not None:
            ax.plot([i - 0.18], [scale * before], "D", color="#7f7f7f", markersize=6,
                    label="before" if i == 0 else None)
        vlo, vhi = c["value_interval"]
        value = scale * c["value"]
        ax.errorbar([i], [value], yerr=[[value - scale * vlo], [scale * vhi - value]], fmt="o",
                    color="#1f77b4" if c["passed"] else "#d62728", capsize=4, markersize=6,
                    label=f"after ({method}) with 95 % CI" if i == 0 else None)
    ax.set_xticks(range(len(checks)))
    ax.set_xticklabels([f"{c['label']}\n{'pass' if c['passed'] else 'FAIL'}" for c in checks])
    ax.set_xlim(-0.6, len(checks) - 0.4)
    ax.set_ylabel(unit)
    ax.grid(axis="y", color="#eee")


def _unlearn_accuracy(payload: dict[str, Any]) -> Any:
    checks = [c for c in payload["result"]["judgement"]["checks"] if c["key"] != "forget_mia_auc"]
    fig, (ax,) = _figure(6.4, 3.6)
    _checks_panel(ax, payload, checks, 100.0, "accuracy (%)")
    ax.set_title("accuracy: before / after / retraining spread")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _unlearn_auc(payload: dict[str, Any]) -> Any:
    checks = [c for c in payload["result"]["judgement"]["checks"] if c["key"] == "forget_mia_auc"]
    fig, (ax,) = _figure(3.6, 3.6)
    _checks_panel(ax, payload, checks, 1.0, "forget-MIA AUC")
    ax.axhline(0.5, color="#999", linestyle=":", linewidth=1)
    ax.set_title("forget MIA: before / after / retraining")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def _roc(curves: list[Any], title: str) -> Any:
    fig, (ax,) = _figure(4.2, 4.0)
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    for i, c in enumerate(curves):
        retrain = c.label.startswith("retrain ") and c.label[8:].isdigit()  # the reference's retrains
        colour = "#2ca02c" if retrain else COLOURS[i % len(COLOURS)]
        label = c.label + (f" (AUC {c.auc:.3f})" if c.auc is not None else "")
        ax.step(c.fpr, c.tpr, where="post", color=colour, linewidth=0.8 if retrain else 1.6,
                alpha=0.6 if retrain else 1.0, label=label)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("false positive rate (holdout of the forget classes)")
    ax.set_ylabel("true positive rate (forget set)")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right", frameon=False)
    return fig


def unlearn_figures(report: Report) -> list[tuple[str, str]]:
    """(SVG, caption) pairs: accuracy and forget-MIA AUC before/after/retraining, and the forget-set ROC curves."""
    payload = report.payload
    judgement = payload.get("result", {}).get("judgement")
    out = []
    if judgement and judgement.get("checks"):
        out.append((_render(_unlearn_accuracy, payload),
                    "Shaded: retraining's mean ± the margin. Forgetting checks pass when the difference's 90 % "
                    "interval lies inside it, utility checks when the difference's lower 95 % bound stays above its "
                    "lower edge (both intervals also hold the retraining spread). Red = check failed."))
        if any(c["key"] == "forget_mia_auc" for c in judgement["checks"]):
            out.append((_render(_unlearn_auc, payload), "Forget-MIA AUC of the verification attack (0.5 = the forget "
                        "set looks like unseen data of its classes), before, after and for each retrain."))
    if report.curves:
        out.append((_render(_roc, report.curves, "forget-set ROC (verification attack)"),
                    "ROC of the verification attack: forget set against holdout samples of the same classes."))
    return out


# ----------------------------------------------------------------------------- compare-unlearning
def _compare(payload: dict[str, Any]) -> Any:
    rows = payload["rows"]
    summary = (payload.get("oracle") or {}).get("summary", {})
    panels = (("forget accuracy (%)", "forget_accuracy", "accuracy.forget", 100.0),
              ("retained accuracy (%)", "retain_accuracy", "accuracy.retain", 100.0),
              ("holdout accuracy (%)", "holdout_accuracy", "accuracy.holdout", 100.0),
              ("forget-MIA AUC", "forget_mia_auc", "forget_mia_auc", 1.0))
    fig, axes = _figure(10.0, 3.2, len(panels))
    labels = [r["method"] + ("" if r["shots"] is None else f"@{r['shots']}") for r in rows]
    runs = payload.get("runs") or [{}]
    before = runs[0].get("before") or {}
    for ax, (title, key, ref_key, scale) in zip(axes, panels):
        original = before.get("forget_mia_auc") if key == "forget_mia_auc" else \
            (before.get("accuracy") or {}).get({"retain_accuracy": "retain"}.get(key, key.split("_")[0]))
        if original is not None:
            ax.axhline(scale * original, color="#7f7f7f", linestyle="--", linewidth=1, label="original")
        ref = summary.get(ref_key)
        if ref and ref.get("mean") is not None:
            m, s = scale * ref["mean"], scale * (ref.get("sd") or 0.0)
            ax.axhspan(m - s, m + s, color="#2ca02c", alpha=0.15, linewidth=0)
            ax.axhline(m, color="#2ca02c", linewidth=1.2, label="retraining mean ± sd")
        for i, r in enumerate(rows):
            mean, sd = r["mean"].get(key), r["std"].get(key)
            if mean is None or not math.isfinite(mean):
                continue
            err = 0.0 if sd is None or not math.isfinite(sd) else scale * sd
            met = r.get("met", 0) == r["n_seeds"]
            ax.errorbar([i], [scale * mean], yerr=[err], fmt="o", capsize=4,
                        color="#1f77b4" if met else "#d62728")
        ax.set_xticks(range(len(rows)))
        ax.set_xticklabels([f"{lab}\nmet {r.get('met', 0)}/{r['n_seeds']}" for lab, r in zip(labels, rows)],
                           fontsize=7)
        ax.set_title(title)
        ax.grid(axis="y", color="#eee")
    axes[0].legend(fontsize=7, frameon=False)
    return fig


def compare_figures(report: Report) -> list[tuple[str, str]]:
    """(SVG, caption): the methods side by side (mean ± sd over seeds) against retraining, and their ROC curves."""
    out = [(_render(_compare, report.payload), "Each method's mean ± sd over seeds (blue: request met for every "
            "seed, red: not met for at least one); green band: retraining's mean ± sd over the retrains.")]
    if report.curves:
        out.append((_render(_roc, report.curves, "forget-set ROC per method (first seed)"),
                    "ROC of the verification attack on each method's unlearned model (first seed)."))
    return out


# ----------------------------------------------------------------------------- shots
def _shot_positions(labels: list[str]) -> tuple[list[float], list[str]]:
    """Numeric x for shot labels; ``exact`` sits one factor 4 beyond the largest count."""
    numbers = [float(v) for v in labels if v.isdigit()]
    top = max(numbers) if numbers else 1.0
    return [float(v) if v.isdigit() else top * 4 for v in labels], labels


def _shots(plot: Any, verdict: str) -> Any:
    fig, (ax,) = _figure(6.0, 3.6)
    xs, labels = _shot_positions(plot.x)
    for j, s in enumerate(plot.series):
        pts = [(x, y, (s.err[i] if i < len(s.err) else None)) for i, (x, y) in enumerate(zip(xs, s.y))
               if y is not None and math.isfinite(y)]
        if not pts:
            continue
        colour = COLOURS[j % len(COLOURS)]
        counted_x = {x for x, lab in zip(xs, labels) if lab.isdigit()}
        counted = [p for p in pts if p[0] in counted_x]
        exact = [p for p in pts if p[0] not in counted_x]
        ax.errorbar([p[0] for p in counted], [p[1] for p in counted], yerr=[p[2] or 0.0 for p in counted],
                    fmt="o-", capsize=3, color=colour, label=s.label)
        if exact:  # exact outputs: no line from the last shot count, open marker
            ax.errorbar([p[0] for p in exact], [p[1] for p in exact], yerr=[p[2] or 0.0 for p in exact], fmt="o",
                        mfc="white", capsize=3, color=colour)
    ax.set_xscale("log")
    ax.set_xticks(xs)
    ax.set_xticklabels(labels)
    ax.minorticks_off()
    ax.set_xlabel(f"{plot.x_label} (log scale)")
    ax.set_ylabel(plot.y_label)
    ax.set_title(plot.title)
    ax.grid(color="#eee")
    ax.legend(fontsize=7, frameon=False)
    return fig


def shots_figures(report: Report) -> list[tuple[str, str]]:
    """(SVG, caption) per shot-study plot, shot counts on a log axis; the caption states the study's verdict."""
    return [(_render(_shots, plot, report.verdict), f"{plot.note}. Verdict: {report.verdict}")
            for plot in report.plots]


def figures(report: Report) -> list[tuple[str, str]] | None:
    """The matplotlib figures of *report* (None: a kind drawn by the reporter's own SVG)."""
    build = {"unlearn": unlearn_figures, "compare-unlearning": compare_figures, "shots": shots_figures}.get(
        report.kind)
    return None if build is None else build(report)
