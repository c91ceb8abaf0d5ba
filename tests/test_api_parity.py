"""Every command is parse -> one ``qaudit.api`` function -> render (issue 27 item 3).

* Each command function in ``qaudit/cli/commands/*.py`` reaches exactly one ``qaudit.api`` call (its own helpers
  and ``qaudit.cli.commands.common``'s included); ``leak`` reaches two, one per mode (a model, or ``--outputs``).
* For the same inputs the CLI writes byte for byte the document the API returns (``report.render("json")``,
  the model file, ``Evaluation.to_json()``). Both paths record the same fields: the API functions take the
  command line as ``command=`` and the test passes the one the CLI ran. The only fields normalised are
  wall-clock times (``seconds``, ``*_seconds``, the ``seconds`` column of compare-unlearning's table) and a
  model file's creation time (``created``): they differ between any two runs of the same command.
* A feature of ``api.unlearn`` reaches ``api.compare_unlearning``: they take the same request options and run
  the same code (the judgement's *tolerance* changes the comparison's verdicts as it changes unlearn's).
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import shlex
from pathlib import Path

import pytest

from qaudit import api
from qaudit.leak.audit import AuditSettings
from qaudit.shots import ShotSettings

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ROOT / "qaudit" / "cli" / "commands"
EXAMPLE = ROOT / "examples" / "outputs" / "outputs.npz"
TIME = re.compile(r'("(?:[A-Za-z_]*_)?seconds": )-?[0-9][0-9.eE+-]*')
CREATED = re.compile(r'("created": )"[^"]*"')


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    """No project config, no shared oracle cache (both paths retrain what they need), a fixed folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("QAUDIT_CONFIG", raising=False)
    monkeypatch.delenv("QAUDIT_SCHEDULER", raising=False)
    monkeypatch.setenv("QAUDIT_CACHE_DIR", "off")


def _timeless(text: str) -> str:
    """*text* with its wall-clock times and creation time zeroed -- nothing else changed."""
    return CREATED.sub(r'\g<1>"-"', TIME.sub(r"\g<1>0", text))


def _cli(run_qaudit, args: list[str], codes: tuple[int, ...] = (0, 1)) -> str:
    """Run the CLI; return the command line it records (what ``command_line()`` makes of its argv)."""
    code, _, err = run_qaudit(args)
    assert code in codes, err
    return "qaudit " + shlex.join(args)


def _same_report(cli_file: Path, report, normalise=_timeless) -> None:
    cli, mine = normalise(cli_file.read_text()), normalise(report.render("json"))
    assert cli == mine


# --------------------------------------------------------------------------- one api call per command
#: The qaudit.api functions each command reaches (``leak`` one per mode: a model file, or ``--outputs``).
EXPECTED = {"train": {"train"}, "evaluate": {"evaluate"}, "leak": {"audit", "audit_outputs"},
            "unlearn": {"unlearn"}, "compare-unlearning": {"compare_unlearning"}, "shots": {"shots"},
            "audit-dp": {"audit_dp"}, "import": {"import_model"}, "plugins": {"plugins"},
            "datasets": {"registered"}, "models": {"registered"}, "attacks": {"registered"},
            "reporters": {"registered"}, "executors": {"registered"}, "backends": {"backends"}}


def _module_functions(path: Path) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}


def _registered(path: Path) -> dict[str, str]:
    """``{command name: function name}`` from the module's ``app.command("name", ...)(function)`` lines."""
    out = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Call)
                and isinstance(node.func.func, ast.Attribute) and node.func.func.attr == "command"
                and node.func.args and isinstance(node.args[0], ast.Name)):
            out[node.func.args[0].value] = node.args[0].id
    return out


