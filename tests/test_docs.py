"""docs/plugins.md documents every hook and every protocol method (as datasette does).

The "Hook reference" and "Protocol reference" sections of docs/plugins.md are
generated from the docstrings of ``qaudit/sdk/hookspecs.py`` and the
``qaudit/sdk/protocols/`` package; after changing either, regenerate them with::

    python tests/test_docs.py --write
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "plugins.md"
MARKERS = {"hooks": ("<!-- hooks:start -->", "<!-- hooks:end -->"),
           "protocols": ("<!-- protocols:start -->", "<!-- protocols:end -->")}


def hookspecs() -> list[tuple[str, typing.Callable]]:
    """(name, function) for every pluggy hookspec, in file order."""
    from qaudit.sdk import hookspecs as module

    specs = [(n, f) for n, f in vars(module).items() if callable(f) and hasattr(f, "qaudit_spec")]
    return sorted(specs, key=lambda item: inspect.getsourcelines(item[1])[1])


def seam_modules() -> list[typing.Any]:
    """The modules of the qaudit.sdk.protocols package, in the order ``qaudit.sdk.protocols.SEAMS`` gives."""
    import importlib

    from qaudit.sdk import protocols

    return [importlib.import_module(f"qaudit.sdk.protocols.{name}") for name in protocols.SEAMS]


def protocol_classes() -> list[type]:
    """Every public class defined in the qaudit.sdk.protocols package (protocols and dataclasses): seam module by
    seam module, each in file order."""
    out: list[type] = []
    for module in seam_modules():
        classes = [c for n, c in vars(module).items()
                   if inspect.isclass(c) and c.__module__ == module.__name__ and not n.startswith("_")]
        out += sorted(classes, key=lambda c: inspect.getsourcelines(c)[1])
    return out


def is_protocol(cls: type) -> bool:
    return bool(getattr(cls, "_is_protocol", False))


def public_methods(cls: type) -> list[tuple[str, object]]:
    """Public methods/properties/classmethods defined on *cls* itself, in file order."""
    out = []
    for name, raw in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(raw, (classmethod, staticmethod)):
            out.append((name, raw.__func__))
        elif isinstance(raw, property):
            out.append((name, raw))
        elif inspect.isfunction(raw):
            out.append((name, raw))
    return sorted(out, key=lambda item: inspect.getsourcelines(item[1].fget if isinstance(item[1], property)
                                                               else item[1])[1])


def _doc(obj: object) -> str:
    return inspect.cleandoc(obj.__doc__ or "")


def _signature(name: str, func: object) -> str:
    if isinstance(func, property):
        return f"{name}  (property)"
    sig = inspect.signature(func)
    params = [p for p in sig.parameters.values() if p.name not in ("self", "cls")]
    sig = sig.replace(parameters=params)
    return f"{name}{sig}".replace("'", "")


def render_hooks() -> str:
    parts = []
    for name, func in hookspecs():
        firstresult = " (firstresult: the first non-None answer wins)" if func.qaudit_spec.get(
            "firstresult") else ""
        parts.append(f"### `{name}`\n\n```python\n@hookimpl\ndef {_signature(name, func)}: ...\n```\n"
                     f"{firstresult}\n{_doc(func)}\n")
    return "\n".join(parts)


def field_comments(cls: type) -> dict[str, str]:
    """``#:`` comments written above the fields / class attributes of *cls*, by name."""
    comments: dict[str, str] = {}
    pending: list[str] = []
    for line in inspect.getsource(cls).splitlines()[1:]:
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        match = re.match(r"(\w+)\s*:", stripped)
        if match and pending and not stripped.startswith(("def ", "class ", "@")):
            comments[match.group(1)] = " ".join(pending)
        pending = []
    return comments


def render_protocols() -> str:
    parts = []
    seen: set[str] = set()
    for cls in protocol_classes():
        if cls.__module__ not in seen:
            seen.add(cls.__module__)
            parts.append(f"### `{cls.__module__}`\n\n{_doc(sys.modules[cls.__module__])}\n")
        kind = "protocol" if is_protocol(cls) else ("dataclass" if dataclasses.is_dataclass(cls) else "class")
        block = [f"#### `{cls.__name__}` ({kind})\n", _doc(cls), ""]
        notes = field_comments(cls)

        def row(name: str, text: str, notes: dict[str, str] = notes) -> str:
            return f"- `{text}`" + (f": {notes[name]}" if name in notes else "")

        if dataclasses.is_dataclass(cls):
            rows = []
            for f in dataclasses.fields(cls):
                default = ""
                if f.default is not dataclasses.MISSING:
                    default = f" = {f.default!r}"
                elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
                    default = f" = {f.default_factory.__name__}()"  # type: ignore[misc]
                rows.append(row(f.name, f"{f.name}: {f.type}{default}"))
            block += ["Fields:", "", *rows, ""]
        else:
            attrs = [row(n, f"{n}: {t}") for n, t in cls.__dict__.get("__annotations__", {}).items()]
            if attrs:
                block += ["Class attributes:", "", *attrs, ""]
        for name, func in public_methods(cls):
            block += [f"##### `{cls.__name__}.{name}`", "", "```python", _signature(name, func), "```", "",
                      _doc(func.fget if isinstance(func, property) else func), ""]
        parts.append("\n".join(block))
    return "\n".join(parts)


def generated() -> dict[str, str]:
    return {"hooks": render_hooks(), "protocols": render_protocols()}


def _block(text: str, key: str) -> str:
    start, end = MARKERS[key]
    match = re.search(re.escape(start) + r"\n(.*?)" + re.escape(end), text, re.S)
    return match.group(1) if match else ""


