"""One meaning per flag: ``-o/--output`` is the report in every command that writes one, ``--out`` the model
file that ``train``/``unlearn``/``import`` write; the old ``-o MODEL`` is refused, never written as a report."""

from __future__ import annotations

import json

import pytest
from conftest import one_line_error

FORMATS = {"json": json.loads, "html": lambda text: text.lstrip().lower().startswith(("<!doctype html", "<html"))}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_issues_reproducer_writes_the_model_to_out_and_the_report_to_o(tiny_model, run_qaudit, cache):
    """`qaudit unlearn model.json --method ssd --forget-class 4 --out m2.json -f html -o unlearn.html`."""
    code, out, err = run_qaudit(["unlearn", str(tiny_model.path), "--method", "ssd", "--forget-class", "4",
                                 "--oracles", "1", "--no-forget-gate", "--out", "m2.json", "-f", "html",
                                 "-o", "unlearn.html"])
    assert code == 0, err
    assert json.loads((cache / "m2.json").read_text())["kind"] == tiny_model.file.kind  # the model
    assert FORMATS["html"]((cache / "unlearn.html").read_text())  # the HTML report
    assert "<html" not in out.lower()  # not on stdout


def _unlearn_report(run_qaudit, folder, config: str, args: list[str]) -> dict:
    (folder / "qaudit.toml").write_text(config)
    code, _, err = run_qaudit(["unlearn", *args, "--oracles", "1", "--no-forget-gate", "--out", "u.json", "-f",
                               "json", "-o", "r.json"])
    assert code == 0, err
    return json.loads((folder / "r.json").read_text())


def test_unlearn_method_from_the_config_is_honoured(tiny_model, run_qaudit, cache):
    """`[unlearn] method = "rga"` (documented, and ignored before issue 27); the shared `model` is the input."""
    config = f'model = "{tiny_model.path.as_posix()}"\n[unlearn]\nmethod = "rga"\noption = ["max_steps=2"]\n'
    doc = _unlearn_report(run_qaudit, cache, config, ["--forget-class", "3"])
    assert (doc["summary"]["method"], doc["summary"]["forget_set"]) == ("rga", "class 3")
    doc = _unlearn_report(run_qaudit, cache, config, ["--forget-class", "3", "--method", "ga", "-O", "steps=2"])
    assert doc["summary"]["method"] == "ga"  # the flag wins


def test_unlearn_forget_class_from_the_config_is_honoured(tiny_model, run_qaudit, cache):
    """`[unlearn] forget-class = 4` (documented, and ignored before issue 27)."""
    config = '[unlearn]\nforget-class = 4\nmethod = "ga"\noption = ["steps=2"]\n'
    doc = _unlearn_report(run_qaudit, cache, config, [str(tiny_model.path)])
    assert doc["summary"]["forget_set"] == "class 4" and doc["settings"]["oracles"] == 1
    doc = _unlearn_report(run_qaudit, cache, config, [str(tiny_model.path), "--forget-class", "2"])
    assert doc["summary"]["forget_set"] == "class 2"  # the flag wins


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_leak_o_writes_the_report(tiny_model, run_qaudit, cache, fmt):
    code, out, err = run_qaudit(["leak", str(tiny_model.path), "-a", "loss", "--folds", "2", "--bootstrap", "10",
                                 "-f", fmt, "-o", "r.out"])
    assert code in (0, 1), err
    assert FORMATS[fmt]((cache / "r.out").read_text()) and not out.strip()


def test_evaluate_and_backends_o_write_the_report(tiny_model, run_qaudit, cache):
    code, out, err = run_qaudit(["evaluate", str(tiny_model.path), "--json", "-o", "e.json"])
    assert code == 0, err
    assert "members" in json.dumps(json.loads((cache / "e.json").read_text())) and not out.strip()
    code, out, err = run_qaudit(["backends", "--json", "-o", "b.json"])
    assert code == 0, err
    assert json.loads((cache / "b.json").read_text())["schema"] == "qaudit.backends/1" and not out.strip()


def test_compare_unlearning_o_writes_the_report(tiny_model, run_qaudit, cache):
    code, out, err = run_qaudit(["compare-unlearning", str(tiny_model.path), "--methods", "ga", "-O", "ga.steps=2",
                                 "--forget-class", "4", "--oracles", "1", "-f", "json", "-o", "c.json"])
    assert code in (0, 1), err
    assert json.loads((cache / "c.json").read_text())["summary"]["methods"] == ["ga"] and not out.strip()


@pytest.mark.parametrize("command", [
    ["train", "--epochs", "1"],
    ["import", "pennylane", "model.py:qnode", "-d", "data.npz", "--members", "m.txt"]])
def test_o_on_a_command_that_writes_only_a_model_is_refused(run_qaudit, cache, command):
    code, _, err = run_qaudit([*command, "-o", "model.json"])
    assert code == 2
    line = one_line_error(err)
    assert "writes no report" in line and "--out model.json" in line
    assert not (cache / "model.json").exists()


def test_train_writes_the_model_to_out(run_qaudit, cache):
    code, _, err = run_qaudit(["train", "--qubits", "2", "--layers", "1", "--epochs", "1", "--n-train", "40",
                               "--n-holdout", "20", "--out", "m.json"])
    assert code == 0, err
    assert json.loads((cache / "m.json").read_text())["kind"]


def test_every_command_gives_o_one_meaning():
    """Across every command (plugin commands included): `-o` is `--output` (the report) wherever it exists,
    and an option writing a model file, `--out`, has no short form."""
    from qaudit.cli import config_docs

    group, ctx = config_docs.root_command()
    seen = 0
    for name in group.list_commands(ctx):
        for param in group.get_command(ctx, name).params:
            opts = list(getattr(param, "opts", []))
            if "-o" in opts:
                assert opts[0] == "--output" or "--output" in opts, (name, opts)
                seen += 1
            if "--out" in opts:
                assert opts == ["--out"], (name, opts)
    assert seen >= 8


def test_audit_dp_o_writes_the_report(run_qaudit, cache):
    """The smallest one-run audit (no --dp): only where the report goes is checked here (tests/test_dp.py checks
    the audit)."""
    code, out, err = run_qaudit(["audit-dp", "--canaries", "20", "--n-train", "40", "--n-holdout", "20", "-O",
                                 "epochs=1", "-O", "qubits=2", "-O", "layers=1", "-a", "loss", "--guesses", "2",
                                 "-f", "json", "-o", "a.json"])
    assert code in (0, 1), err
    assert json.loads((cache / "a.json").read_text())["schema"] == "qaudit.leak.audit-dp/1" and not out.strip()