def _api_calls(name: str, functions: dict[str, ast.FunctionDef], seen: set[str]) -> list[str]:
    """The ``api.X(...)`` call sites (and calls of names imported from qaudit.api) reachable from function
    *name* through the helpers of its module and of qaudit.cli.commands.common."""
    if name in seen or name not in functions:
        return []
    seen.add(name)
    calls = []
    fn = functions[name]
    from_api = {a.asname or a.name for n in ast.walk(fn) if isinstance(n, ast.ImportFrom) and n.module == "qaudit.api"
                for a in n.names}
    for node in ast.walk(fn):
        if not isinstance(node, ast.Call):
            continue
        f = node.func
        if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "api":
            calls.append(f.attr)
        elif isinstance(f, ast.Name) and f.id in from_api:
            calls.append(f.id)
        elif isinstance(f, ast.Name):
            calls += _api_calls(f.id, functions, seen)
    return calls


def test_every_command_makes_one_api_call():
    common = _module_functions(COMMANDS / "common.py")
    assert not [c for f in common for c in _api_calls(f, common, set())], "common helpers must not call the api"
    found = {}
    for path in sorted(COMMANDS.glob("*.py")):
        functions = {**common, **_module_functions(path)}
        for command, function in _registered(path).items():
            found[command] = _api_calls(function, functions, set())
    assert set(found) == set(EXPECTED), sorted(found)
    for command, calls in found.items():
        expected = EXPECTED[command]
        assert sorted(calls) == sorted(expected), f"{command} reaches api calls {calls}, expected {expected}"


def test_the_ast_check_counts_helpers_and_direct_imports():
    """The checker above would catch a second call hidden in a helper or imported by name."""
    source = ("def helper():\n    from qaudit import api\n    return api.evaluate('m')\n"
              "def cmd():\n    from qaudit import api\n    from qaudit.api import load_model as lm\n"
              "    lm('x')\n    helper()\n    return api.audit('m')\n")
    functions = {n.name: n for n in ast.parse(source).body}
    assert sorted(_api_calls("cmd", functions, set())) == ["audit", "evaluate", "lm"]


# --------------------------------------------------------------------------- CLI JSON == API JSON
def test_train(run_qaudit, tmp_path):
    out = tmp_path / "m.json"
    args = ["train", "--model", "basic-qnn", "--dataset", "digits", "--n-train", "40", "--n-holdout", "20",
            "--qubits", "4", "--layers", "1", "--epochs", "1", "--seed", "5", "--out", str(out)]
    command = _cli(run_qaudit, args, (0,))
    cli = out.read_text()
    out.unlink()
    mf = api.train("basic-qnn", "digits", n_train=40, n_holdout=20, seed=5,
                   options={"qubits": 4, "layers": 1, "epochs": 1}, out=out, command=command)
    assert _timeless(cli) == _timeless(out.read_text())
    assert mf.training["evaluation"]["splits"]["holdout"]["n"] == 20  # what `qaudit train` prints


def test_evaluate(run_qaudit, digits_model_file, tmp_path):
    out = tmp_path / "e.json"
    _cli(run_qaudit, ["evaluate", str(digits_model_file), "--shots", "64", "--seed", "2", "--json",
                      "--output", str(out)], (0,))
    ev = api.evaluate(str(digits_model_file), shots=64, seed=2)
    assert out.read_text() == json.dumps(ev.to_json(), indent=1)
    assert ev.backend == json.loads(out.read_text())["backend"] != "exact"  # the shot backend, resolved once


def test_leak(run_qaudit, digits_model_file, tmp_path):
    """No --jobs: the CLI and the API resolve the same default (api.default_jobs) and record it."""
    out = tmp_path / "r.json"
    command = _cli(run_qaudit, ["leak", str(digits_model_file), "-a", "loss,gray-box", "--seed", "3",
                                "--fail-above", "auc=0.99", "-f", "json", "--output", str(out)])
    settings = AuditSettings(attacks=["loss", "gray-box"], seed=3)
    report = api.audit(str(digits_model_file), settings=settings, fail_above="auc=0.99", command=command)
    _same_report(out, report)
    assert report.settings["jobs"] == api.default_jobs() and report.settings["backend"] == "exact"
    assert settings.n_jobs is None and settings.backend is None and settings.n_reference is None  # not mutated


