"""qaudit.api (issue 15 item 3): the CLI and the API give the same reports; the API is documented and typed."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

import numpy as np
import pytest
from conftest import timeless

from qaudit import api
from qaudit.audit import AuditSettings
from qaudit.results import Report
from qaudit.shot_study import ShotSettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outputs" / "outputs.npz"


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)


def _same(cli_json: str, report: Report) -> None:
    """The CLI's JSON report equals the API's, apart from wall-clock times and the command line."""
    cli = timeless(json.loads(cli_json))
    mine = timeless(json.loads(json.dumps(report.to_json())))
    cli["settings"].pop("command", None)
    assert cli == mine


def test_leak_cli_equals_api(run_qaudit, digits_model_file):
    code, out, err = run_qaudit(["leak", str(digits_model_file), "-a", "loss,gray-box", "--seed", "3", "--jobs", "1",
                                 "--fail-above", "auc=0.99", "-f", "json"])
    assert code == 0, err
    report = api.audit(str(digits_model_file), settings=AuditSettings(attacks=["loss", "gray-box"], seed=3, n_jobs=1),
                       fail_above="auc=0.99")
    _same(out, report)
    assert report.status == "pass"


def test_leak_outputs_cli_equals_api(run_qaudit):
    code, out, err = run_qaudit(["leak", "--outputs", str(EXAMPLE), "--seed", "2", "--jobs", "1", "-f", "json"])
    assert code == 1, err  # the example leaks: a finding
    _same(out, api.audit_outputs(EXAMPLE, settings=AuditSettings(seed=2, n_jobs=1)))


def test_shots_cli_equals_api(run_qaudit, digits_model_file):
    code, out, err = run_qaudit(["shots", str(digits_model_file), "--shots", "64,exact", "--repeats", "1",
                                 "-a", "loss", "--bootstrap", "20", "-f", "json"])
    assert code == 0, err
    settings = ShotSettings(shots=[64, None], repeats=1, attack="loss", n_bootstrap=20)
    _same(out, api.shots(digits_model_file, settings=settings))


def test_train_cli_equals_api(run_qaudit, tmp_path):
    args = ["--model", "basic-qnn", "--dataset", "digits", "--n-train", "60", "--n-holdout", "40", "--qubits", "4",
            "--layers", "1", "--epochs", "2", "--seed", "5"]
    code, _, err = run_qaudit(["train", *args, "--out", str(tmp_path / "cli.json")])
    assert code == 0, err
    mf = api.train("basic-qnn", "digits", n_train=60, n_holdout=40, seed=5,
                   options={"qubits": 4, "layers": 1, "epochs": 2}, out=tmp_path / "api.json")
    cli = api.load_model(tmp_path / "cli.json")
    assert mf.path == str(tmp_path / "api.json")
    assert cli.model.weights.keys() == mf.model.weights.keys()
    for name, value in cli.model.weights.items():
        np.testing.assert_array_equal(value, mf.model.weights[name])
    np.testing.assert_array_equal(cli.data.members, mf.data.members)


def test_unlearn_cli_equals_api(run_qaudit, digits_model_file, tmp_path, monkeypatch):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    args = ["--method", "ga", "--forget-class", "3", "--seed", "1", "--no-forget-gate"]
    code, out, err = run_qaudit(["unlearn", str(digits_model_file), *args, "--out", str(tmp_path / "u.json"),
                                 "-f", "json"])
    assert code == 0, err
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache2"))  # retrain the oracle as the CLI did
    report = api.unlearn(digits_model_file, "ga", forget_class=[3], seed=1, forget_gate=False,
                         out=tmp_path / "u.json")
    _same(out, report)


def test_every_public_function_is_documented_and_typed():
    for name in api.__all__:
        obj = getattr(api, name)
        assert inspect.getdoc(obj), f"api.{name} has no docstring"
        if inspect.isclass(obj):
            continue
        hints = typing.get_type_hints(obj)
        params = [p for p in inspect.signature(obj).parameters if p not in ("self",)]
        missing = [p for p in params if p not in hints]
        assert not missing and "return" in hints, f"api.{name}: untyped {missing or 'return'}"


def test_reports_display_in_notebooks_and_rich():
    report = api.audit_outputs(EXAMPLE, attacks=["loss"])
    html = report._repr_html_()
    assert html.startswith('<div class="qaudit-report">') and "<svg" in html and report.title in html
    assert "<body" not in html and "<html" not in html  # a fragment: the notebook keeps its own page
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(report)
    assert report.verdict[:40] in console.export_text()
    assert json.loads(report.render("json"))["schema"] == "qaudit.leak/1"


def test_api_errors_are_qaudit_errors(tmp_path):
    from qaudit.errors import QauditError

    with pytest.raises(QauditError, match="attack shadow needs model"):
        api.audit_outputs(EXAMPLE, attacks=["shadow"])
    with pytest.raises(QauditError):
        api.load_model(tmp_path / "missing.json")


@pytest.mark.slow
def test_python_api_example_runs(tmp_path, monkeypatch):
    """examples/python_api.py runs end to end (about 30 s: trains, audits, unlearns, runs a shot study)."""
    import runpy

    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    runpy.run_path(str(ROOT / "examples" / "python_api.py"), run_name="__main__")
