"""CI gating: thresholds (``--fail-above``) and baselines (``--baseline``) over Report measurements.

Thresholds are ``metric=value`` pairs separated by commas, e.g.
``auc=0.6,tpr@1%fpr=0.05,advantage=0.1``; a metric may be restricted to one subject
(attack) with ``subject:metric=value`` (``lira:auc=0.55``). Every gated value
must be <= its threshold ("higher = worse" for all membership metrics).

A baseline is a previous JSON report of the same command: a check fails only
when a metric got worse (higher) by more than the tolerance. ``--tolerance``
is a number for every metric or ``metric=value`` pairs (unnamed metrics fall
back to :data:`DEFAULT_TOLERANCE`).

**Unreliable figures** (one rule, docs/statistics.md "Gating"): a figure the report
flags unreliable (a TPR at low FPR resting on fewer than 10 expected false positives)
is gated on the lower end of its 95 % interval, not on its point value -- a gate
fails only on evidence -- and the gate line says so (*bounds* of
:func:`check_thresholds` / :func:`check_baseline`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qaudit.report.results import Finding
from qaudit.sdk.errors import QauditError

DEFAULT_TOLERANCE = 0.02
#: Gate metrics that were renamed: old -> new (a gate on the old name is a one-line error naming the new one).
RENAMED = {"epsilon": "distinguishability"}
#: Largest baseline report accepted (bytes).
MAX_BASELINE_BYTES = 64 * 1024 * 1024
#: Metrics compared against a baseline when no thresholds name them.
DEFAULT_BASELINE_METRICS = ("auc", "tpr@1%fpr", "advantage", "distinguishability")


@dataclass(frozen=True)
class Threshold:
    """``metric`` must stay <= ``value`` (for ``subject`` only, when set)."""

    metric: str
    value: float
    subject: str | None = None

    def label(self) -> str:
        return f"{self.subject + ':' if self.subject else ''}{self.metric}={self.value:g}"


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise QauditError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise QauditError(f"{where}: {text!r} is not a finite number")
    return value


def parse_thresholds(spec: str | dict[str, Any] | None, known: Iterable[str],
                     option: str = "--fail-above") -> list[Threshold]:
    """Parse ``auc=0.6,tpr@1%fpr=0.05`` (or a config table) against the *known* metric names."""
    if spec is None or spec == "" or spec == {}:
        return []
    known = list(known)
    if isinstance(spec, dict):
        items = [(str(k), str(v)) for k, v in spec.items()]
    elif isinstance(spec, str):
        items = []
        for part in spec.split(","):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise QauditError(f"{option}: expected METRIC=VALUE, got {part!r}")
            key, value = part.split("=", 1)
            items.append((key.strip(), value.strip()))
    else:
        raise QauditError(f"{option}: expected a string like 'auc=0.6,advantage=0.1'")
    out = []
    for key, value in items:
        subject = None
        if ":" in key:
            subject, key = (s.strip() for s in key.split(":", 1))
        metric = key.lower()
        if metric not in known and RENAMED.get(metric) in known:
            raise QauditError(f"{option}: metric {key!r} was renamed {RENAMED[metric]!r} (it is not a DP bound; "
                              "DP claims are checked by `qaudit audit-dp`)")
        if metric not in known:
            raise QauditError(f"{option}: unknown metric {key!r} (known: {', '.join(known)})")
        out.append(Threshold(metric, _number(value, f"{option} {key}"), subject or None))
    if not out:
        raise QauditError(f"{option}: no thresholds given")
    return out


#: (subject, metric) -> (the value a gate compares instead of the point value, why): see the module docstring.
Bounds = dict[tuple[str, str], tuple[float, str]]


def _gated(subject: str, metric: str, value: float, bounds: Bounds | None) -> tuple[float, str]:
    """The value a gate compares and the text that names it (the point value, or a flagged figure's bound)."""
    bound = (bounds or {}).get((subject, metric))
    if bound is None:
        return value, f"{subject} {metric} {value:.4g}"
    low, why = bound
    return low, f"{subject} {metric} {value:.4g} is unreliable ({why}): gated on its 95% lower bound {low:.4g}"


def check_thresholds(measurements: dict[str, dict[str, float]], thresholds: list[Threshold],
                     rule_prefix: str, location: str = "", bounds: Bounds | None = None) -> list[Finding]:
    """One :class:`Finding` per (subject, threshold); a subject lacking the metric is skipped. Figures in
    *bounds* are gated on their bound (the module docstring's rule for unreliable figures)."""
    findings = []
    for t in thresholds:
        subjects = [t.subject] if t.subject else sorted(measurements)
        if t.subject and t.subject not in measurements:
            raise QauditError(f"--fail-above names {t.subject!r}, which is not in this report "
                              f"(have: {', '.join(sorted(measurements))})")
        for subject in subjects:
            value = measurements[subject].get(t.metric)
            if value is None or not math.isfinite(value):
                continue
            gated, text = _gated(subject, t.metric, value, bounds)
            passed = gated <= t.value
            op = "<=" if passed else ">"
            findings.append(Finding(
                rule_id=f"{rule_prefix}/{t.metric}", subject=subject, metric=t.metric, value=float(gated),
                threshold=t.value, passed=passed, location=location, message=f"{text} {op} {t.value:g}"))
    return findings


def parse_tolerance(spec: str | float | dict[str, Any] | None, known: Iterable[str]) -> dict[str, float]:
    """``0.02`` (every metric) or ``auc=0.02,advantage=0.05`` -> metric -> tolerance (key ``*`` = default)."""
    if spec is None or spec == "":
        return {"*": DEFAULT_TOLERANCE}
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        value = float(spec)
        if not math.isfinite(value) or value < 0:
            raise QauditError("--tolerance must be a non-negative number")
        return {"*": value}
    if isinstance(spec, str) and "=" not in spec:
        value = _number(spec, "--tolerance")
        if value < 0:
            raise QauditError("--tolerance must be a non-negative number")
        return {"*": value}
    parsed = parse_thresholds(spec, known, option="--tolerance")
    out = {"*": DEFAULT_TOLERANCE}
    for t in parsed:
        if t.value < 0:
            raise QauditError("--tolerance values must be non-negative")
        out[t.metric] = t.value
    return out


def read_baseline(path: str | Path, schema: str | None = None) -> dict[str, dict[str, float]]:
    """Measurements of a previous JSON report (validated; size- and depth-capped; one-line errors)."""
    from qaudit.files.model_file import read_document

    doc = read_document(path, what="baseline", limit=MAX_BASELINE_BYTES)
    if not isinstance(doc, dict) or not isinstance(doc.get("measurements"), dict):
        raise QauditError(f"{path}: not a qaudit JSON report (no 'measurements'); write one with --format json")
    if schema and doc.get("schema") != schema:
        raise QauditError(f"{path}: baseline schema {doc.get('schema')!r} does not match {schema!r}")
    out: dict[str, dict[str, float]] = {}
    for subject, values in doc["measurements"].items():
        if not isinstance(values, dict):
            raise QauditError(f"{path}: measurements.{subject} must be an object")
        out[str(subject)] = {}
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if isinstance(value, int) and abs(value) > 2**63:
                raise QauditError(f"{path}: measurements.{subject}.{key} is out of range")
            if math.isfinite(value):
                out[str(subject)][RENAMED.get(str(key), str(key))] = float(value)  # old names: same figure
    return out


def check_baseline(measurements: dict[str, dict[str, float]], baseline: dict[str, dict[str, float]],
                   metrics: Iterable[str], tolerance: dict[str, float], rule_prefix: str,
                   location: str = "", bounds: Bounds | None = None) -> list[Finding]:
    """Fail a (subject, metric) only when it rose above baseline + tolerance (figures in *bounds*: their bound)."""
    findings = []
    for subject in sorted(measurements):
        if subject not in baseline:
            continue
        for metric in metrics:
            now, before = measurements[subject].get(metric), baseline[subject].get(metric)
            if now is None or before is None or not math.isfinite(now):
                continue
            tol = tolerance.get(metric, tolerance.get("*", DEFAULT_TOLERANCE))
            limit = before + tol
            gated, text = _gated(subject, metric, now, bounds)
            passed = gated <= limit
            verb = "within" if passed else "regressed beyond"
            findings.append(Finding(
                rule_id=f"{rule_prefix}/regression/{metric}", subject=subject, metric=metric, value=float(gated),
                threshold=float(limit), passed=passed, location=location, kind="regression",
                message=f"{text} vs baseline {before:.4g} ({verb} tolerance {tol:g})"))
    return findings


def dump_json(doc: dict[str, Any]) -> str:
    """Stable JSON text for reports."""
    return json.dumps(doc, indent=1, sort_keys=False, allow_nan=False)
