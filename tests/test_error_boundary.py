"""The one error boundary (issue 14): every failure is one plain line and a documented exit code."""

from __future__ import annotations

import sys
import types

import pytest

RAISING_PLUGIN = '''
from qaudit import hookimpl
from qaudit.sdk.protocols import Capabilities

QAUDIT_API = "2"


class BadAttack:
    name = "bad-attack"
    description = "raises in score"
    uses_known_labels = False

    def fit(self, context):
        return self

    def score(self, context, X, y):
        raise ValueError("attack exploded")


class BadReporter:
    name = "bad-reporter"
    suffix = ".txt"

    def render(self, result, stream):
        raise KeyError("reporter exploded")


class BadMethod:
    name = "bad-method"
    description = "raises in unlearn"
    needs = frozenset({"forget"})

    def unlearn(self, model, request):
        raise ZeroDivisionError("method exploded")


class BadBackend:
    name = "bad-backend"
    description = "raises in expectation"
    capabilities = Capabilities(exact=True, shots=False)

    def expectation(self, task, shots=None, seed=None):
        raise RuntimeError("backend exploded")


class BadDataset:
    name = "bad-dataset"
    description = "raises in load"

    def load(self, options):
        raise OSError("dataset exploded")


@hookimpl
def register_attacks(register):
    register(BadAttack)


@hookimpl
def register_reporters(register):
    register(BadReporter)


@hookimpl
def register_unlearning_methods(register):
    register(BadMethod)


@hookimpl
def register_backends(register):
    register(BadBackend)


@hookimpl
def register_datasets(register):
    register(BadDataset)


@hookimpl
def register_commands(app):
    @app.command("explode")
    def explode(what: str = "value"):
        if what == "interrupt":
            raise KeyboardInterrupt
        raise ValueError("[bold]command[/] exploded")
'''


@pytest.fixture
def qaudit_plugins():
    module = types.ModuleType("qaudit_raising")
    exec(compile(RAISING_PLUGIN, "qaudit_raising.py", "exec"), module.__dict__)  # a plugin module from source
    sys.modules["qaudit_raising"] = module
    yield {"raising": module}
    sys.modules.pop("qaudit_raising", None)


def _line(result, code):
    lines = [line for line in result.stderr.splitlines() if line.strip() and "━" not in line]
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert lines and len(lines[-1]) < 600, result.stderr
    return lines[-1]


@pytest.mark.parametrize("args,where", [
    (["leak", "{m}", "-a", "bad-attack"], "BadAttack.score"),
    (["leak", "{m}", "-a", "loss", "-f", "bad-reporter"], "BadReporter.render"),
    (["unlearn", "{m}", "--method", "bad-method", "--forget-class", "1", "--out", "{out}"], "BadMethod.unlearn"),
    (["evaluate", "{m}", "--backend", "bad-backend"], "BadBackend.expectation"),
    (["train", "--dataset", "bad-dataset", "--out", "{out}"], "BadDataset.load"),
    (["explode"], "explode"),
])
def test_a_plugin_failure_is_one_line_naming_the_plugin(cli_runner, tiny_model, tmp_path, monkeypatch, args, where):
    monkeypatch.setenv("QAUDIT_CACHE_DIR", "off")
    argv = [a.format(m=tiny_model.path, out=tmp_path / "out.json") for a in args]
    line = _line(cli_runner.invoke(argv), 2)
    assert line.startswith("error: plugin 'raising' failed in ") and where in line, line


def test_markup_in_messages_is_printed_as_text(cli_runner):
    line = _line(cli_runner.invoke(["explode"]), 2)
    assert "[bold]command[/] exploded" in line
    for name in ("[/].json", "[x].json"):
        line = _line(cli_runner.invoke(["evaluate", name]), 2)
        assert name in line, line


def test_interrupt_is_one_line_and_exit_130(cli_runner):
    result = cli_runner.invoke(["explode", "--what", "interrupt"])
    assert result.exit_code == 130 and result.stderr.strip().splitlines()[-1] == "interrupted"


@pytest.mark.parametrize("args,needle", [
    (["evaluate"], "Missing argument"),
    (["nope"], "No such command"),
    (["evaluate", "m.json", "--shots", "abc"], "--shots"),
    (["leak", "--shots"], "requires an argument"),
])
def test_usage_errors_are_one_line(cli_runner, args, needle):
    line = _line(cli_runner.invoke(args), 2)
    assert line.startswith("error: ") and needle in line and "--help" in line
    assert "╭" not in cli_runner.invoke(args).stderr


def test_internal_errors_exit_3_and_debug_shows_the_traceback(cli_runner, tiny_model, monkeypatch):
    import qaudit.train.workflows

    def broken(*args, **kwargs):
        raise AttributeError("a bug in qaudit")

    monkeypatch.setattr(qaudit.train.workflows, "evaluate_model", broken)
    line = _line(cli_runner.invoke(["evaluate", str(tiny_model.path)]), 3)
    assert "internal error" in line and "please report" in line and "AttributeError: a bug in qaudit" in line
    debug = cli_runner.invoke(["--debug", "evaluate", str(tiny_model.path)])
    assert debug.exit_code == 3 and "Traceback" in debug.stderr


def test_main_process_boundary(tmp_path):
    """The installed console script: one line, exit 2, no traceback, for a real subprocess."""
    import subprocess

    proc = subprocess.run([sys.executable, "-c", "from qaudit.cli.app import main; main()", "evaluate",
                           str(tmp_path / "[/].json")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stderr.strip().startswith("error: ") and "Traceback" not in proc.stderr
