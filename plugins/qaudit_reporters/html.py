"""Self-contained HTML report with ROC curves on log-log axes as inline SVG.

The plot is hand-written SVG (no plotting dependency): FPR and TPR on log10
axes from ``LOG_FLOOR`` to 1, zeros drawn at the floor, the chance diagonal
dashed. Everything is escaped; the file has no external resources.

The report body is one ``<div class="qaudit-report">`` whose stylesheet only
selects inside it (:data:`CSS`): ``html`` wraps it in a document, ``html-fragment``
(what Jupyter displays) returns it alone, so a page or notebook around it keeps
its own styles. A leak report shows the log-log ROC beside the member and
non-member score histograms of the rejected (or strongest) attack
(:mod:`qaudit_reporters.leak_figures`); a LEAKS verdict is coloured like a failure.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any, ClassVar, TextIO

from qaudit.sdk import Curve, Plot, Report, fmt

LOG_FLOOR = 1e-3
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
#: Every selector starts with ``.qaudit-report``: the report styles nothing outside itself.
CSS = """.qaudit-report{font-family:system-ui,sans-serif;max-width:1240px;color:#222;line-height:1.35}
.qaudit-report table{border-collapse:collapse;margin:.5em 0;font-size:.85em}
.qaudit-report td,.qaudit-report th{border:1px solid #ccc;padding:3px 5px;text-align:right}
.qaudit-report th{background:#f3f3f3}.qaudit-report td{white-space:nowrap}
.qaudit-report td.long{white-space:normal;min-width:9em}
.qaudit-report td:first-child,.qaudit-report th:first-child{text-align:left}
.qaudit-report table.summary th{text-align:left}
.qaudit-report .pass{color:#070}.qaudit-report .fail{color:#b00}
.qaudit-report .verdict{font-size:1.15em;font-weight:bold}
.qaudit-report caption{text-align:left;font-weight:bold}
.qaudit-report .note{color:#555;font-size:.85em;max-width:1150px}
.qaudit-report .scroll{overflow-x:auto;max-width:100%}
.qaudit-report .figures{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
.qaudit-report svg{max-width:100%;height:auto}
"""
#: Only the standalone document styles its page.
PAGE_CSS = "body{margin:1.5em}"


def roc_svg(curves: list[Curve], width: int = 460, height: int = 420, floor: float = LOG_FLOOR) -> str:
    """An SVG document fragment plotting *curves* with log10 FPR (x) and log10 TPR (y)."""
    left, right, top, bottom = 60, 20, 20, 50
    pw, ph = width - left - right, height - top - bottom
    lo = math.log10(floor)

    def sx(v: float) -> float:
        return left + (math.log10(max(v, floor)) - lo) / -lo * pw

    def sy(v: float) -> float:
        return top + ph - (math.log10(max(v, floor)) - lo) / -lo * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="ROC curves, log-log axes">',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="white" stroke="#333"/>']
    decade = 10.0 ** math.floor(lo)
    while decade <= 1.0 + 1e-12:
        if decade >= floor * (1 - 1e-9):
            x, y = sx(decade), sy(decade)
            label = f"{decade:g}"
            parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + ph}" stroke="#ddd"/>')
            parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#ddd"/>')
            parts.append(f'<text x="{x:.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{label}</text>')
            parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">{label}</text>')
        decade *= 10
    parts.append(f'<line x1="{sx(floor):.1f}" y1="{sy(floor):.1f}" x2="{sx(1):.1f}" y2="{sy(1):.1f}" '
                 'stroke="#999" stroke-dasharray="4 4"/>')
    for i, c in enumerate(curves):
        colour = COLOURS[i % len(COLOURS)]
        pts = " ".join(f"{sx(f):.1f},{sy(t):.1f}" for f, t in zip(c.fpr, c.tpr))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{pts}"/>')
        label = escape(c.label) + (f" (AUC {c.auc:.3f})" if c.auc is not None else "")
        ly = top + 16 + 16 * i
        parts.append(f'<line x1="{left + pw - 170}" y1="{ly - 4}" x2="{left + pw - 150}" y2="{ly - 4}" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{left + pw - 145}" y="{ly}" font-size="11">{label}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 10}" font-size="12" text-anchor="middle">'
                 'false positive rate (log)</text>')
    parts.append(f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" font-size="12" '
                 'text-anchor="middle">true positive rate (log)</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def plot_svg(plot: Plot, width: int = 520, height: int = 360) -> str:
    """An SVG line plot of *plot*: categorical x positions, linear y, ±err error bars, legend
    (a bar chart from zero when ``plot.style == "bars"``, e.g. a histogram)."""
    left, right, top, bottom = 60, 170, 30, 50
    pw, ph = width - left - right, height - top - bottom
    vals = [v + sgn * (e or 0.0) for s in plot.series for v, e in zip(s.y, s.err or [None] * len(s.y))
            if v is not None and math.isfinite(v) for sgn in (-1, 1)]
    lo, hi = (min(vals), max(vals)) if vals else (0.0, 1.0)
    bars = getattr(plot, "style", "line") == "bars"
    if bars:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 0.5, hi + 0.5
    pad = 0.05 * (hi - lo)
    lo, hi = (lo if bars else lo - pad), hi + pad
    n = max(len(plot.x), 1)

    def sx(i: int) -> float:
        return left + (i + 0.5) / n * pw

    def sy(v: float) -> float:
        return top + ph - (v - lo) / (hi - lo) * ph

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(plot.title)}">',
             f'<text x="{left}" y="18" font-size="13" font-weight="bold">{escape(plot.title)}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="white" stroke="#333"/>']
    for k in range(6):
        v = lo + (hi - lo) * k / 5
        parts.append(f'<line x1="{left}" y1="{sy(v):.1f}" x2="{left + pw}" y2="{sy(v):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" font-size="11" text-anchor="end">{v:.2f}</text>')
    for i, label in enumerate(plot.x):
        parts.append(f'<text x="{sx(i):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">'
                     f"{escape(label)}</text>")
    for j, s in enumerate(plot.series):
        colour = COLOURS[j % len(COLOURS)]
        errs = list(s.err) + [None] * (len(s.y) - len(s.err))
        pts = [(sx(i), v, e) for i, (v, e) in enumerate(zip(s.y, errs)) if v is not None and math.isfinite(v)]
        if bars:
            parts += _bar_rects(pts, sy, pw / n / max(len(plot.series), 1), j, len(plot.series), colour)
            pts = []
        if pts:
            line = " ".join(f"{x:.1f},{sy(v):.1f}" for x, v, _ in pts)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{line}"/>')
        for x, v, e in pts:
            parts.append(f'<circle cx="{x:.1f}" cy="{sy(v):.1f}" r="3" fill="{colour}"/>')
            if e:
                y0, y1 = sy(v - e), sy(v + e)
                parts.append(f'<line class="errorbar" x1="{x:.1f}" y1="{y0:.1f}" x2="{x:.1f}" y2="{y1:.1f}" '
                             f'stroke="{colour}"/>')
                for yy in (y0, y1):
                    parts.append(f'<line x1="{x - 4:.1f}" y1="{yy:.1f}" x2="{x + 4:.1f}" y2="{yy:.1f}" '
                                 f'stroke="{colour}"/>')
        ly = top + 12 + 16 * j
        parts.append(f'<line x1="{left + pw + 10}" y1="{ly - 4}" x2="{left + pw + 28}" y2="{ly - 4}" '
                     f'stroke="{colour}" stroke-width="2"/>')
        parts.append(f'<text x="{left + pw + 32}" y="{ly}" font-size="11">{escape(s.label)}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 10}" font-size="12" text-anchor="middle">'
                 f"{escape(plot.x_label)}</text>")
    parts.append(f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" font-size="12" '
                 f'text-anchor="middle">{escape(plot.y_label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _bar_rects(pts: list[tuple[float, float, Any]], sy: Any, width: float, j: int, n_series: int,
               colour: str) -> list[str]:
    """One ``<rect>`` per value of series *j* of *n_series* side by side, from zero."""
    out = []
    for x, v, _ in pts:
        x0 = x - width * n_series / 2 + j * width + 0.1 * width
        y0, y1 = sorted((sy(0.0), sy(v)))
        out.append(f'<rect class="bar" x="{x0:.1f}" y="{y0:.1f}" width="{0.8 * width:.1f}" '
                   f'height="{y1 - y0:.1f}" fill="{colour}"><title>{v:g}</title></rect>')
    return out


def _kind_figures(result: Report) -> list[tuple[str, str]] | None:
    """matplotlib figures for the unlearn, compare-unlearning and shots reports (``figures.py``; they replace
    the ROC curves, and for shots the plots), None for other kinds."""
    if result.kind not in ("unlearn", "compare-unlearning", "shots"):
        return None
    from qaudit_reporters.figures import figures

    return figures(result)


def _verdict_class(result: Report) -> str:
    """``fail`` for a failed gate or a LEAKS verdict (coloured alike), else the report's status."""
    leaks = bool(result.summary.get("leaks")) if isinstance(result.summary, dict) else False
    return "fail" if leaks else result.status


def _figures(result: Report) -> list[str]:
    """The ROC curves -- beside the score histograms in a leak report (``payload.score_histogram``)."""
    if not result.curves:
        return []
    out = ["<h2>ROC curves</h2>" if result.kind != "leak" else "<h2>Evidence</h2>", '<div class="figures">',
           roc_svg(result.curves)]
    hist = result.payload.get("score_histogram") if result.kind == "leak" else None
    if hist:
        from qaudit_reporters.leak_figures import histogram_svg

        out.append(histogram_svg(hist))
    out.append("</div>")
    return out


#: Cells with longer text may wrap (at spaces); shorter ones never do.
LONG_CELL = 28


def _td(value: Any) -> str:
    text = fmt(value)
    return f'<td class="long">{escape(text)}</td>' if len(text) > LONG_CELL else f"<td>{escape(text)}</td>"


def _summary(result: Report, pairs: int = 3) -> list[str]:
    """The summary as a compact table of *pairs* (name, value) pairs per row."""
    cells = []
    for key, value in result.summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
        cells.append(f"<th>{escape(key.replace('_', ' '))}</th>{_td(value)}")
    rows = ["<tr>" + "".join(cells[i:i + pairs]) + "</tr>" for i in range(0, len(cells), pairs)]
    return ['<div class="scroll"><table class="summary"><caption>summary</caption>', *rows, "</table></div>"]


def fragment(result: Report) -> str:
    """The report as one ``<div class="qaudit-report">`` with its scoped stylesheet."""
    e = escape
    out = [f'<div class="qaudit-report"><style>{CSS}</style>',
           f"<h1>{e(result.title)}</h1>", f'<p class="verdict {e(_verdict_class(result))}">{e(result.verdict)}</p>']
    drawn = _kind_figures(result)
    if drawn is not None:
        out += [f'<figure>{svg}<figcaption class="note">{e(caption)}</figcaption></figure>' for svg, caption in drawn]
    else:
        out += _figures(result)
    out += _summary(result)
    for plot in [] if drawn is not None and result.kind == "shots" else getattr(result, "plots", []):
        out.append(plot_svg(plot))
        if plot.note:
            out.append(f'<p class="note">{e(plot.note)}</p>')
    for table in result.tables:
        out.append(f'<div class="scroll"><table><caption>{e(table.title)}</caption><tr>'
                   + "".join(f"<th>{e(c)}</th>" for c in table.columns) + "</tr>")
        for row in table.rows:
            out.append("<tr>" + "".join(_td(c) for c in row) + "</tr>")
        out.append("</table></div>")
        if table.note:
            out.append(f'<p class="note">{e(table.note)}</p>')
    if result.findings:
        out.append("<h2>Gated checks</h2><table><tr><th>check</th><th>subject</th><th>value</th><th>limit</th>"
                   "<th>result</th></tr>")
        for f in result.findings:
            cls = "pass" if f.passed else "fail"
            out.append(f"<tr><td>{e(f.rule_id)}</td><td>{e(f.subject)}</td><td>{f.value:.4g}</td>"
                       f"<td>{f.threshold:.4g}</td><td class='{cls}'>{'pass' if f.passed else 'FAIL'}</td></tr>")
        out.append("</table>")
    seeds = ", ".join(f"{k}={v}" for k, v in result.seeds.items())
    out.append(f'<p class="note">schema {e(result.schema)}; seeds {e(seeds)}</p></div>')
    return "\n".join(out)


class HtmlReporter:
    """A single self-contained HTML file."""

    name: ClassVar[str] = "html"
    roles: ClassVar[frozenset[str]] = frozenset()
    suffix: ClassVar[str] = ".html"
    description: ClassVar[str] = "self-contained HTML with log-log ROC curves (inline SVG)"

    def render(self, result: Report, stream: TextIO) -> None:
        """Write the HTML document: the :func:`fragment` in a page."""
        stream.write("\n".join(["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
                                 '<meta name="viewport" content="width=device-width, initial-scale=1">',
                                 f"<title>{escape(result.title)}</title><style>{PAGE_CSS}</style></head><body>",
                                 fragment(result), "</body></html>"]) + "\n")


class HtmlFragmentReporter:
    """The HTML report as an embeddable fragment (what Jupyter displays)."""

    name: ClassVar[str] = "html-fragment"
    #: ``notebook``: the report Jupyter displays (``Report._repr_html_``).
    roles: ClassVar[frozenset[str]] = frozenset({"notebook"})
    suffix: ClassVar[str] = ".html"
    description: ClassVar[str] = "the HTML report as one <div> whose CSS is scoped to it (notebooks, web pages)"

    def render(self, result: Report, stream: TextIO) -> None:
        """Write the :func:`fragment`."""
        stream.write(fragment(result) + "\n")
