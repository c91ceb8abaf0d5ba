"""``--fail-above`` gates of the unlearn reports."""

from __future__ import annotations

from typing import Any

from qaudit.unlearn.request import METRICS


def parse_gate(fail_above: str | dict[str, float] | list[Any] | None) -> list[Any]:
    """``--fail-above`` of ``unlearn``/``compare-unlearning`` parsed against the metrics they report (one-line
    error on an unknown metric), before any work."""
    from qaudit.report.gating import parse_thresholds
    from qaudit.unlearn.ulira import METRICS as ULIRA_METRICS

    return fail_above if isinstance(fail_above, list) else parse_thresholds(fail_above, (*METRICS, *ULIRA_METRICS))


def gate(report: Any, fail_above: str | dict[str, float] | list[Any] | None,
         judged: list[Any] | None = None) -> list[Any]:
    """Attach the forget-request checks (*judged*) and ``--fail-above`` thresholds (a string as on the command
    line, or parsed :class:`qaudit.report.gating.Threshold` s) as *report*'s findings; return the failed ones."""
    from qaudit.report.gating import check_thresholds

    thresholds = parse_gate(fail_above)
    findings = list(judged or [])
    if thresholds:
        findings += check_thresholds(report.measurements, thresholds, "unlearn", report.location)
    if findings:
        report.apply_findings(findings)
    return report.failed
