"""Threshold parsing and threshold/baseline checks (the project config: tests/test_config.py)."""

from __future__ import annotations

import json

import pytest

from qaudit.leak.audit import GATE_METRICS
from qaudit.report import gating
from qaudit.sdk.errors import QauditError

M = {"lira": {"auc": 0.7, "tpr@1%fpr": 0.02, "distinguishability": 2.5}, "loss": {"auc": 0.55, "tpr@1%fpr": 0.0,
                                                                       "distinguishability": 0.1}}


def test_parse_thresholds():
    ts = gating.parse_thresholds("auc=0.6, tpr@1%fpr=0.05,distinguishability=2,lira:auc=0.65", GATE_METRICS)
    assert [(t.metric, t.value, t.subject) for t in ts] == [
        ("auc", 0.6, None), ("tpr@1%fpr", 0.05, None), ("distinguishability", 2.0, None), ("auc", 0.65, "lira")]
    assert gating.parse_thresholds({"auc": 0.6}, GATE_METRICS)[0].value == 0.6
    assert gating.parse_thresholds(None, GATE_METRICS) == []


@pytest.mark.parametrize("spec, needle", [
    ("auc", "expected METRIC=VALUE"), ("auc=high", "not a number"), ("accuracy=0.5", "unknown metric"),
    ("auc=nan", "not a finite number"), (",", "no thresholds"), ("auc=0.6;distinguishability=2", "not a number"),
    ("epsilon=2", "renamed 'distinguishability'"),
])
def test_parse_thresholds_errors(spec, needle):
    with pytest.raises(QauditError, match=needle):
        gating.parse_thresholds(spec, GATE_METRICS)


def test_check_thresholds_names_breaches():
    ts = gating.parse_thresholds("auc=0.6,distinguishability=2", GATE_METRICS)
    findings = gating.check_thresholds(M, ts, "leak", "m.json")
    failed = sorted(f.message for f in findings if not f.passed)
    assert failed == ["lira auc 0.7 > 0.6", "lira distinguishability 2.5 > 2"]
    assert len(findings) == 4 and all(f.location == "m.json" for f in findings)
    only = gating.check_thresholds(M, gating.parse_thresholds("loss:auc=0.5", GATE_METRICS), "leak")
    assert [(f.subject, f.passed) for f in only] == [("loss", False)]
    with pytest.raises(QauditError, match="not in this report"):
        gating.check_thresholds(M, gating.parse_thresholds("rmia:auc=0.5", GATE_METRICS), "leak")


def test_baseline_regression_only(tmp_path):
    path = tmp_path / "base.json"
    path.write_text(json.dumps({"schema": "qaudit.leak/1", "measurements": {
        "lira": {"auc": 0.69, "tpr@1%fpr": 0.0, "epsilon": 1.0}, "gone": {"auc": 0.9}}}))  # before the rename
    base = gating.read_baseline(path, "qaudit.leak/1")
    tol = gating.parse_tolerance("0.02", GATE_METRICS)
    findings = gating.check_baseline(M, base, ["auc", "tpr@1%fpr", "distinguishability"], tol, "leak")
    bad = {(f.subject, f.metric) for f in findings if not f.passed}
    assert bad == {("lira", "distinguishability")}  # auc +0.01 within 0.02; tpr +0.02 within; +1.5 not
    tol = gating.parse_tolerance("distinguishability=2", GATE_METRICS)
    assert tol == {"*": gating.DEFAULT_TOLERANCE, "distinguishability": 2.0}
    assert all(f.passed for f in gating.check_baseline(M, base, ["auc", "distinguishability"], tol, "leak"))
    with pytest.raises(QauditError, match="does not match"):
        gating.read_baseline(path, "qaudit.unlearn/1")
    path.write_text("{}")
    with pytest.raises(QauditError, match="not a qaudit JSON report"):
        gating.read_baseline(path)
    path.write_text("{not json")
    with pytest.raises(QauditError, match="not valid JSON"):
        gating.read_baseline(path)
    with pytest.raises(QauditError, match="non-negative"):
        gating.parse_tolerance("-1", GATE_METRICS)