def test_leak_outputs(run_qaudit, tmp_path):
    out = tmp_path / "r.json"
    command = _cli(run_qaudit, ["leak", "--outputs", str(EXAMPLE), "-a", "loss,lira", "--seed", "2", "-f", "json",
                                "--output", str(out)])
    settings = AuditSettings(seed=2)
    attacks = list(settings.attacks)
    report = api.audit_outputs(EXAMPLE, attacks=["loss", "lira"], settings=settings, command=command)
    _same_report(out, report)
    assert report.settings["jobs"] == api.default_jobs() and report.settings["attacks"] == ["loss", "lira"]
    assert settings.attacks == attacks and settings.n_jobs is None and settings.n_reference is None  # not mutated


def test_unlearn(run_qaudit, digits_model_file, tmp_path):
    out, model = tmp_path / "r.json", tmp_path / "u.json"
    command = _cli(run_qaudit, ["unlearn", str(digits_model_file), "--method", "ga", "--forget-class", "3",
                                "--seed", "1", "--oracles", "2", "--no-forget-gate", "--out", str(model), "-f",
                                "json", "--output", str(out)], (0,))
    cli_model = model.read_text()
    model.unlink()
    report = api.unlearn(str(digits_model_file), "ga", forget_class=[3], seed=1, oracles=2, forget_gate=False,
                         out=model, command=command)
    _same_report(out, report)
    assert _timeless(cli_model) == _timeless(model.read_text())


def _compare_timeless(text: str) -> str:
    """Also zero the wall-clock ``seconds`` column of the comparison table (a table cell, not a keyed field)."""
    doc = json.loads(_timeless(text))
    for table in doc.get("tables", []):
        if "seconds" in table["columns"]:
            i = table["columns"].index("seconds")
            for row in table["rows"]:
                row[i] = 0
    return json.dumps(doc, indent=1)


def test_compare_unlearning(run_qaudit, digits_model_file, tmp_path):
    out = tmp_path / "r.json"
    command = _cli(run_qaudit, ["compare-unlearning", str(digits_model_file), "--methods", "ga", "--forget-class",
                                "3", "--seeds", "0,1", "--oracles", "2", "-O", "ga.epochs=1", "-f", "json",
                                "--output", str(out)])
    report = api.compare_unlearning(str(digits_model_file), ["ga"], options={"ga": {"epochs": 1}}, forget_class=[3],
                                    seeds=[0, 1], oracles=2, command=command)
    _same_report(out, report, _compare_timeless)


def test_shots(run_qaudit, digits_model_file, tmp_path):
    out = tmp_path / "r.json"
    command = _cli(run_qaudit, ["shots", str(digits_model_file), "--shots", "64,exact", "--repeats", "1", "-a",
                                "loss", "--bootstrap", "20", "-f", "json", "--output", str(out)])
    settings = ShotSettings(shots=[64, None], repeats=1, attack="loss", n_bootstrap=20)
    _same_report(out, api.shots(str(digits_model_file), settings=settings, command=command))
    assert settings.backend is None  # resolved in the report, not written back


def test_audit_dp(run_qaudit, tmp_path):
    out = tmp_path / "r.json"
    command = _cli(run_qaudit, ["audit-dp", "--canaries", "20", "--n-train", "30", "--n-holdout", "30", "-O",
                                "epochs=1", "-O", "qubits=4", "-O", "layers=1", "-a", "loss", "-f", "json",
                                "--output", str(out)])
    report = api.audit_dp(canaries=20, n_train=30, n_holdout=30, options={"epochs": 1, "qubits": 4, "layers": 1},
                          attacks=["loss"], command=command)
    _same_report(out, report)


