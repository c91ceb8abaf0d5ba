"""Threshold parsing, threshold/baseline checks and the project config loader."""

from __future__ import annotations

import json

import pytest

from qaudit import gating
from qaudit.audit import GATE_METRICS
from qaudit.config import load_config, pick, resolve_path
from qaudit.errors import QauditError

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


def test_config_qaudit_toml_and_pyproject(tmp_path, monkeypatch):
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text('[tool.qaudit]\nmodel = "py.json"\n[tool.qaudit.leak]\nshots = 64\n')
    cfg = load_config("leak", start=sub)
    assert cfg["model"] == "py.json" and cfg["shots"] == 64 and cfg["_dir"] == str(tmp_path)
    (tmp_path / "a" / "qaudit.toml").write_text(
        'model = "m.json"\ndata-dir = "data"\n[leak]\nfail-above = "auc=0.6"\nattacks = ["loss"]\n'
        '[unlearn]\nmethod = "sisa"\nforget-class = 4\n')
    cfg = load_config("leak", start=sub)  # nearer qaudit.toml wins
    assert cfg["fail_above"] == "auc=0.6" and cfg["attacks"] == ["loss"] and "method" not in cfg
    assert resolve_path(cfg, cfg["model"]) == str(tmp_path / "a" / "m.json")
    un = load_config("unlearn", start=sub)
    assert un["method"] == "sisa" and un["forget_class"] == 4 and un["data_dir"] == "data"
    assert pick(None, un, "forget_class", None, int) == 4 and pick(7, un, "forget_class", None, int) == 7
    with pytest.raises(QauditError, match="must be str"):
        pick(None, un, "forget_class", None, str)
    (tmp_path / "a" / "qaudit.toml").write_text("model = \n")
    with pytest.raises(QauditError, match="invalid TOML"):
        load_config("leak", start=sub)
    empty = tmp_path.parent / "nothing-here"
    empty.mkdir(exist_ok=True)
    monkeypatch.setenv("QAUDIT_CONFIG", str(tmp_path / "pyproject.toml"))
    assert load_config("leak", start=empty)["model"] == "py.json"


def test_example_ci_config_is_valid(monkeypatch):
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "ci" / "qaudit.toml"
    if not example.exists():
        pytest.skip("examples/ci not present")
    monkeypatch.setenv("QAUDIT_CONFIG", str(example))
    cfg = load_config("leak")
    assert cfg["model"] == "models/model.json" and cfg["shots"] == 1024
    assert len(gating.parse_thresholds(cfg["fail_above"], GATE_METRICS)) == 3
    assert load_config("unlearn")["method"] == "sisa"
    workflow = (example.parent / "privacy-audit.yml").read_text()
    assert "upload-sarif" in workflow and "qaudit leak --format sarif" in workflow
