"""Reporter plugins render any Report; formats parse and hold what the Report holds."""

from __future__ import annotations

import io
import json
import re
from xml.etree import ElementTree as ET

import pytest

from qaudit.report.results import Curve, Finding, Report, Table
from qaudit.sdk.host import get_host


def _report(findings: bool = True) -> Report:
    r = Report(kind="leak", title="audit of <script>alert(1)</script>", schema="qaudit.leak/1",
               verdict="LEAKS: strongest attack loss", location="models/model.json")
    r.summary = {"members": 10, "worst_slice": {"slice": "class 2", "auc": 0.71}}
    r.tables = [Table("attacks", ["attack", "AUC"], [["loss", 0.61234], ["gray-box", float("nan")]], "a | note")]
    r.curves = [Curve("loss", [0.0, 0.001, 0.1, 1.0], [0.0, 0.01, 0.3, 1.0], 0.61),
                Curve("gray-box", [0.0, 0.5, 1.0], [0.0, 0.5, 1.0], 0.5)]
    r.measurements = {"loss": {"auc": 0.61, "distinguishability": 0.3},
                      "gray-box": {"auc": 0.5, "distinguishability": 0.0}}
    r.seeds = {"audit": 3}
    if findings:
        r.apply_findings([
            Finding("leak/auc", "loss", "auc", 0.61, 0.6, False, "loss auc 0.61 > 0.6", "models/model.json"),
            Finding("leak/auc", "gray-box", "auc", 0.5, 0.6, True, "gray-box auc 0.5 <= 0.6", "models/model.json"),
        ])
    return r


def _render(fmt: str, report: Report) -> str:
    buf = io.StringIO()
    get_host().get("reporter", fmt)().render(report, buf)
    return buf.getvalue()


def test_all_formats_registered():
    names = set(get_host().names("reporter"))
    assert {"rich", "json", "markdown", "html", "sarif", "junit"} <= names


def test_json_is_versioned_and_finite():
    doc = json.loads(_render("json", _report()))
    assert doc["schema"] == "qaudit.leak/1" and doc["status"] == "fail"
    assert doc["measurements"]["loss"]["auc"] == 0.61
    assert len(doc["findings"]) == 2 and doc["curves"][0]["label"] == "loss"
    assert doc["verdict"].startswith("FAIL: 1 threshold(s) breached")


def test_sarif_structure():
    doc = json.loads(_render("sarif", _report()))
    assert doc["version"] == "2.1.0"
    run = doc["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    levels = sorted(res["level"] for res in run["results"])
    assert levels == ["error", "none"]
    for res in run["results"]:
        assert res["ruleId"] in rule_ids
        assert res["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "models/model.json"
    # no gating: one informational note carrying the verdict
    doc = json.loads(_render("sarif", _report(findings=False)))
    assert [r["level"] for r in doc["runs"][0]["results"]] == ["note"]


def test_junit_one_case_per_gated_check():
    root = ET.fromstring(_render("junit", _report()))
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == 2 and suite.get("failures") == "1"
    failed = [c for c in cases if c.find("failure") is not None]
    assert failed[0].get("classname") == "leak.loss"
    root = ET.fromstring(_render("junit", _report(findings=False)))
    assert len(root.find("testsuite").findall("testcase")) == 2  # one per attack


def test_markdown_tables_and_escaping():
    text = _render("markdown", _report())
    assert "| attack | AUC |" in text and "| loss | 0.612 |" in text and "| gray-box | - |" in text
    assert "a \\| note" in text and "❌" in text


def test_html_self_contained_with_log_log_svg():
    text = _render("html", _report())
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert not re.search(r"(src|href)=\"http", text)
    assert text.count("<polyline") == 2
    from qaudit_reporters.html import roc_svg

    svg = roc_svg([Curve("c", [1e-3, 1.0], [1e-3, 1.0])], width=460, height=420)
    pts = re.search(r'points="([^"]+)"', svg).group(1).split()
    (x0, y0), (x1, y1) = (tuple(map(float, p.split(","))) for p in pts)
    # plot box: left 60, right 20, top 20, bottom 50 -> (1e-3, 1e-3) bottom-left, (1, 1) top-right
    assert (x0, y0) == pytest.approx((60, 370)) and (x1, y1) == pytest.approx((440, 20))
    # 0.1 is two thirds of the way along a 3-decade log axis
    svg = roc_svg([Curve("c", [0.1, 0.1], [0.0, 0.1])])
    x = float(re.search(r'points="([^,]+),', svg).group(1))
    assert x == pytest.approx(60 + 380 * 2 / 3, abs=0.06)  # coordinates are printed to 0.1


def test_rich_text_contains_verdict_and_tables():
    text = _render("rich", _report())
    assert "FAIL" in text and "attacks" in text and "loss auc 0.61 > 0.6" in text
