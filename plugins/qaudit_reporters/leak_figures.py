"""The leak report's evidence figure: member vs non-member score histograms (hand-written SVG).

Draws ``payload.score_histogram`` (computed by the audit, :mod:`qaudit.leak.evidence`): each group's share
of its samples per bin, members and non-members as translucent step areas over the same bins, so a
shift between them is visible at a glance. Deterministic text (no timestamps, no random ids), every
label escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

MEMBER, NON_MEMBER = "#d62728", "#1f77b4"


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    return [lo + (hi - lo) * k / (count - 1) for k in range(count)]


def _step_path(edges: list[float], shares: list[float], sx: Any, sy: Any) -> str:
    """A closed step outline of *shares* over *edges* (from the baseline and back)."""
    pts = [f"M{sx(edges[0]):.1f},{sy(0.0):.1f}"]
    for left, right, v in zip(edges[:-1], edges[1:], shares):
        pts.append(f"L{sx(left):.1f},{sy(v):.1f}L{sx(right):.1f},{sy(v):.1f}")
    pts.append(f"L{sx(edges[-1]):.1f},{sy(0.0):.1f}Z")
    return "".join(pts)


def histogram_svg(hist: dict[str, Any], width: int = 460, height: int = 420) -> str:
    """An SVG of the member and non-member score shares per bin of *hist* (``payload.score_histogram``)."""
    left, right, top, bottom = 60, 20, 40, 50
    pw, ph = width - left - right, height - top - bottom
    edges = [float(v) for v in hist["edges"]]
    groups = [("members", MEMBER, hist["members"]), ("non-members", NON_MEMBER, hist["non_members"])]
    shares = [[c / max(sum(counts), 1) for c in counts] for _, _, counts in groups]
    top_share = max(max(s) for s in shares) or 1.0
    lo, hi = edges[0], edges[-1]

    def sx(v: float) -> float:
        return left + (v - lo) / (hi - lo) * pw

    def sy(v: float) -> float:
        return top + ph - v / (top_share * 1.08) * ph

    where = hist.get("slice") or "all scored samples"
    title = f"{hist['attack']} scores, {where} ({hist.get('why', '')})"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
             f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="white" stroke="#333"/>']
    for v in _ticks(0.0, top_share * 1.08):
        parts.append(f'<line x1="{left}" y1="{sy(v):.1f}" x2="{left + pw}" y2="{sy(v):.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" font-size="11" text-anchor="end">{v:.2f}</text>')
    for v in _ticks(lo, hi):
        parts.append(f'<text x="{sx(v):.1f}" y="{top + ph + 16}" font-size="11" text-anchor="middle">{v:.3g}</text>')
    for (_, colour, _), share in zip(groups, shares):
        parts.append(f'<path class="hist" d="{_step_path(edges, share, sx, sy)}" fill="{colour}" fill-opacity="0.3" '
                     f'stroke="{colour}" stroke-width="1.5"/>')
    for i, (label, colour, counts) in enumerate(groups):
        ly = top + 16 + 16 * i
        parts.append(f'<rect x="{left + pw - 150}" y="{ly - 9}" width="14" height="10" fill="{colour}" '
                     f'fill-opacity="0.3" stroke="{colour}"/>')
        parts.append(f'<text x="{left + pw - 130}" y="{ly}" font-size="11">{label} (n = {sum(counts)})</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 10}" font-size="12" text-anchor="middle">'
                 'held-out attack score (outermost 0.5 % at each end counted in the end bins)</text>')
    parts.append(f'<text transform="translate(14 {top + ph / 2}) rotate(-90)" font-size="12" '
                 'text-anchor="middle">share of the group</text>')
    parts.append("</svg>")
    return "\n".join(parts)
