"""The plugin SDK (issue 27): ``qaudit.sdk`` is the one package plugins and examples import.

* plugins/ and examples/ import nothing of qaudit outside ``qaudit.sdk*`` and ``qaudit.api`` (AST scan,
  imports inside functions and ``__import__``/``import_module`` of a literal included);
* every name an SDK module lists in ``__all__`` resolves, to the very object of its home module (old
  import paths keep working and ``isinstance`` agrees);
* importing the SDK imports neither numpy nor Cirq (plugins import it at ``qaudit --help``);
* every SDK name is documented (its own docstring, or named in docs/plugins.md);
* ``qaudit plugins`` shows the SDK's API version.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SDK_MODULES = ("qaudit.sdk", "qaudit.sdk.engine", "qaudit.sdk.workflows", "qaudit.sdk.testing")
DOC = ROOT / "docs" / "plugins.md"


def _allowed(module: str) -> bool:
    return module in ("qaudit.sdk", "qaudit.api") or module.startswith("qaudit.sdk.")


def _is_qaudit(module: str) -> bool:
    return module == "qaudit" or module.startswith("qaudit.")


def forbidden_imports(source: str, where: str = "<source>") -> list[str]:
    """Every import of a qaudit module other than ``qaudit.sdk*``/``qaudit.api`` in *source*, at any depth."""
    found = []
    for node in ast.walk(ast.parse(source)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from qaudit import api` imports qaudit.api; `from qaudit import limits` / `hookimpl` does not pass
            modules = [f"qaudit.{a.name}" for a in node.names] if node.module == "qaudit" else [node.module]
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("__import__", "import_module")):
            modules = [node.args[0].value]
        found += [f"{where}:{node.lineno}: {m}" for m in modules if _is_qaudit(m) and not _allowed(m)]
    return found


def _sources() -> list[Path]:
    return sorted(p for root in ("plugins", "examples") for p in (ROOT / root).rglob("*.py")
                  if ".venv" not in p.parts)


def test_plugins_and_examples_import_only_the_sdk():
    sources = _sources()
    assert any(p.parts[-2:] == ("qaudit_paper", "jobs.py") for p in sources)  # the scan sees the plugins
    found = [hit for p in sources for hit in forbidden_imports(p.read_text(encoding="utf-8"),
                                                                str(p.relative_to(ROOT)))]
    assert not found, "plugins/examples import qaudit internals; import qaudit.sdk instead:\n" + "\n".join(found)


@pytest.mark.parametrize("source, bad", [
    ("from qaudit.leak.audit import run_audit", True),
    ("def f():\n    from qaudit import unlearning as core\n", True),
    ("class C:\n    def m(self):\n        import qaudit.engine.tasks\n", True),
    ("from qaudit import hookimpl", True),
    ("import qaudit", True),
    ("x = __import__('qaudit.cli.app', fromlist=['app'])", True),
    ("import importlib\nimportlib.import_module('qaudit.run.query')", True),
    ("from qaudit.sdk import QauditError, hookimpl", False),
    ("def f():\n    from qaudit.sdk.engine import forward\n", False),
    ("from qaudit.sdk import workflows as wf", False),
    ("from qaudit import api\nimport qaudit.sdk.testing", False),
    ("from qaudit_backends.common import parse_arguments", False),
])
def test_the_import_scan_catches_what_it_should(source, bad):
    assert bool(forbidden_imports(source)) is bad


def _targets(module_name: str) -> dict[str, str]:
    module = importlib.import_module(module_name)
    return getattr(module, "_NAMES", {name: "qaudit.sdk.testing" for name in module.__all__})


@pytest.mark.parametrize("module_name", SDK_MODULES)
def test_every_public_name_resolves_to_its_home_object(module_name):
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names and len(names) == len(set(names))
    assert set(names) <= set(dir(module))
    for name, target in _targets(module_name).items():
        home, _, attribute = target.partition(":")
        assert getattr(module, name) is getattr(importlib.import_module(home), attribute or name), name
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        module.no_such_name  # noqa: B018


def test_the_testing_sub_api_is_the_conformance_kit():
    from qaudit.sdk import testing
    from qaudit.sdk import testing as sdk_testing

    assert sorted(sdk_testing.__all__) == sorted(testing.__all__)
    assert sdk_testing.check_attack is testing.check_attack
    namespace: dict[str, object] = {}
    exec("from qaudit.sdk.testing import *", namespace)
    assert set(testing.__all__) <= set(namespace)


def test_the_sdk_states_the_one_api_version():
    import qaudit
    import qaudit.sdk

    assert qaudit.sdk.API_VERSION == qaudit.API_VERSION
    assert [int(part) for part in qaudit.sdk.API_VERSION.split(".")]


LIGHT_PROBE = """
import sys
import qaudit.sdk, qaudit.sdk.engine, qaudit.sdk.workflows
from qaudit.sdk import API_VERSION, QauditError, get_host, hookimpl
from importlib.metadata import entry_points
for ep in entry_points(group="qaudit"):
    if ep.value.startswith("qaudit_"):
        ep.load()
