"""The host's shape (issue 27): folders by workflow, no import circles, a map that is true, names that do not collide.

The import graph counts every ``import`` of a ``qaudit`` module, top-level or inside a function: an import inside a
function only postpones a circle, it does not remove one.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOST = ROOT / "qaudit"


def _module_graph() -> dict[str, set[str]]:
    """qaudit module -> the qaudit modules it imports (anywhere in the file, inside functions and
    ``TYPE_CHECKING`` blocks too); importing a submodule also runs its package's ``__init__``."""
    package = ROOT / "qaudit"
    modules = {}
    for path in package.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("qaudit"):
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names if a.name.startswith("qaudit")]
            else:
                continue
            for target in filter(None, map(resolve, targets)):
                while target:  # the package __init__ files on the way run too
                    if target != module and not module.startswith(target + "."):
                        graph[module].add(target)
                    target = target.rpartition(".")[0] if target != "qaudit" else ""
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles_in_the_host():
    cycles = _cycles(_module_graph())
    assert not cycles, f"import circles: {[sorted(c) for c in cycles]}"


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_host_is_folders_by_workflow():
    """Only the package marker and the two public entry modules live at the top; the rest is in a folder."""
    top = sorted(p.name for p in HOST.glob("*.py"))
    assert top == ["__init__.py", "api.py"], top
    for folder in (p for p in HOST.iterdir() if p.is_dir() and p.name != "__pycache__"):
        init = folder / "__init__.py"
        assert init.is_file(), f"{folder} is not a package"
        assert ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))), f"{init} says nothing of its folder"


def _mapped_paths() -> set[str]:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    paths: set[str] = set()
    for line in text.splitlines():
        match = re.match(r"\|\s*`qaudit/([\w/]*)`\s*\|\s*([^|]+)\|", line)
        if not match:
            continue
        folder, modules = match.group(1), match.group(2)
        for name in re.findall(r"`([\w/]+\.py)`", modules):
            paths.add(f"{folder}{name}")
    return paths


def test_the_architecture_map_lists_every_module_and_no_other():
    mapped = _mapped_paths()
    actual = {str(p.relative_to(HOST)) for p in HOST.rglob("*.py") if p.name != "__init__.py" or p.parent == HOST}
    assert mapped, "docs/architecture.md has no module table"
    assert sorted(actual - mapped) == [], "modules missing from docs/architecture.md"
    existing = {str(p.relative_to(HOST)) for p in HOST.rglob("*.py")}
    assert sorted(mapped - existing) == [], "docs/architecture.md names modules that do not exist"


def test_host_names_do_not_collide_with_plugin_packages():
    """``qaudit/backends.py`` beside ``plugins/qaudit_backends/`` read as one thing; it is not allowed again."""
    plugins = (ROOT / "plugins").iterdir()
    plugin_words = {p.name.removeprefix("qaudit_") for p in plugins if p.name.startswith("qaudit_")}
    seams = HOST / "sdk" / "protocols"  # a seam's protocol module is named after it: qaudit.sdk.protocols.backends
    host_words = {p.stem for p in HOST.rglob("*.py") if p.parent != seams}
    host_words |= {p.name for p in HOST.rglob("*") if p.is_dir()}
    assert sorted(plugin_words & host_words) == []


def test_a_module_path_of_0_1_still_imports_with_a_deprecation_warning():
    """Published 0.1 paths keep working for one release (docs/plugins.md); the module is the one at its new place."""
    import subprocess
    import sys

    probe = ("import warnings, importlib\n"
             "warnings.simplefilter('error')\n"
             "import qaudit.sdk.protocols as new\n"
             "try:\n    import qaudit.protocols\nexcept DeprecationWarning as w:\n    print('warned', w)\n"
             "warnings.simplefilter('ignore')\n"
             "import qaudit.protocols as old\n"
             "from qaudit.results import Report\n"
             "print(old is new, new.__spec__.name, Report.__module__)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "warned qaudit.protocols moved to qaudit.sdk.protocols" in done.stdout
    assert "True qaudit.sdk.protocols qaudit.report.results" in done.stdout


def test_moved_module_paths_point_at_modules_that_exist():
    import importlib.util

    import qaudit

    for old, new in qaudit.MOVED_MODULES.items():
        assert importlib.util.find_spec(new) is not None, (old, new)
        assert not (ROOT / Path(*old.split("."))).with_suffix(".py").exists(), f"{old} exists again: drop the alias"
