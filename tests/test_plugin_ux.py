"""Plugin management: failures are isolated and reported, plugins can be disabled or allow-listed,
incompatible API versions are refused, and `qaudit plugins --json` has a stable schema.

Broken plugins are real installed distributions here: a throw-away ``*.dist-info`` with
``entry_points.txt`` on ``PYTHONPATH``, run through the real ``qaudit`` entry point in a
subprocess, exactly as a user would meet them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import plugin_module

from qaudit import API_VERSION
from qaudit.sdk.errors import PluginError, QauditError
from qaudit.sdk.host import PLUGINS_SCHEMA, Host, check_api, disabled_from_argv

MODULES = {
    "qx_import_error": 'raise RuntimeError("boom at import")\n',
    "qx_exit": "import sys\nsys.exit(3)\n",
    "qx_register_error": """
        from qaudit import hookimpl

        @hookimpl
        def register_attacks(register):
            raise ValueError("no attacks today")
    """,
    "qx_future": """
        from qaudit import hookimpl
        QAUDIT_API = "3"

        @hookimpl
        def register_attacks(register):
            raise AssertionError("a refused plugin must never be called")
    """,
    "qx_bad_signature": """
        from qaudit import hookimpl

        @hookimpl
        def register_attacks(callback):
            pass
    """,
    "qx_command_error": """
        from qaudit import hookimpl

        @hookimpl
        def register_commands(app):
            raise KeyError("no app for me")
    """,
    "qx_good": """
        import os
        from pathlib import Path
        from qaudit import hookimpl
        QAUDIT_API = "2.0"
        if os.environ.get("QX_MARKER"):
            Path(os.environ["QX_MARKER"]).write_text("imported")

        class Good:
            name = "qx-good"
            description = "a working third-party attack"

        @hookimpl
        def register_attacks(register):
            register(Good)

        @hookimpl
        def register_commands(app):
            @app.command("qx-hello")
            def hello() -> None:
                print("hello from qx-good")
    """,
}
ENTRY_POINTS = {
    "qx-import-error": "qx_import_error", "qx-exit": "qx_exit", "qx-register-error": "qx_register_error",
    "qx-future": "qx_future", "qx-bad-signature": "qx_bad_signature", "qx-command-error": "qx_command_error",
    "qx-good": "qx_good",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("site")
    for name, code in MODULES.items():
        (root / f"{name}.py").write_text(textwrap.dedent(code))
    info = root / "qx_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qx-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[qaudit]\n" + "".join(f"{k} = {v}\n" for k, v in ENTRY_POINTS.items()))
    return root


def run(site: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("QAUDIT_")}
    environ.update({"PYTHONPATH": str(site), "COLUMNS": "200", **(env or {})})
    return subprocess.run([sys.executable, "-c", "from qaudit.cli.app import main; main()", *args],
                          capture_output=True, text=True, env=environ, cwd=cwd, timeout=120)


def plugins_json(site: Path, *args: str, env: dict[str, str] | None = None) -> dict:
    proc = run(site, *args, "plugins", "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_failures_are_listed_with_name_and_one_line_reason(site):
    doc = plugins_json(site)
    rows = {row["name"]: row for row in doc["plugins"]}
    expected = {
        "qx-import-error": "RuntimeError: boom at import",
        "qx-exit": "SystemExit: 3",
        "qx-register-error": "register_attacks failed: ValueError: no attacks today",
        "qx-future": "targets qaudit plugin API 3, this qaudit provides " + API_VERSION,
        "qx-bad-signature": "callback",
        "qx-command-error": "register_commands failed: KeyError",
    }
    for name, reason in expected.items():
        assert rows[name]["status"] == "failed", rows[name]
        assert reason in rows[name]["error"], rows[name]["error"]
        assert "\n" not in rows[name]["error"]
    assert rows["qx-good"]["status"] == "ok" and rows["qx-good"]["error"] is None
    assert rows["qx-good"]["registers"] == {"attack": ["qx-good"], "command": ["qx-hello"]}
    assert rows["qx-good"]["api"] == "2.0"
    assert rows["qx-good"]["distribution"] == "qx-plugins" and rows["qx-good"]["version"] == "0.1"
    assert rows["qnn"]["status"] == "ok" and "basic-qnn" in rows["qnn"]["registers"]["model"]


def test_json_schema_is_stable(site):
    doc = plugins_json(site)
    assert doc["schema"] == PLUGINS_SCHEMA == "qaudit.plugins/1"
    assert doc["api_version"] == API_VERSION
    assert set(doc) == {"schema", "api_version", "plugins", "warnings"}
    keys = {"name", "module", "version", "distribution", "status", "api", "registers", "error"}
    for row in doc["plugins"]:
        assert set(row) == keys
        assert row["status"] in {"ok", "failed", "disabled"}
        assert (row["error"] is not None) == (row["status"] == "failed")
    assert [r["name"] for r in doc["plugins"]] == sorted(r["name"] for r in doc["plugins"])


def test_table_shows_full_reasons(site):
    proc = run(site, "plugins")
    assert proc.returncode == 0, proc.stderr
    assert "failed qx-import-error: RuntimeError: boom at import" in proc.stdout
    assert "failed qx-register-error: register_attacks failed: ValueError: no attacks today" in proc.stdout


def test_broken_plugins_never_stop_other_commands(site, tmp_path):
    proc = run(site, "models", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "basic-qnn" in {item["name"] for item in json.loads(proc.stdout)["items"]}
    assert run(site, "qx-hello").stdout.strip() == "hello from qx-good"
    assert run(site, "--help").returncode == 0
    model = tmp_path / "m.json"
    proc = run(site, "train", "--qubits", "2", "--layers", "1", "--epochs", "1", "--n-train", "60",
               "--n-holdout", "40", "--out", str(model))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(model.read_text())["kind"] == "basic-qnn"
    bad = run(site, "evaluate", str(tmp_path / "missing.json"))
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_disable_plugin_flag_and_environment(site, tmp_path):
    marker = tmp_path / "imported"
    for args, env in ((["--disable-plugin", "qx-good", "-p", "qx-import-error"], {}),
                      (["--disable-plugin=qx-good,qx-import-error"], {}),
                      ([], {"QAUDIT_DISABLE_PLUGINS": "qx-good, qx-import-error"})):
        doc = plugins_json(site, *args, env={"QX_MARKER": str(marker), **env})
        rows = {row["name"]: row for row in doc["plugins"]}
        assert rows["qx-good"]["status"] == "disabled" and rows["qx-good"]["registers"] == {}
        assert rows["qx-import-error"]["status"] == "disabled" and rows["qx-import-error"]["error"] is None
        assert not marker.exists(), "a disabled plugin must not be imported"
    gone = run(site, "-p", "qx-good", "qx-hello")
    assert gone.returncode == 2 and "No such command" in gone.stderr


def test_allowlist_for_locked_down_ci(site, tmp_path):
    marker = tmp_path / "imported"
    doc = plugins_json(site, env={"QAUDIT_PLUGINS": "qnn,datasets,backends,typo-plugin", "QX_MARKER": str(marker)})
    status = {row["name"]: row["status"] for row in doc["plugins"]}
    assert {n for n, s in status.items() if s != "disabled"} == {"qnn", "datasets", "backends"}
    assert all(s == "ok" for n, s in status.items() if n in {"qnn", "datasets", "backends"})
    assert not marker.exists()
    assert doc["warnings"] == ["plugin 'typo-plugin' named in the disable/allow list is not installed"]


def test_builtins_are_disabled_like_any_plugin(site):
    proc = run(site, "-p", "qnn", "models", "--json")
    assert proc.returncode == 0
    assert "basic-qnn" not in {item["name"] for item in json.loads(proc.stdout)["items"]}
    proc = run(site, "-p", "qnn", "train", "--out", "never-written.json")
    assert proc.returncode == 2 and "no single model declares the role 'default'" in proc.stderr
    proc = run(site, "-p", "qnn", "train", "--model", "basic-qnn", "--out", "never-written.json")
    assert proc.returncode == 2 and "unknown model 'basic-qnn'" in proc.stderr
    assert not Path("never-written.json").exists()


# --------------------------------------------------------------------------- in-process host
def _registering(*names):
    def register_attacks(register):
        for n in names:
            register(type(n, (), {"name": n, "description": n}))
    return register_attacks


def test_duplicate_names_are_an_error_naming_both_plugins():
    host = Host(env=False)
    host.register(plugin_module("one", register_attacks=_registering("same", "only-one")), "plugin-one")
    host.register(plugin_module("two", register_attacks=_registering("same")), "plugin-two")
    with pytest.raises(PluginError, match="'same' is registered by two plugins: 'plugin-one' and 'plugin-two'"):
        host.get("attack", "same")
    errors = host.load_errors  # listing plugins still works and shows the clash on both
    assert "plugin-one" in errors and "plugin-two" in errors
    assert host.describe()["plugins"][0]["status"] == "failed"


def test_unknown_name_mentions_failed_plugins():
    def broken(register):
        raise RuntimeError("nope")

    host = Host(env=False)
    host.register(plugin_module("ok", register_attacks=_registering("loss-like")), "fine")
    host.register(plugin_module("bad", register_attacks=broken), "broken")
    with pytest.raises(QauditError, match=r"unknown attack 'x' \(available: loss-like\); plugin\(s\) broken failed"):
        host.get("attack", "x")


def test_failed_register_hook_contributes_nothing_but_other_hooks_of_the_plugin_still_work():
    def half(register):
        register(type("A", (), {"name": "first"}))
        raise RuntimeError("second one broke")

    host = Host(env=False)
    host.register(plugin_module("half", register_attacks=half,
                          register_reporters=lambda register: register(type("R", (), {"name": "r"}))), "half")
    assert host.names("attack") == [] and host.names("reporter") == ["r"]
    assert host.plugins["half"].error == "register_attacks failed: RuntimeError: second one broke"


@pytest.mark.parametrize("declared, ok", [
    (None, True), ("2", True), (2, True), ("2.0", True), (API_VERSION, True),
    ("1", False), ("3", False), ("0", False), ("2.99", False), ("one", False), ("2.0.0", False), ("", False),
])
def test_api_version_check(declared, ok):
    if ok:
        check_api("p", declared)
    else:
        with pytest.raises(PluginError, match="plugin 'p'"):
            check_api("p", declared)


def test_incompatible_plugin_is_refused_and_never_called():
    called = []
    module = plugin_module("future", register_attacks=lambda register: called.append(1))
    module.QAUDIT_API = "3"
    host = Host(env=False)
    info = host.register(module, "future")
    assert host.names("attack") == [] and not called
    assert info.status == "failed" and "upgrade the plugin or qaudit" in info.error


def test_disabled_from_argv():
    assert disabled_from_argv(["-p", "a", "--disable-plugin", "b,c", "--disable-plugin=d", "leak", "-p"]) == [
        "a", "b", "c", "d"]


def test_environment_is_read_only_when_asked(monkeypatch):
    monkeypatch.setenv("QAUDIT_DISABLE_PLUGINS", "x, y")
    monkeypatch.setenv("QAUDIT_PLUGINS", "z")
    assert Host().disabled == {"x", "y"} and Host().allow == {"z"}
    assert Host(env=False).disabled == set() and Host(env=False).allow is None
    assert Host(allow=["w"]).allow == {"w"}


def test_plugin_commands_cannot_shadow_existing_ones():
    import typer

    app = typer.Typer()

    @app.command("train")
    def train() -> None:
        """The built-in."""

    def register_commands(app):
        @app.command("train")
        def hijack() -> None:
            """Pretends to be train."""

        @app.command()
        def extra_thing() -> None:
            """A new command."""

    def broken(app):
        @app.command("half-added")
        def half() -> None:
            """Added before the hook raised."""
        raise RuntimeError("oops")

    host = Host(env=False)
    host.register(plugin_module("shadow", register_commands=register_commands), "shadow")
    host.register(plugin_module("broken-cmd", register_commands=broken), "broken-cmd")
    host.commands(app)
    names = [c.name or c.callback.__name__ for c in app.registered_commands]
    assert names == ["train", "extra_thing"]
    assert app.registered_commands[0].callback is train
    assert host.plugins["shadow"].error == "register_commands: command(s) train already exist; not added"
    assert host.plugins["shadow"].registers == {"command": ["extra-thing"]}
    assert host.plugins["broken-cmd"].error == "register_commands failed: RuntimeError: oops"
