"""qaudit reproduce: missing data errors, the wiring of every stage on a tiny digits config, the claims
table computed from the results (never typed in), provenance; the full MNIST run is marked slow."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from conftest import one_line_error


def tiny_config(**changes):
    from qaudit_paper.reproduce import ReproduceConfig

    cfg = ReproduceConfig(dataset="digits", n_train=160, n_holdout=100, forget_class=4, seed=2,
                          models={"basic-qnn": {"qubits": 4, "layers": 2, "epochs": 5}}, methods=["ga", "ssd"],
                          attacks=["gray-box"], shots=[16, None], repeats=2, bootstrap=20)
    for key, value in changes.items():
        setattr(cfg, key, value)
    return cfg


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from qaudit_paper.reproduce import run, write_outputs

    out = tmp_path_factory.mktemp("repro")
    report = run(tiny_config(), out, command="qaudit reproduce (test)")
    return report, write_outputs(report, out), out


def test_missing_mnist_is_a_one_line_error(tmp_path, monkeypatch, run_qaudit):
    from qaudit_paper.reproduce import check_mnist

    from qaudit.errors import QauditError

    monkeypatch.delenv("QAUDIT_MNIST_DIR", raising=False)
    with pytest.raises(QauditError, match="--data-dir"):
        check_mnist(None)
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(QauditError, match="t10k-labels-idx1-ubyte"):
        check_mnist(str(tmp_path))
    for args in (["reproduce", "--out-dir", str(tmp_path / "o")],
                 ["reproduce", "--data-dir", str(tmp_path / "nowhere"), "--out-dir", str(tmp_path / "o")]):
        code, _, err = run_qaudit(args)
        assert code == 2
        line = one_line_error(err)
        assert "--data-dir" in line and "t10k-images-idx3-ubyte" in line and "mnist" in line.lower()
    assert not (tmp_path / "o").exists()


def test_bad_shot_options_exit_2(tmp_path, run_qaudit):
    for args, message in ((["--shots", "64,16"], "increasing"), (["--repeats", "0"], "repeats")):
        code, _, err = run_qaudit(["reproduce", "--quick", "--out-dir", str(tmp_path / "o"), *args])
        assert code == 2 and message in one_line_error(err)


def test_every_stage_runs_and_outputs_are_written(tiny_run):
    report, paths, out = tiny_run
    assert sorted(p.name for p in paths) == ["report.html", "report.json", "report.md"]
    assert (out / "basic-qnn.json").is_file()
    res = report.payload["results"]
    assert set(res["models"]) == {"basic-qnn"}
    assert set(res["unlearning"]["basic-qnn"]["methods"]) == {"ga", "ssd"}
    assert set(res["shots"]["leak"]) == {"16", "exact"}
    assert res["noise"]["backend"] == "noisy:paper" and "after" in res["noise"]
    titles = [t.title for t in report.tables]
    assert "paper claims vs this run" in titles and any("unlearning methods" in t for t in titles)
    assert any(t.startswith("leakage vs shots") for t in titles)
    html = (out / "report.html").read_text()
    assert html.count("<svg") == 2 and "paper claims vs this run" in html
    md = (out / "report.md").read_text()
    assert "| claim | paper | this run |" in md
    doc = json.loads((out / "report.json").read_text())
    assert doc["schema"] == "qaudit.reproduce/1"
    assert doc["versions"]["numpy"] == np.__version__
    assert doc["settings"]["command"] == "qaudit reproduce (test)"
    assert doc["seeds"]["split/init/training"] == 2 and doc["seeds"]["shot_repeat_repeat_1"] == 3


def test_claims_are_computed_from_the_results(tiny_run):
    """Recompute each verdict from the stored results with the stated criteria."""
    from qaudit_paper.reproduce import CLAIMS, TOL_AFTER, TOL_RATE, TOL_RETAIN_DROP

    report, _, _ = tiny_run
    res = report.payload["results"]
    claims = {c["claim"]: c for c in report.payload["claims"]}
    g = res["leak"]["basic-qnn"]["gray-box"]
    row = claims["basic-qnn: gray-box MIA success on class-4 members before unlearning (simulation)"]
    assert f"{100 * g['member_rate']:.1f}%" in row["measured"]
    assert row["verdict"] == ("agrees" if abs(g["member_rate"] - CLAIMS["mia_before_sim"]) <= TOL_RATE else "differs")
    unl = res["unlearning"]["basic-qnn"]
    for method, entry in unl["methods"].items():
        a, b, o = entry["after"], unl["before"], unl["oracle"]
        ok = a["forget_mia"] <= TOL_AFTER or abs(a["forget_mia"] - o["forget_mia"]) <= TOL_AFTER
        assert claims[f"basic-qnn {method}: MIA success after unlearning"]["verdict"] == ("agrees" if ok else "differs")
        drop = b["accuracy"]["retain"] - a["accuracy"]["retain"]
        assert claims[f"basic-qnn {method}: retained accuracy held"]["verdict"] == (
            "agrees" if drop <= TOL_RETAIN_DROP else "differs")
    acc = res["models"]["basic-qnn"]["forget_class_accuracy"]
    row = claims["basic-qnn starting training accuracy on digit 4"]
    assert row["measured"] == f"{100 * acc:.1f}%"
    stab = [c for c in claims if c.startswith("fewer shots → less stable")][0]
    u = res["shots"]["unlearn"]
    assert claims[stab]["verdict"] == ("agrees" if u["16"]["forget_accuracy"]["std"] > u["exact"]["forget_accuracy"][
        "std"] else "differs")
    n_ok = sum(c["verdict"] == "agrees" for c in report.payload["claims"])
    assert report.verdict.startswith(f"{n_ok} of {len(claims)} checks agree")


@pytest.mark.slow
def test_rerun_gives_the_same_numbers(tmp_path):
    from qaudit_paper.reproduce import run

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if "seconds" not in k and k not in ("file", "model")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    a = run(tiny_config(), tmp_path / "a").payload["results"]
    b = run(tiny_config(), tmp_path / "b").payload["results"]
    assert json.dumps(strip(a), sort_keys=True, default=str) == json.dumps(strip(b), sort_keys=True, default=str)


@pytest.mark.slow
def test_full_reproduction_within_15_minutes(mnist_dir, tmp_path, run_qaudit):
    start = time.perf_counter()
    code, _, err = run_qaudit(["reproduce", "--data-dir", str(mnist_dir), "--out-dir", str(tmp_path)])
    elapsed = time.perf_counter() - start
    assert code == 0, err
    assert elapsed < 900
    doc = json.loads((tmp_path / "report.json").read_text())
    assert set(doc["results"]["models"]) == {"basic-qnn", "hqnn"}
    assert doc["results"]["models"]["basic-qnn"]["options"]["layers"] == 5
