"""The HTML reports' matplotlib figures (plugins/qaudit_reporters/figures.py): log-scaled shot axes, the verdict
stated, deterministic SVG, and matplotlib imported by the reporter only."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from qaudit.report.results import Plot, Report, Series


def _shots_report() -> Report:
    rep = Report(kind="shots", title="t", schema="qaudit.shots/1", verdict="gray-box AUC 0.50 at 16 vs 0.60 at exact")
    rep.plots = [Plot("leakage vs shots", "shots", "metric", ["16", "64", "1024", "exact"],
                      [Series("AUC", [0.5, 0.55, 0.58, 0.6], [0.01, 0.02, 0.0, 0.01])], note="mean ± 1 std")]
    return rep


def _tick_x(svg: str, label: str) -> float:
    return float(re.search(rf'x="([0-9.]+)"[^>]*>{label}</text>', svg).group(1))


def test_shot_axis_is_logarithmic_and_the_verdict_is_stated():
    from qaudit_reporters.figures import shots_figures

    (svg, caption), = shots_figures(_shots_report())
    x16, x64, x1024, exact = (_tick_x(svg, t) for t in ("16", "64", "1024", "exact"))
    # log axis: 16 -> 64 is a factor 4, 64 -> 1024 a factor 16 = twice the distance; exact one factor 4 on
    assert (x1024 - x64) / (x64 - x16) == pytest.approx(2.0, rel=1e-3)
    assert (exact - x1024) / (x64 - x16) == pytest.approx(1.0, rel=1e-3)
    assert "shots (log scale)" in svg and caption.endswith("Verdict: gray-box AUC 0.50 at 16 vs 0.60 at exact")


def test_svg_is_deterministic_and_has_no_metadata():
    from qaudit_reporters.figures import shots_figures

    first, second = shots_figures(_shots_report())[0][0], shots_figures(_shots_report())[0][0]
    assert first == second and first.startswith("<svg") and "<metadata>" not in first


def test_matplotlib_only_when_an_html_report_with_figures_is_rendered():
    code = ("import sys, io\n"
            "from qaudit.report.results import Report\n"
            "from qaudit.sdk.host import get_host\n"
            "html = get_host().get('reporter', 'html')()\n"
            "html.render(Report(kind='leak', title='t', schema='s'), io.StringIO())\n"
            "print('matplotlib' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"  # a leak report's HTML draws its own SVG
