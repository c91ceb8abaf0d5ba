"""``qaudit unlearn`` / ``qaudit compare-unlearning`` end to end on the tiny digits model."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest


@pytest.fixture(autouse=True)
def _cache(monkeypatch, tmp_path):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_unlearn_writes_model_and_json_report(cli_runner, tiny_model, tmp_path):
    from qaudit.files import model_file as model_io

    src = tiny_model.path
    before = _digest(src)
    out = tmp_path / "forgot.json"
    report = tmp_path / "report.json"
    res = cli_runner.invoke(["unlearn", str(src), "--method", "ssd", "-O", "alpha=1.5", "--forget-class", "4",
                             "--out", str(out), "--format", "json", "--output", str(report)])
    assert res.exit_code in (0, 1), res.stderr + res.stdout
    assert _digest(src) == before  # the input is never modified
    doc = json.loads(report.read_text())
    assert doc["schema"] == "qaudit.unlearn/2"
    r = doc["result"]
    assert res.exit_code == (0 if r["judgement"]["met"] else 1)  # exit 1 exactly when the request is not met
    assert [c["key"] for c in r["judgement"]["checks"]] == ["forget_accuracy", "forget_mia_auc", "retained_accuracy",
                                                           "holdout_accuracy"]
    assert doc["oracle"]["n"] == 5 and len(set(doc["oracle"]["seeds"])) == 5
    assert r["method"] == "ssd" and r["options"]["alpha"] == 1.5
    forget = np.asarray(doc["forget"]["n"])
    assert forget > 0 and r["cost"]["gradient_evaluations"] > 0
    mf = model_io.load(out)
    prov = mf.provenance["unlearning"][-1]
    assert prov["method"] == "ssd" and prov["forget"]["classes"] == [4]
    assert len(prov["forget"]["indices"]) == doc["forget"]["n"]
    # the report's "after" accuracy is the saved model's accuracy
    ds = tiny_model.dataset
    ids = np.asarray(prov["forget"]["indices"])
    acc = float(np.mean(mf.model.predict(ds.X[ids]) == ds.y[ids]))
    assert acc == pytest.approx(r["after"]["accuracy"]["forget"])
    assert set(doc["measurements"]["ssd"]) >= {"forget_mia_auc", "forget_accuracy", "cost_ratio"}


def test_default_output_path_and_gating(cli_runner, tiny_model):
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--method", "ga", "--forget-class", "1",
                             "--fail-above", "forget_mia_auc=0.0"])
    assert res.exit_code == 1
    assert tiny_model.path.with_name(tiny_model.path.stem + ".unlearned.json").is_file()
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--method", "ga", "--forget-class", "1",
                             "--fail-above", "forget_mia_auc=1.0", "--format", "markdown", "--no-forget-gate"])
    assert res.exit_code == 0 and "| measure |" in res.stdout


def test_a_method_that_changes_nothing_is_judged_not_met(cli_runner, tiny_model, tmp_path, monkeypatch):
    """Unlearning that leaves the model as it was must not pass silently (exit 1, one-line reason)."""
    import json

    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "r.json"
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--method", "ga", "-O", "steps=0", "--forget-class",
                             "1", "--format", "json", "--output", str(out), "--out", str(tmp_path / "u.json")])
    assert res.exit_code == 1, res.stderr
    doc = json.loads(out.read_text())
    judgement = doc["result"]["judgement"]
    assert judgement["met"] is False and judgement["changed_parameters"] == 0
    assert "ga changed 0 of" in judgement["reason"] and "forget accuracy" in judgement["reason"]
    assert "vs retraining" in judgement["reason"] and "[" in judgement["reason"]  # the figure with its interval
    assert any(f["metric"] == "forget_accuracy_vs_retraining" and not f["passed"] for f in doc["findings"])
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--method", "ga", "-O", "steps=0", "--forget-class",
                             "1", "--no-forget-gate", "--out", str(tmp_path / "u2.json")])
    assert res.exit_code == 0  # the judgement is still reported, but does not gate
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--forget-class", "1", "--forget-tolerance", "acc=2"])
    assert res.exit_code == 2 and "must lie in [0, 1]" in res.stderr


@pytest.mark.parametrize("content,extra,message", [
    ("99999", [], "indices must lie in"),
    ("1 1", [], "duplicate"),
    ("", [], "no indices"),
    (None, ["--forget-class", "12"], "do not exist"),
    (None, ["--forget-class", "4", "--method", "rga", "--retain-fraction", "0"], "no retained data"),
    (None, ["--forget-class", "4", "--method", "sisa"], "--model sisa -O shards="),
    (None, [], "say what to forget"),
    (None, ["--forget-class", "4", "-O", "bogus=1"], "unknown option"),
    (None, ["--forget-class", "4", "--oracles", "0"], "--oracles must be an integer in 1..64"),
    (None, ["--forget-class", "4", "--utility-tolerance", "2"], "--utility-tolerance 2.0: must lie in [0, 1]"),
])
def test_bad_input_is_a_one_line_error(cli_runner, tiny_model, tmp_path, content, extra, message):
    args = ["unlearn", str(tiny_model.path)]
    if content is not None:
        f = tmp_path / "idx.txt"
        f.write_text(content)
        args += ["--forget-indices", str(f)]
    res = cli_runner.invoke(args + extra)
    assert res.exit_code == 2, res.stderr
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_forgetting_everything_and_non_members(cli_runner, tiny_model, tmp_path):
    members = tiny_model.file.data.members
    f = tmp_path / "all.txt"
    f.write_text(" ".join(map(str, members)))
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--forget-indices", str(f)])
    assert res.exit_code == 2 and "nothing would remain" in res.stderr
    f.write_text(str(int(tiny_model.file.data.holdout[0])))
    res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--forget-indices", str(f)])
    assert res.exit_code == 2 and "not training members" in res.stderr


def test_compare_unlearning_table(cli_runner, tiny_model, tmp_path):
    out = tmp_path / "cmp.json"
    res = cli_runner.invoke(["compare-unlearning", str(tiny_model.path), "--methods", "ga,ssd,retrain",
                             "--forget-class", "4", "--seeds", "0,1", "-O", "ssd.alpha=1.5", "--format", "json",
                             "--output", str(out)])
    assert res.exit_code == 0, res.stderr
    doc = json.loads(out.read_text())
    rows = {r["method"]: r for r in doc["rows"]}
    assert set(rows) == {"ga", "ssd", "retrain"} and all(r["n_seeds"] == 2 for r in rows.values())
    # the retrain baseline trains with each run's seed, independent of the reference's retrains
    assert rows["retrain"]["mean"]["cost_ratio"] == pytest.approx(1.0)
    assert rows["retrain"]["mean"]["forget_accuracy"] == 0.0
    assert rows["retrain"]["std"]["retain_accuracy"] > 0  # two seeds, two different retrains
    assert not set(doc["oracle"]["seeds"]) & {0, 1}
    assert rows["ga"]["mean"]["cost_ratio"] < 0.5
    res = cli_runner.invoke(["compare-unlearning", str(tiny_model.path), "--methods", "ga", "--forget-class", "4",
                             "-O", "nope.lr=1"])
    assert res.exit_code == 2 and "METHOD.KEY" in res.stderr


def test_unlearn_html_has_the_figures_and_is_deterministic(cli_runner, tiny_model, tmp_path):
    """Before/after/retraining for accuracy and forget-MIA AUC, the forget-set ROC curves: >= 2 inline SVG
    figures, byte-identical when rendered twice (fixed svg.hashsalt, no date)."""
    pages = []
    for i in range(2):
        out = tmp_path / f"u{i}.html"
        res = cli_runner.invoke(["unlearn", str(tiny_model.path), "--method", "ga", "--forget-class", "4",
                                 "--oracles", "2", "-f", "html", "--output", str(out), "--out",
                                 str(tmp_path / f"m{i}.json")])
        assert res.exit_code in (0, 1), res.stderr
        pages.append(out.read_text())
    text = pages[0]
    assert text.count("<svg") >= 3 and text.count("<figure>") >= 3
    assert "accuracy: before / after / retraining spread" in text and "forget-set ROC" in text
    assert "<metadata>" not in text and "<dc:date>" not in text  # no date, no RDF block
    import re

    figures = [re.findall(r"<svg.*?</svg>", page, flags=re.S) for page in pages]
    assert figures[0] == figures[1]  # the second run reads cached retrains: same numbers, same bytes