def write() -> None:
    text = DOC.read_text()
    for key, body in generated().items():
        start, end = MARKERS[key]
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _m, s=start, b=body, e=end: f"{s}\n{b}{e}",
                      text, flags=re.S)
    DOC.write_text(text)


# --------------------------------------------------------------------------- tests
@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text()


@pytest.mark.parametrize("name", [n for n, _ in hookspecs()])
def test_every_hookspec_has_a_docstring_and_is_documented(name, doc):
    func = dict(hookspecs())[name]
    assert len(_doc(func)) > 40, f"hookspec {name} needs a docstring telling plugin authors what to implement"
    assert f"### `{name}`" in doc, f"docs/plugins.md has no '### `{name}`' section (python tests/test_docs.py --write)"
    assert f"`{name}`" in doc.split("## Hook reference")[0], f"the guide part of docs/plugins.md never mentions {name}"


def test_there_are_hooks_and_protocols_to_check():
    assert len(hookspecs()) >= 8
    assert {c.__name__ for c in protocol_classes() if is_protocol(c)} >= {
        "Backend", "Model", "DatasetSource", "Attack", "UnlearningMethod", "Reporter"}


@pytest.mark.parametrize("cls", protocol_classes(), ids=lambda c: c.__name__)
def test_every_protocol_method_has_a_docstring_and_is_documented(cls, doc):
    assert _doc(cls), f"{cls.__name__} needs a docstring"
    assert f"### `{cls.__name__}`" in doc, f"docs/plugins.md does not document {cls.__name__}"
    for name, func in public_methods(cls):
        target = func.fget if isinstance(func, property) else func
        assert _doc(target), f"{cls.__name__}.{name} needs a docstring"
        assert f"`{cls.__name__}.{name}`" in doc, f"docs/plugins.md does not document {cls.__name__}.{name}"


@pytest.mark.parametrize("key", sorted(MARKERS))
def test_generated_reference_is_up_to_date(key, doc):
    assert _block(doc, key) == generated()[key], (
        f"the {key} reference in docs/plugins.md is stale: run `python tests/test_docs.py --write`")


def test_guide_covers_every_plugin_kind_and_the_entry_point(doc):
    guide = doc.split("## Hook reference")[0]
    for heading in ("Model", "Dataset", "Backend", "Attack", "Unlearning method", "Reporter", "CLI command"):
        assert re.search(rf"^### .*{heading}", guide, re.M | re.I), f"no walkthrough section for {heading}"
    assert "[project.entry-points.qaudit]" in guide
    from qaudit import API_VERSION
    from qaudit.sdk.host import ALLOW_ENV, DISABLE_ENV, PLUGINS_SCHEMA

    for needle in (ALLOW_ENV, DISABLE_ENV, PLUGINS_SCHEMA, "--disable-plugin", "QAUDIT_API", API_VERSION):
        assert needle in guide, f"docs/plugins.md should mention {needle}"


def test_fixtures_and_checks_of_the_testing_kit_are_documented(doc):
    from qaudit.sdk import testing

    fixtures = [n for n, v in vars(testing).items() if hasattr(v, "_pytestfixturefunction") or
                type(v).__name__ == "FixtureFunctionDefinition"]
    assert {"qaudit_host", "tiny_model", "cli_runner"} <= set(fixtures)
    checks = [n for n in testing.__all__ if n.startswith("check_") or n.endswith("_checks")]
    assert {"parametrize_with_checks", "attack_checks", "model_checks"} <= set(checks)
    for name in fixtures + checks:
        assert f"`{name}" in doc, f"docs/plugins.md does not mention qaudit.sdk.testing.{name}"


def _example(doc: str, first_line: str) -> dict:
    """Execute the guide's python block that contains *first_line*; return its namespace."""
    for block in re.findall(r"```python\n(.*?)```", doc, re.S):
        if first_line in block:
            namespace: dict = {}
            exec(compile(block, f"docs/plugins.md:{first_line}", "exec"), namespace)  # noqa: S102 - our own doc
            return namespace
    raise AssertionError(f"docs/plugins.md has no python example containing {first_line!r}")


def test_guide_examples_pass_the_conformance_checks(doc):
    """The model, dataset, unlearning and reporter examples in the guide really work."""
    from qaudit.sdk import testing

    ring = _example(doc, "class RingQNN(CircuitClassifier):")["RingQNN"]
    testing.check_model(ring, {"qubits": 3, "layers": 1, "epochs": 1})
    iris = _example(doc, "class Iris:")["Iris"]().load({})
    assert iris.X.shape == (150, 4) and iris.n_classes == 3
    testing.check_unlearning_method(_example(doc, "class OneStepAscent:")["OneStepAscent"])
    text = testing.check_reporter(_example(doc, "class CSVReporter:")["CSVReporter"])
    assert text.startswith("subject,metric,value")


if __name__ == "__main__":
    if "--write" in sys.argv:
        write()
        print(f"updated {DOC}")
    else:
        print(render_hooks())
        print(render_protocols())


def test_heavy_tests_exist():
    """Every id in conftest.HEAVY names a test function in its file (a renamed test must not silently rejoin
    the default run, nor a stale entry linger)."""
    import re

    from conftest import HEAVY

    root = Path(__file__).resolve().parents[1]
    for entry in HEAVY:
        path, _, name = entry.partition("::")
        source = (root / path).read_text()
        if not name:
            continue  # a whole file
        assert re.search(rf"^def {re.escape(name.split('[')[0])}\(", source, re.M), entry
