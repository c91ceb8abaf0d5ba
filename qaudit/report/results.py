"""Result objects every command produces and every reporter renders.

A :class:`Report` is format-neutral: a verdict, a small ``summary`` of headline
numbers, tables, ROC curves, gating findings, and ``measurements`` (subject ->
metric -> value, the numbers thresholds and baselines are checked against).
``payload`` holds the command's own versioned JSON body (e.g. ``qaudit.leak/1``);
:meth:`Report.to_json` merges it with the generic parts. Reporter plugins must
render only what a Report holds (they compute nothing).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Table:
    """A titled table: ``rows`` are lists of cells (str, int, float or None) matching ``columns``."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    note: str = ""


@dataclass
class Curve:
    """One ROC curve (``fpr``/``tpr`` equally long, non-decreasing)."""

    label: str
    fpr: list[float]
    tpr: list[float]
    auc: float | None = None


@dataclass
class Series:
    """One line of a :class:`Plot`: ``y`` values (None = missing) with symmetric error bars ``err``."""

    label: str
    y: list[float | None]
    err: list[float | None] = field(default_factory=list)


@dataclass
class Plot:
    """A line plot over categorical x positions (e.g. shot counts) with error bars; ``style="bars"`` draws
    bars from zero instead (a histogram: x = bins, y = counts)."""

    title: str
    x_label: str
    y_label: str
    x: list[str]
    series: list[Series] = field(default_factory=list)
    note: str = ""
    style: str = "line"


@dataclass
class Finding:
    """One gated check: ``metric`` of ``subject`` compared with ``threshold``.

    ``rule_id`` is stable across runs (e.g. ``leak/auc``) for SARIF/JUnit;
    ``location`` is the file the finding is about (the model file).
    """

    rule_id: str
    subject: str
    metric: str
    value: float
    threshold: float
    passed: bool
    message: str
    location: str = ""
    kind: str = "threshold"  # or "regression", or "verdict" (a LEAKS verdict gated with --fail-on leaks)


@dataclass
class Report:
    """The generic result of an audit-like command (leak, unlearn, shots...)."""

    kind: str
    title: str
    schema: str
    verdict: str = ""
    status: str = "info"  # "pass", "fail" or "info" (no thresholds)
    summary: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    curves: list[Curve] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    measurements: dict[str, dict[str, float]] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)
    plots: list[Plot] = field(default_factory=list)
    seeds: dict[str, int] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    location: str = ""

    @property
    def failed(self) -> list[Finding]:
        """Findings that breach their threshold."""
        return [f for f in self.findings if not f.passed]

    def apply_findings(self, findings: list[Finding]) -> None:
        """Attach gating findings and set ``status``/``verdict`` accordingly."""
        self.findings = list(findings)
        if not findings:
            self.status = "info"
            return
        bad = self.failed
        self.status = "fail" if bad else "pass"
        breached = [f for f in bad if f.kind != "verdict"]
        if bad and not breached:  # only the verdict itself (a LEAKS finding): the verdict line says why
            self.verdict = f"FAIL: {self.verdict}"
        elif bad:
            names = "; ".join(f.message for f in breached[:5]) + (" ..." if len(breached) > 5 else "")
            also = f"; {self.verdict}" if len(breached) < len(bad) else ""
            self.verdict = f"FAIL: {len(breached)} threshold(s) breached: {names}{also}"
        elif any(f.kind != "verdict" for f in findings):
            gated = sum(f.kind != "verdict" for f in findings)
            self.verdict = f"PASS: all {gated} gated check(s) within threshold. " + self.verdict

    def render(self, fmt: str | None = None) -> str:
        """The report as text in format *fmt* (a reporter name, ``qaudit reporters``; None: the terminal
        reporter's plain text) -- exactly what ``--format FMT --output FILE`` writes."""
        import io

        from qaudit.report.render import check_format
        from qaudit.sdk.host import get_host

        buffer = io.StringIO()
        get_host().get("reporter", check_format(fmt))().render(self, buffer)
        return buffer.getvalue()

    def _repr_html_(self) -> str:
        """Jupyter display: the report rendered by the reporter plugins declare for notebooks (role
        ``notebook``; the HTML report with its ROC curves)."""
        from qaudit.sdk.host import get_host

        return self.render(get_host().role("reporter", "notebook"))

    def __rich__(self) -> Any:
        """Rich display (``rich.print(report)``, IPython with Rich): the terminal report as Rich text."""
        from rich.text import Text

        return Text(self.render(), no_wrap=True, overflow="ignore")

    def to_json(self) -> dict[str, Any]:
        """The versioned JSON document (finite floats only; NaN/inf become null)."""
        body = {
            "schema": self.schema,
            "kind": self.kind,
            "title": self.title,
            "verdict": self.verdict,
            "status": self.status,
            "summary": self.summary,
            "measurements": self.measurements,
            "findings": [asdict(f) for f in self.findings],
            "seeds": self.seeds,
            "settings": self.settings,
            "location": self.location,
        }
        body.update(self.payload)
        if isinstance(body["verdict"], dict):  # a command's structured verdict: keep the verdict line in it
            body["verdict"] = {**body["verdict"], "line": self.verdict}
        body.setdefault("curves", [asdict(c) for c in self.curves])
        if self.plots:
            body.setdefault("plots", [asdict(p) for p in self.plots])
        return clean_json(body)


def clean_json(value: Any) -> Any:
    """Recursively replace non-finite floats with None and numpy scalars with Python ones."""
    if isinstance(value, dict):
        return {str(k): clean_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_json(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (ValueError, AttributeError):
            return value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def fmt(value: Any, digits: int = 3) -> str:
    """Cell formatting shared by text reporters."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "-"
        return f"{value:.{digits}f}"
    return str(value)
