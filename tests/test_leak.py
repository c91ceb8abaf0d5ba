"""`qaudit leak` end to end: formats, gating exit codes, baselines, config, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qaudit.cli.app import app
from qaudit.files import model_file as model_io
from qaudit.files.data import load_dataset
from qaudit.sdk.errors import QauditError
from qaudit.train.workflows import train_model

runner = CliRunner()
FAST = ["-a", "loss,confidence,gray-box"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    ds = load_dataset("digits")
    mf = train_model("basic-qnn", ds, n_train=300, n_holdout=200, seed=0,
                     options={"qubits": 4, "layers": 2, "epochs": 3})
    path = tmp_path_factory.mktemp("leak") / "model.json"
    model_io.save(mf, path)
    return path


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no qaudit.toml / pyproject.toml above tmp dirs
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)


def _run(args):
    return runner.invoke(app, args, catch_exceptions=True)


def test_json_report_and_exit_zero(model_file, tmp_path):
    out = tmp_path / "r.json"
    res = _run(["leak", str(model_file), *FAST, "--slice", "class", "--slice", "loss-decile", "--forget-class", "4",
                "-f", "json", "-o", str(out), "--scores", "--fail-above", "auc=0.99"])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert doc["schema"] == "qaudit.leak/1" and doc["status"] == "pass"
    assert set(doc["attacks"]) == {"loss", "confidence", "gray-box"}
    # every member and non-member is scored, out of fold
    assert len(doc["scores"]["index"]) == 500 and sum(doc["scores"]["is_member"]) == 300
    assert doc["attacks"]["gray-box"]["details"]["fits"] == 5 and doc["attacks"]["loss"]["details"]["fits"] == 1
    assert doc["verdict"]["test"].startswith("one-sided Mann-Whitney") and doc["verdict"]["alpha"] == 0.05
    # the family: 3 attacks overall + 3 attacks x every testable slice, Holm-adjusted
    cells = sum(len(e["auc"]) for kind in doc["slices"].values() for e in kind)
    assert doc["verdict"]["hypotheses"] == 3 + cells
    assert "member_rate" in doc["measurements"]["gray-box"]
    assert len(doc["most_exposed"]) == 10 and {"class", "loss-decile"} == set(doc["slices"])
    # loss and confidence are monotone transforms of p_y: identical ROC metrics
    assert doc["measurements"]["loss"]["auc"] == pytest.approx(doc["measurements"]["confidence"]["auc"])
    # metrics recomputed from the per-sample scores agree with the report
    from sklearn.metrics import roc_auc_score

    s = doc["scores"]
    assert roc_auc_score(s["is_member"], s["loss"]) == pytest.approx(doc["measurements"]["loss"]["auc"])


def test_fail_above_exits_one_naming_breaches(model_file, tmp_path):
    res = _run(["leak", str(model_file), "-a", "loss", "--fail-above", "auc=0.01,distinguishability=100", "-f", "junit",
                "-o", str(tmp_path / "j.xml")])
    assert res.exit_code == 1
    assert "loss auc" in res.output and "> 0.01" in res.output
    assert "<failure" in (tmp_path / "j.xml").read_text()


def test_baseline_regression(model_file, tmp_path):
    base = tmp_path / "base.json"
    assert _run(["leak", str(model_file), "-a", "loss", "-f", "json", "-o", str(base)]).exit_code == 0
    assert _run(["leak", str(model_file), "-a", "loss", "--baseline", str(base), "-f", "json",
                 "-o", str(tmp_path / "same.json")]).exit_code == 0
    doc = json.loads(base.read_text())
    doc["measurements"]["loss"]["auc"] -= 0.2  # the previous run leaked much less
    base.write_text(json.dumps(doc))
    res = _run(["leak", str(model_file), "-a", "loss", "--baseline", str(base), "--tolerance", "0.05", "-f",
                "sarif", "-o", str(tmp_path / "r.sarif")])
    assert res.exit_code == 1 and "regressed beyond tolerance" in res.output
    sarif = json.loads((tmp_path / "r.sarif").read_text())
    assert any(r["level"] == "error" for r in sarif["runs"][0]["results"])


def test_project_config_supplies_defaults(model_file, tmp_path):
    (tmp_path / "qaudit.toml").write_text(
        f'model = "{model_file.as_posix()}"\n[leak]\nattacks = ["loss"]\nformat = "markdown"\n'
        'fail-above = "auc=0.01"\n')
    res = _run(["leak"])
    assert res.exit_code == 1 and "| loss |" in res.output
    res = _run(["leak", "--fail-above", "auc=0.99"])  # flags override the config
    assert res.exit_code == 0


def test_index_files_and_shots(model_file, tmp_path):
    mf = model_io.load(model_file)
    (tmp_path / "m.txt").write_text(" ".join(map(str, mf.data.members[:100])))
    (tmp_path / "n.txt").write_text(json.dumps([int(i) for i in mf.data.holdout[:100]]))
    res = _run(["leak", str(model_file), "-a", "loss", "--members", "m.txt", "--non-members", "n.txt",
                "--shots", "64", "-f", "json", "-o", "r.json"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["summary"]["members"] == 100 and doc["summary"]["shots"] == 64
    assert doc["summary"]["ground_truth"] == "index files"


@pytest.mark.parametrize("extra, needle", [
    (["--fail-above", "auc=lots"], "not a number"),
    (["--fail-above", "accuracy=0.5"], "unknown metric"),
    (["--format", "pdf"], "unknown reporter"),
    (["-a", "nope"], "unknown attack"),
    (["-a", "lira", "-K", "3"], "even number"),
    (["--slice", "colour"], "unknown slice"),
    (["--alpha", "0.5"], "--alpha must lie in"),
    (["--alpha", "0"], "--alpha must lie in"),
    (["--delta", "1"], "--delta must lie in"),
    (["--folds", "1"], "--folds must lie in"),
    (["--folds", "400"], "--folds must lie in"),
    (["-A", "gray-box.dropout=0.3", "-a", "gray-box"], "unknown option"),
])
def test_bad_input_is_a_qaudit_error(model_file, extra, needle):
    res = _run(["leak", str(model_file), *extra])
    assert isinstance(res.exception, QauditError), res.output
    assert needle in str(res.exception)


def test_ground_truth_errors(model_file, tmp_path):
    mf = model_io.load(model_file)
    (tmp_path / "m.txt").write_text(" ".join(map(str, mf.data.members[:50])))
    (tmp_path / "o.txt").write_text(" ".join(map(str, mf.data.members[40:90])))
    (tmp_path / "e.txt").write_text("")
    res = _run(["leak", str(model_file), "--members", "m.txt", "--non-members", "o.txt"])
    assert "overlap" in str(res.exception)
    res = _run(["leak", str(model_file), "--members", "e.txt", "--non-members", "o.txt"])
    assert "no indices" in str(res.exception)
    doc = json.loads(model_file.read_text())
    doc.pop("data")
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(doc))
    res = _run(["leak", str(bare)])
    assert "no data record" in str(res.exception)
    doc = json.loads(model_file.read_text())
    doc["data"]["holdout"] = []
    (tmp_path / "noholdout.json").write_text(json.dumps(doc))
    res = _run(["leak", str(tmp_path / "noholdout.json")])
    assert "no non-members" in str(res.exception) and "--non-members" in str(res.exception)


def test_cli_one_line_error_exit_two(model_file):
    exe = Path(sys.executable).parent / "qaudit"
    if not exe.exists():
        pytest.skip("qaudit console script not installed next to the interpreter")
    proc = subprocess.run([str(exe), "leak", str(model_file), "--fail-above", "auc"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "METRIC=VALUE" in lines[0]
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_random_split_is_seeded(model_file, tmp_path):
    docs = []
    for name in ("a.json", "b.json"):
        assert _run(["leak", str(model_file), "-a", "loss", "--scores", "--seed", "5", "-f", "json",
                     "-o", name]).exit_code == 0
        docs.append(json.loads((tmp_path / name).read_text()))
    assert docs[0]["scores"] == docs[1]["scores"] and docs[0]["seeds"]["audit"] == 5
    assert np.isfinite(docs[0]["measurements"]["loss"]["auc"])
