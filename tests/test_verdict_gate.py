"""The leak verdict names what it rejected, states its power, and gates CI (issue 25 items 3-5)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qaudit import api
from qaudit.leak.audit import AuditSettings
from qaudit.leak.recorded import RecordedOutputs, run_outputs_audit
from qaudit.sdk.host import get_host

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "outputs" / "outputs.npz"


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)


def _one_class_leaks(seed: int = 0, n: int = 300) -> RecordedOutputs:
    """Outputs where only class 3's members are more confident than its non-members (a slice effect
    too small to move the overall AUC much)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, size=2 * n)
    membership = np.zeros(2 * n, bool)
    membership[rng.permutation(2 * n)[:n]] = True
    logits = rng.normal(0, 1, size=(2 * n, 10)) + 2.0 * np.eye(10)[labels]
    logits[np.arange(2 * n), labels] += 3.0 * (membership & (labels == 3))
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return RecordedOutputs(e / e.sum(axis=1, keepdims=True), labels.astype(np.int64), membership)


def test_verdict_line_names_the_rejected_slice_its_interval_and_adjusted_p():
    report = run_outputs_audit(_one_class_leaks(), AuditSettings(seed=0, n_bootstrap=50, slices=["class"]),
                               ["loss", "confidence"])
    rejected = report.summary["rejected_hypothesis"]
    assert report.summary["leaks"] and rejected["slice"] == "class: class 3"
    assert rejected["hypothesis"] == report.payload["verdict"]["rejected"][0]
    cell = next(e for e in report.payload["slices"]["class"] if e["slice"] == "class 3")
    assert rejected["p_adjusted"] == cell["p_adjusted"][rejected["attack"]]
    line = report.verdict
    assert line.startswith("LEAKS") and f"{rejected['attack']} on class: class 3 AUC {rejected['auc']:.3f}" in line
    assert f"adjusted p {rejected['p_adjusted']:.2g}" in line.split(";")[1]


def test_a_pass_states_what_it_could_have_detected_overall_and_per_slice():
    rng = np.random.default_rng(1)
    recorded = _one_class_leaks(1)
    recorded = RecordedOutputs(recorded.probs, recorded.labels, rng.permutation(recorded.membership))  # null
    report = run_outputs_audit(recorded, AuditSettings(seed=1, n_bootstrap=50, slices=["class"]), ["loss"])
    assert not report.summary["leaks"]
    detect = report.summary["detectable_auc"]
    m = 1 + 10  # one attack overall + 10 class cells
    assert detect["hypotheses"] == m and detect["level"] == pytest.approx(0.05 / m) and detect["power"] == 0.8
    assert 0.5 < detect["auc"] < 0.65
    assert f"would have detected AUC >= {detect['auc']:.3f} overall with 80% power" in report.verdict
    per_slice = [e["detectable_auc"] for e in report.payload["slices"]["class"]]
    assert all(a is None or a > detect["auc"] for a in per_slice)  # smaller groups, larger detectable AUC
    assert "in the smallest tested slice" in report.verdict


def test_leaks_exits_1_without_a_flag_and_sarif_junit_say_so(run_qaudit, tmp_path):
    reports = ["--report", f"sarif={tmp_path / 'r.sarif'}", "--report", f"junit={tmp_path / 'r.xml'}"]
    code, out, err = run_qaudit(["leak", "--outputs", str(EXAMPLE), "-a", "loss", "-f", "json", *reports])
    assert code == 1, err
    doc = json.loads(out)
    assert doc["summary"]["leaks"] and doc["verdict"]["line"].startswith("FAIL: LEAKS")
    sarif = json.loads((tmp_path / "r.sarif").read_text())["runs"][0]
    assert [(r["ruleId"], r["level"]) for r in sarif["results"]] == [("leak/verdict", "error")]
    assert "<failure" in (tmp_path / "r.xml").read_text()
    code, _, err = run_qaudit(["leak", "--outputs", str(EXAMPLE), "-a", "loss", "--exit-zero", "-f", "json"])
    assert code == 0, err
    code, _, err = run_qaudit(["leak", "--outputs", str(EXAMPLE), "-a", "loss", "--fail-on", "maybe"])
    assert code == 2 and "--fail-on must be one of leaks, none" in err


def test_a_flagged_low_fpr_figure_is_gated_on_its_lower_bound():
    report = api.audit_outputs(EXAMPLE, attacks=["loss"], fail_above="tpr@1%fpr=0.0", fail_on="none")
    point = report.payload["attacks"]["loss"]["metrics"]["operating_points"]["tpr@1%fpr"]
    assert point["flagged"]  # 50 test non-members: 0.5 expected false positives
    (finding,) = report.findings
    assert finding.value == pytest.approx(point["tpr_ci"][0]) and "gated on its 95% lower bound" in finding.message
    assert finding.passed == (point["tpr_ci"][0] <= 0.0)


def test_fast_profile_is_the_default_without_reference_attacks():
    host = get_host()
    from qaudit.leak.audit import default_attacks, reference_models_for

    full, fast = default_attacks("default"), default_attacks("default", fast=True)
    assert set(fast) < set(full)
    assert all(getattr(host.get("attack", a), "needs_reference", False) for a in set(full) - set(fast))
    assert not any(getattr(host.get("attack", a), "needs_reference", False) for a in fast)
    assert reference_models_for(full) == max(getattr(host.get("attack", a), "reference_models", 16)
                                             for a in full if getattr(host.get("attack", a), "needs_reference", False))