print(",".join(sorted(m for m in ("numpy", "cirq", "sympy", "scipy", "sklearn", "qaudit.sdk.testing", "qaudit.engine",
                                  "qaudit.sdk.protocols", "qaudit.sdk.limits") if m in sys.modules)))
"""


def test_importing_the_sdk_and_the_builtin_plugins_stays_light():
    proc = subprocess.run([sys.executable, "-c", LIGHT_PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"importing qaudit.sdk and the plugins imported {proc.stdout.strip()}"


def _own_doc(value: object) -> str | None:
    if inspect.isclass(value):
        return value.__dict__.get("__doc__")
    if inspect.isfunction(value) or inspect.ismodule(value):
        return value.__doc__
    return None


@pytest.mark.parametrize("module_name", SDK_MODULES)
def test_sdk_names_are_documented(module_name):
    module = importlib.import_module(module_name)
    assert "API_VERSION" in (module.__doc__ or ""), f"{module_name}'s docstring does not say it is versioned"
    doc = DOC.read_text(encoding="utf-8")
    sdk_section = doc.split("## The SDK", 1)[1].split("\n## ", 1)[0] if "## The SDK" in doc else ""
    assert f"`{module_name}`" in sdk_section, f"docs/plugins.md's 'The SDK' section does not name {module_name}"
    undocumented = [name for name in module.__all__
                    if not (_own_doc(getattr(module, name)) or "").strip() and f"`{name}`" not in sdk_section]
    assert not undocumented, f"{module_name}: no docstring and not in docs/plugins.md 'The SDK': {undocumented}"


def test_qaudit_plugins_shows_the_sdk_api_version(run_qaudit):
    from qaudit.sdk import API_VERSION

    code, out, _ = run_qaudit(["plugins", "--json"])
    assert code == 0 and json.loads(out)["api_version"] == API_VERSION
    code, out, _ = run_qaudit(["plugins"])
    assert code == 0 and f"plugin API {API_VERSION}" in out


STUBBED = ("qaudit.sdk", "qaudit.sdk.engine", "qaudit.sdk.workflows")


def _stub_path(module_name: str) -> Path:
    path = ROOT / Path(*module_name.split("."))
    return path / "__init__.pyi" if path.is_dir() else path.with_suffix(".pyi")


def render_stub(module_name: str) -> str:
    """The ``.pyi`` stub that shows type checkers and IDEs the names *module_name* re-exports lazily."""
    lines = [f'"""Type stub of {module_name}\'s lazy re-exports: generated by `python tests/test_sdk.py --write`."""',
             ""]
    imports = []
    for name, target in _targets(module_name).items():
        home, _, attribute = target.partition(":")
        imports.append((home, attribute or name, name))
    # isort's order (ruff's I001): by module, then CONSTANTS, Classes, functions, each case-insensitively
    for home, attribute, name in sorted(imports, key=lambda i: (i[0], 0 if i[1].isupper() else 1 if i[1][0].isupper()
                                                                else 2, i[1].lower())):
        lines.append(f"from {home} import {attribute} as {name}")
    names = importlib.import_module(module_name).__all__
    lines += ["", "__all__ = [", *[f"    {name!r}," for name in names], "]", ""]
    return "\n".join(lines)


@pytest.mark.parametrize("module_name", STUBBED)
def test_type_stubs_list_every_lazy_name(module_name):
    path = _stub_path(module_name)
    assert path.exists() and path.read_text(encoding="utf-8") == render_stub(module_name), (
        f"{path.relative_to(ROOT)} is stale: run `python tests/test_sdk.py --write`")


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    for module_name in STUBBED:
        _stub_path(module_name).write_text(render_stub(module_name), encoding="utf-8")
