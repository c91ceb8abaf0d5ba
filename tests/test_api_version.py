"""One plugin API version, written once (qaudit.sdk.hookspecs.API_VERSION), read everywhere else; the docs
describe the rule exactly as the host enforces it."""

from __future__ import annotations

import ast
import re
import types
from pathlib import Path

import pytest

import qaudit
from qaudit.sdk import hookspecs
from qaudit.sdk import host as plugins
from qaudit.sdk.errors import PluginError
from qaudit.sdk.hookspecs import API_VERSION

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "plugins.md"


def _sources() -> list[Path]:
    return sorted(p for folder in ("qaudit", "plugins", "examples") for p in (ROOT / folder).rglob("*.py"))


def test_the_version_string_is_written_in_exactly_one_place_in_the_code():
    """The host's version appears once; a plugin's ``QAUDIT_API = "..."`` is the version *it* targets
    (e.g. qaudit_import needs 2.1's ``register_importers``), not a statement of the host's."""
    literals, assignments = [], []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        declarations = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == "QAUDIT_API" for t in n.targets)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and node.value == API_VERSION and id(node) not in declarations:
                literals.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
                if isinstance(node, ast.AnnAssign) else []
            if any(isinstance(t, ast.Name) and t.id == "API_VERSION" for t in targets):
                assignments.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert len(literals) == 1 and literals[0].startswith("qaudit/sdk/hookspecs.py:"), literals
    assert assignments == [literals[0]], assignments
    assert re.fullmatch(r"\d+\.\d+", API_VERSION)


def test_the_host_and_qaudit_plugins_read_the_constant():
    assert qaudit.API_VERSION is hookspecs.API_VERSION is plugins.API_VERSION
    assert plugins.Host(env=False).describe()["api_version"] == API_VERSION
    from qaudit.sdk.testing import QauditCliRunner, make_host

    shown = QauditCliRunner(make_host()).invoke(["plugins"])
    assert shown.exit_code == 0 and f"plugin API {API_VERSION}" in shown.stdout


def test_the_guide_states_this_version_everywhere():
    guide = GUIDE.read_text(encoding="utf-8")
    stated = re.findall(r"version \*\*([\d.]+)\*\*", guide) + re.findall(r'"api_version": "([\d.]+)"', guide) + \
        re.findall(r"this qaudit provides ([\d.]+);", guide)
    assert len(stated) >= 4 and set(stated) == {API_VERSION}, stated
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert set(re.findall(r"this qaudit provides ([\d.]+)", readme)) <= {API_VERSION}


def test_the_guides_version_rule_is_the_rule_the_host_enforces():
    guide = GUIDE.read_text(encoding="utf-8")
    rule = re.search(r"on ([\d.]+), (.*?) load; (.*?) are refused", guide, re.S)
    assert rule and rule.group(1) == API_VERSION
    accepted = re.findall(r'`"([^"]*)"`', rule.group(2))
    refused = re.findall(r'`"([^"]*)"`', rule.group(3))
    assert accepted and refused
    for declared in accepted:
        plugins.check_api("myplugin", declared)
    for declared in refused:
        with pytest.raises(PluginError):
            plugins.check_api("myplugin", declared)
    plugins.check_api("myplugin", None)  # "no QAUDIT_API: loaded unchecked"
    with pytest.raises(PluginError, match="expected a version such as"):
        plugins.check_api("myplugin", "two")
    with pytest.raises(PluginError) as refusal:
        plugins.check_api("myplugin", "3")
    assert f"failed myplugin: PluginError: {refusal.value}" in guide


def test_a_plugin_written_as_the_guide_says_is_accepted():
    guide = GUIDE.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", guide, re.S) if "QAUDIT_API =" in b)
    module = types.ModuleType("guide_plugin")
    exec(compile(block, "docs/plugins.md", "exec"), module.__dict__)  # noqa: S102 - our own guide
    host = plugins.Host(env=False)
    info = host.register(module, name="guide-plugin")
    assert info.status == "ok" and not host.load_errors, host.load_errors
    assert info.api == module.QAUDIT_API
    assert list(host.registry("attack")) == ["grad-norm"]
