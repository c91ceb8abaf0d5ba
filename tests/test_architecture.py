"""The host knows no plugin by name (issue 12): defaults come from roles that plugins declare.

Every string literal in ``qaudit/`` is compared with every registered name (models, datasets,
backends, attacks, unlearning methods, reporters, plugin commands). The few literals that are
the same word with another meaning are listed with the reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from qaudit.sdk.host import KINDS, get_host

HOST = Path(__file__).resolve().parents[1] / "qaudit"

#: (module relative to qaudit/, literal) -> why the word is not a plugin name there.
NOT_PLUGIN_NAMES = {
    ("shots/settings.py", "exact"): "the --shots keyword for infinitely many shots, not a backend",
    ("leak/audit.py", "loss"): "the per-sample loss field of a most-exposed member in the JSON report",
    ("run/backend_choice.py", "exact"): "the optional Backend.exact instance attribute",
    ("cli/app.py", "rich"): "typer's rich_markup_mode setting",
    ("cli/commands/backend_info.py", "exact"): "the Capabilities.exact field shown as a column",
    ("sdk/testing/checks_backends.py", "exact"): "check_backend's label for runs without shots (keys of its result)",
    ("unlearn/reports.py", "exact"): "the comparison table's label for queries without shot noise",
    ("sdk/host.py", "local"): "the version shown for an in-process plugin (Host.register), not an executor",
}


def _registered_names() -> dict[str, str]:
    host = get_host()
    names = {}
    for kind in KINDS:
        for name in host.registry(kind):
            names[name] = kind
    return names


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def test_registered_names_are_not_literals_in_the_host():
    names = _registered_names()
    assert {"gray-box", "exact", "basic-qnn", "digits", "retrain", "rich"} <= set(names)  # the scan sees plugins
    found = []
    for path in sorted(HOST.rglob("*.py")):
        rel = path.relative_to(HOST).as_posix()
        for line, text in _literals(path):
            if text in names and (rel, text) not in NOT_PLUGIN_NAMES:
                found.append(f"qaudit/{rel}:{line}: {names[text]} name {text!r}")
    assert not found, "the host names plugins; declare a role instead:\n" + "\n".join(found)


@pytest.mark.parametrize("kind,role", [("attack", "default"), ("attack", "fast"), ("attack", "verification"),
                                       ("backend", "default"), ("backend", "shots"), ("unlearning", "oracle"),
                                       ("unlearning", "default"), ("model", "default"), ("dataset", "default"),
                                       ("reporter", "console"), ("reporter", "notebook"), ("executor", "default"),
                                       ("executor", "inline"), ("executor", "scheduler")])
def test_every_role_the_host_asks_for_is_declared(kind, role):
    assert get_host().with_role(kind, role)
