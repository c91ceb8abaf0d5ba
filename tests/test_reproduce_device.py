"""``qaudit reproduce --device``: the paper's device experiment as a stage (issue 29, item 5).

Flag parsing and the errors before anything trains (fast); the sentence that says whether leakage survives
device noise, on each of its branches; and a small end-to-end run on ``ibm-fake`` without device noise
(heavy: a tiny model, four audits), whose device cells must agree with the exact ones within shot noise.
"""

from __future__ import annotations

import json
import sys

import pytest
from conftest import one_line_error

from qaudit.sdk import QauditError


def test_device_options_are_parsed_and_checked():
    from qaudit_paper.device import DeviceSettings

    base = DeviceSettings(backends=["ibm-fake:FakeSherbrooke"])
    s = base.with_options("members=30, holdout=50,qubits=4,layers=3,epochs=12,shots=256,max_qpu_seconds=300")
    assert (s.n_train, s.n_holdout, s.shots, s.max_qpu_seconds) == (30, 50, 256, 300)
    assert (s.model["qubits"], s.model["layers"], s.model["epochs"]) == (4, 3, 12)
    assert base.model["qubits"] == 6 and base.n_train == 60  # the defaults are not changed in place
    assert base.with_options(None) == base and base.with_options("") == base
    for text, message in (("members", "KEY=N"), ("colour=3", "KEY=N"), ("members=ten", "integer"),
                          ("members=3", "members"), ("qubits=40", "qubits"), ("shots=0", "shots")):
        with pytest.raises(QauditError, match=message):
            base.with_options(text)


def test_device_flags_without_device_and_bad_devices_are_one_line(tmp_path, run_qaudit):
    out = tmp_path / "o"
    for args, message in ((["--device-only"], "need --device"),
                          (["--device-options", "members=20"], "need --device"),
                          (["--device", "exact"], "device backend"),
                          (["--device", "no-such-backend"], "no-such-backend"),
                          (["--device", "ibm-fake:FakeSherbrooke", "--device", "ibm-fake:FakeSherbrooke"], "once"),
                          (["--device", "ibm-fake:FakeSherbrooke", "--device-options", "epochs=0"], "epochs"),
                          (["--device", "ibm-fake:FakeNowhere"], "unknown fake device")):
        code, _, err = run_qaudit(["reproduce", "--quick", "--out-dir", str(out), *args])
        assert code == 2, (args, err)
        assert message in one_line_error(err), (args, err)
    assert not out.exists()


def test_missing_ibm_extra_is_one_line_before_anything_trains(tmp_path, run_qaudit, monkeypatch):
    monkeypatch.setitem(sys.modules, "qiskit_ibm_runtime", None)  # import qiskit_ibm_runtime -> ImportError
    out = tmp_path / "o"
    code, _, err = run_qaudit(["reproduce", "--device-only", "--device", "ibm-fake:FakeSherbrooke", "--out-dir",
                               str(out)])
    assert code == 2
    assert 'pip install "qaudit[ibm]"' in one_line_error(err)
    assert not out.exists()


def _entry(model, backend, leaks, auc, low, high, detectable=0.62):
    return {"model": model, "backend": backend, "leaks": leaks, "detectable_auc": detectable,
            "metrics": {"auc": auc, "auc_low": low, "auc_high": high}}


def test_the_survival_sentence_follows_both_verdicts():
    from qaudit_paper.device import survives

    dev = "ibm-fake:FakeSherbrooke"
    exact_leaks = _entry("before", "exact", True, 0.70, 0.62, 0.78)
    both = [exact_leaks, _entry("before", dev, True, 0.66, 0.57, 0.74)]
    assert survives(both, dev).startswith(f"leakage survives on {dev}")
    lost = [exact_leaks, _entry("before", dev, False, 0.53, 0.45, 0.61)]
    text = survives(lost, dev)
    assert text.startswith(f"leakage is not detected on {dev} at this size") and "0.620" in text
    none = [_entry("before", "exact", False, 0.52, 0.44, 0.60), _entry("before", dev, True, 0.61, 0.52, 0.69)]
    assert "cannot say" in survives(none, dev)
    assert survives(both[:1], dev).endswith("not run")


def test_the_stage_runs_on_a_noiseless_fake_device(tmp_path, monkeypatch):
    """End to end on a tiny model: exact beside ``ibm-fake:...,noise=none``, before and after unlearning; the
    device cells agree with the exact ones within shot noise, the report holds the table, the paper's device
    figures and the survival sentence."""
    pytest.importorskip("qiskit_ibm_runtime")
    from qaudit_paper.device import DeviceSettings
    from qaudit_paper.reproduce import ReproduceConfig, run, write_outputs

    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    backend = "ibm-fake:FakeManilaV2,noise=none"
    config = ReproduceConfig.device_only(DeviceSettings.quick([backend]))
    config.seed = 1
    report = run(config, tmp_path / "out", command="test")
    d = report.payload["results"]["device"]
    by = {(e["model"], e["backend"]): e for e in d["entries"]}
    assert sorted(by) == sorted((m, b) for m in ("before", "after") for b in ("exact", backend))
    for which in ("before", "after"):
        ex, dev = by[(which, "exact")], by[(which, backend)]
        assert ex["shots"] is None and dev["shots"] == 1024 and ex["submitted"] is None
        assert dev["submitted"]["jobs"] >= 1 and dev["submitted"]["bindings"] >= ex["members"] + ex["non_members"]
        assert (ex["members"], ex["non_members"]) == (dev["members"], dev["non_members"]) == (40, 40)
        # 80 samples at 1,024 shots: accuracy moves by a few samples at most, the AUC by shot noise
        assert abs(ex["member_accuracy"] - dev["member_accuracy"]) <= 0.1
        assert abs(ex["metrics"]["auc"] - dev["metrics"]["auc"]) <= 0.1
    claims = [c["claim"] for c in report.payload["claims"]]
    assert sum(backend in c for c in claims) == 3 and any("survives" in c for c in claims)
    assert report.summary["device_noise"][backend] == d["survives"][backend]
    paths = write_outputs(report, tmp_path / "out")
    md = next(p for p in paths if p.name == "report.md").read_text()
    assert "the paper's device experiment, offline" in md and d["survives"][backend] in md
    doc = json.loads(next(p for p in paths if p.name == "report.json").read_text())
    assert doc["results"]["device"]["n_forget_members"] == d["n_forget_members"] > 0
    # a device audit whose plan exceeds the cap is refused before anything is submitted
    from qaudit_paper.device import run_one

    from qaudit.sdk import load_dataset, load_model_file

    mf = load_model_file(tmp_path / "out" / "device-basic-qnn.json")
    with pytest.raises(QauditError, match="max-qpu-seconds"):
        run_one(mf, load_dataset("digits", {}), "before", backend, 1024, ["gray-box"], 1, 4, 20, "ga", 1)
