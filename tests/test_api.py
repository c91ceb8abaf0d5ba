"""qaudit.api (issue 15 item 3): the API is documented and typed, its reports display and its errors are one line."""

from __future__ import annotations

import inspect
import json
import typing
from pathlib import Path

import pytest

from qaudit import api

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "outputs" / "outputs.npz"


@pytest.fixture(autouse=True)
def _no_project_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)


# The CLI-equals-API checks (one per command, byte for byte) are in tests/test_api_parity.py.


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
    from qaudit.sdk.errors import QauditError

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
