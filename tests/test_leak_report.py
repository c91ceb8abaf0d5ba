"""The leak report shows its evidence (issue 25 item 8): score histograms of the rejected (or strongest)
attack beside the ROC, LEAKS coloured like FAIL, a notebook fragment whose CSS is scoped to it, and piped
terminal tables that never break a word inside a cell."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from qaudit.leak import evidence
from qaudit.leak.verdict import SliceCell
from qaudit.report.results import Curve, Report, Table
from qaudit.sdk.host import get_host


def _render(fmt: str, report: Report) -> str:
    buf = io.StringIO()
    get_host().get("reporter", fmt)().render(report, buf)
    return buf.getvalue()


def _histogram() -> dict:
    rng = np.random.default_rng(0)
    m = np.r_[np.ones(60, bool), np.zeros(90, bool)]
    scores = {"loss": np.r_[rng.normal(1, 1, 60), rng.normal(0, 1, 90)], "entropy": rng.normal(size=150)}
    return evidence.score_histogram(["loss"], [], scores, m, {}, best="entropy")


def _leak_report(leaks: bool = True, status: str = "info") -> Report:
    r = Report(kind="leak", title="audit of m.json", schema="qaudit.leak/1", status=status,
               verdict=("LEAKS" if leaks else "no significant leakage") + " (4 one-sided tests, Holm)")
    r.summary = {"members": 60, "leaks": leaks}
    r.tables = [Table("attacks", ["attack", "TPR@1%FPR"], [["loss", "0.120 [0.045, 0.243] unreliable (2.0 exp. FP)"]])]
    r.curves = [Curve("loss", [0.0, 0.01, 1.0], [0.0, 0.1, 1.0], 0.7)]
    r.payload = {"score_histogram": _histogram()}
    return r


def test_histogram_of_the_rejected_slice_or_the_strongest_attack():
    rng = np.random.default_rng(1)
    m = np.r_[np.ones(50, bool), np.zeros(70, bool)]
    scores = {"loss": rng.normal(size=120), "entropy": rng.normal(size=120)}
    scores["loss"][0] = 1e6  # an extreme score lands in the last bin, it does not stretch the axis
    cls = np.arange(120) % 2 == 0
    cell = SliceCell("class", "class 0", "loss", int((cls & m).sum()), int((cls & ~m).sum()), 0.8, 0.001)
    masks = {("class", "class 0"): cls}
    h = evidence.score_histogram(["loss on class: class 0"], [cell], scores, m, masks, "entropy")
    assert (h["attack"], h["slice"], h["why"]) == ("loss", "class: class 0", "rejected")
    assert sum(h["members"]) == cell.members and sum(h["non_members"]) == cell.non_members
    assert len(h["edges"]) == evidence.BINS + 1 and h["edges"][-1] < 10
    h = evidence.score_histogram([], [cell], scores, m, masks, "entropy")
    assert (h["attack"], h["slice"], h["why"]) == ("entropy", None, "strongest")
    assert sum(h["members"]) == 50 and sum(h["non_members"]) == 70
    h = evidence.score_histogram([], [], {"c": np.zeros(120)}, m, {}, "c")  # constant scores: one bin
    assert sum(h["members"]) == 50 and h["edges"][0] < h["edges"][-1]


def test_leak_html_shows_roc_beside_histograms_and_colours_leaks_like_fail():
    text = _render("html", _leak_report())
    figures = re.search(r'<div class="figures">(.*?)</div>', text, re.S).group(1)
    assert figures.count("<svg") == 2  # the log-log ROC and the score histograms, side by side
    assert figures.count('class="hist"') == 2  # members and non-members
    assert "loss scores, all scored samples (rejected)" in figures
    assert re.search(r'<p class="verdict fail">LEAKS', text)
    assert re.search(r'<p class="verdict info">no significant', _render("html", _leak_report(leaks=False)))
    assert text == _render("html", _leak_report())  # deterministic
    other = _leak_report()
    other.kind = "unlearn"
    assert _render("html", other).count("<svg") == 1  # only a leak report has the histograms


def test_notebook_fragment_scopes_its_css():
    report = _leak_report()
    html = report._repr_html_()
    assert html.startswith('<div class="qaudit-report">') and html.rstrip().endswith("</div>")
    assert not re.search(r"<(html|head|body)\b", html)
    css = re.search(r"<style>(.*?)</style>", html, re.S).group(1)
    rules = re.findall(r"([^{}]+)\{[^{}]*\}", css)
    assert len(rules) > 5
    for selectors in rules:
        for selector in selectors.split(","):
            assert selector.strip().startswith(".qaudit-report"), selector
    page = _render("html", report)
    assert page.startswith("<!DOCTYPE html>") and html.strip() in page  # the file is the fragment in a page


@pytest.mark.parametrize("stream", [True, False])
def test_piped_tables_do_not_break_words(stream, capsys):
    words = ["distinguishability", "0.120 [0.045, 0.243] unreliable (2.0 exp. FP)", "non-member-rate-column",
             "calibration_non_members"]
    cols = [f"{w} {i}" for i, w in enumerate(words * 4)]
    report = Report(kind="leak", title="t", schema="qaudit.leak/1", verdict="LEAKS")
    report.tables = [Table("wide", cols, [[f"{w} value" for w in words * 4]], "a note " * 40)]
    renderer = get_host().get("reporter", "rich")()
    if stream:
        text = _render("rich", report)
    else:  # stdout is not a terminal under pytest: the piped-terminal path
        renderer.render(report, None)
        text = capsys.readouterr().out
    cells = [c.strip() for line in text.splitlines() for c in re.split(r"[│┃]", line) if c.strip()]
    tokens = {t for c in cells for t in c.split()}
    for w in words:
        for word in w.split():
            assert word in tokens, (word, sorted(tokens)[:20])