# --------------------------------------------------------------------------- unlearn and compare share a path
def test_compare_unlearning_takes_every_request_option_of_unlearn():
    """A request option added to api.unlearn must reach api.compare_unlearning (else add it there too)."""
    unlearn_only = {"method", "seed", "shots", "options", "out", "forget_quality", "forget_gate", "audit",
                    "shadow_pairs"}  # one method, seed and shot count; its model file, extras and gate
    unlearn = set(inspect.signature(api.unlearn).parameters) - unlearn_only
    compare = set(inspect.signature(api.compare_unlearning).parameters)
    assert unlearn <= compare, f"api.compare_unlearning lacks {sorted(unlearn - compare)}"


def test_a_tolerance_reaches_compare_unlearning_as_it_reaches_unlearn(digits_model_file):
    """The judgement's margins change both commands' verdicts the same way: one code path."""
    common = {"forget_class": [3], "oracles": 2}
    strict = {"accuracy": 0.0, "auc": 0.0, "utility": 0.0}
    one = api.unlearn(str(digits_model_file), "ga", seed=0, tolerance=strict, forget_gate=False, **common)
    both = api.compare_unlearning(str(digits_model_file), ["ga"], seeds=[0], tolerance=strict, **common)
    assert both.settings["tolerance"] == one.settings["tolerance"] == strict
    met_one = one.payload["result"]["judgement"]["met"]
    met_both = [r["judgement"]["met"] for r in both.payload["runs"]]
    assert met_both == [met_one]


# --------------------------------------------------------------------------- one place builds a backend
def _backend_constructions(path: Path) -> list[int]:
    """Lines of *path* that instantiate a registered backend class: ``host.get("backend", ...)(...)``, or a
    name bound to ``host.get("backend", ...)`` and then called."""
    def is_lookup(node: ast.AST) -> bool:
        return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get"
                and bool(node.args) and isinstance(node.args[0], ast.Constant) and node.args[0].value == "backend")

    tree = ast.parse(path.read_text())
    bound = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and is_lookup(n.value)
             for t in n.targets if isinstance(t, ast.Name)}
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
            and (is_lookup(n.func) or (isinstance(n.func, ast.Name) and n.func.id in bound))]


def test_only_resolve_backend_builds_a_backend():
    """qaudit.run.backend_choice.resolve_backend (capability, exactness and width checks) is the one place the host
    builds a backend; the conformance kit (qaudit.sdk.testing) builds the class under test on purpose."""
    found = {str(p.relative_to(ROOT)): lines for p in sorted((ROOT / "qaudit").rglob("*.py"))
             if "testing" not in p.parts[-1] and p.parent.name != "testing"
             for lines in [_backend_constructions(p)] if lines}
    assert set(found) == {"qaudit/run/backend_choice.py"}, found


def test_the_exact_backend_is_built_with_the_checks(monkeypatch):
    from qaudit.run import backend_choice as backends
    from qaudit.run import query

    calls = []
    real = backends.resolve_backend
    monkeypatch.setattr(backends, "resolve_backend", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert query.exact_backend().capabilities.exact and calls == [(None, None)]


def test_compare_unlearning_refuses_options_for_a_method_it_does_not_run(run_qaudit, digits_model_file):
    code, _, err = run_qaudit(["compare-unlearning", str(digits_model_file), "--methods", "ga", "--forget-class",
                               "3", "-O", "ssd.alpha=2"])
    assert code == 2 and "'ssd', which is not among the methods run (ga)" in err, err


@pytest.mark.parametrize(("args", "call"), [
    (["plugins", "--json"], lambda: api.plugins()),
    (["attacks", "--json"], lambda: api.registered("attack")),
    (["models", "--json"], lambda: api.registered("model")),
    (["backends", "--json"], lambda: api.backends()),
])
def test_listing_commands_print_what_the_api_returns(run_qaudit, args, call):
    code, out, err = run_qaudit(args)
    assert code == 0, err
    cli, mine = json.loads(out), json.loads(json.dumps(call()))
    for row in cli.get("plugins", []) if args[0] == "plugins" else []:
        row["registers"].pop("command", None)  # commands exist once a CLI app registered them (api.plugins says so)
    assert cli == mine
