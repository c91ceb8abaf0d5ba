"""Plugin host with in-process plugins: duplicates, failing hooks, disable flag/env and allowlist."""

from __future__ import annotations

import json

import pytest
from conftest import plugin_module

from qaudit.sdk.errors import PluginError, QauditError
from qaudit.sdk.host import Host


class _Thing:
    def __init__(self, name):
        self.name = name
        self.description = f"thing {name}"


def registers(*names):
    def register_datasets(register):
        for n in names:
            register(_Thing(n), name=n)
    return register_datasets


def test_duplicate_names_across_two_plugins_name_both():
    host = Host(env=False)
    host.register(plugin_module("alpha_mod", register_datasets=registers("shared", "a-only")), name="alpha")
    host.register(plugin_module("beta_mod", register_datasets=registers("shared")), name="beta")
    with pytest.raises(PluginError) as info:
        host.registry("dataset")
    message = str(info.value)
    assert "'alpha'" in message and "'beta'" in message and "'shared'" in message
    assert "\n" not in message
    # after disabling one of them the other registers fine
    fixed = host.derive(disabled=["beta"])
    assert fixed.get("dataset", "shared").name == "shared"
    assert fixed.plugins["beta"].status == "disabled"


def test_register_hook_raising_is_reported_and_others_still_work():
    def broken(register):
        raise RuntimeError("cannot register today\nsecond line")

    host = Host(env=False)
    host.register(plugin_module("bad_mod", register_datasets=broken), name="bad")
    host.register(plugin_module("good_mod", register_datasets=registers("good-data")), name="good")
    assert host.names("dataset") == ["good-data"]
    errors = host.load_errors
    assert set(errors) == {"bad"}
    assert "cannot register today" in errors["bad"] and "\n" not in errors["bad"]
    with pytest.raises(QauditError, match="bad"):
        host.get("dataset", "missing")


def test_plugin_failing_at_import_is_reported_not_fatal(monkeypatch):
    from importlib import metadata

    real = metadata.entry_points

    class BrokenEP:
        name = "zz_broken"
        value = "zz_broken_module_that_does_not_exist"
        dist = None

        def load(self):
            raise ImportError("No module named 'zz_broken_module_that_does_not_exist'")

    def fake_entry_points(group=None, **kw):
        eps = list(real(group=group, **kw))
        return eps + [BrokenEP()] if group == "qaudit" else eps

    monkeypatch.setattr(metadata, "entry_points", fake_entry_points)
    host = Host(env=False).load_entry_points()
    assert "zz_broken" in host.load_errors
    assert host.plugins["zz_broken"].status == "failed"
    assert "basic-qnn" in host.names("model")  # built-ins unaffected
    assert "digits" in host.names("dataset")


def test_disable_flag_env_and_allowlist(monkeypatch):
    monkeypatch.delenv("QAUDIT_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("QAUDIT_PLUGINS", raising=False)
    full = Host().load_entry_points()
    assert "digits" in full.names("dataset") and "basic-qnn" in full.names("model")

    flag = Host(disabled=["datasets"]).load_entry_points()
    assert flag.plugins["datasets"].status == "disabled"
    assert "digits" not in flag.names("dataset")
    assert "basic-qnn" in flag.names("model")

    monkeypatch.setenv("QAUDIT_DISABLE_PLUGINS", "qnn, datasets")
    env = Host().load_entry_points()
    assert env.names("model") == [] or "basic-qnn" not in env.names("model")
    assert "digits" not in env.names("dataset")

    monkeypatch.delenv("QAUDIT_DISABLE_PLUGINS")
    monkeypatch.setenv("QAUDIT_PLUGINS", "datasets")
    allow = Host().load_entry_points()
    assert "digits" in allow.names("dataset")
    assert "basic-qnn" not in allow.names("model")
    assert allow.plugins["qnn"].status == "disabled"
    # env=False ignores the environment (qaudit.sdk.testing)
    assert "basic-qnn" in Host(env=False).load_entry_points().names("model")


def test_cli_plugins_json_and_disable(monkeypatch, run_qaudit):
    monkeypatch.delenv("QAUDIT_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("QAUDIT_PLUGINS", raising=False)
    code, out, _ = run_qaudit(["plugins", "--json"])
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "qaudit.plugins/1"
    by_name = {p["name"]: p for p in doc["plugins"]}
    assert by_name["qnn"]["status"] == "ok" and "basic-qnn" in by_name["qnn"]["registers"]["model"]
    assert "digits" in by_name["datasets"]["registers"]["dataset"]
    code, out, _ = run_qaudit(["--disable-plugin", "datasets", "plugins", "--json"])
    assert code == 0
    by_name = {p["name"]: p for p in json.loads(out)["plugins"]}
    assert by_name["datasets"]["status"] == "disabled"
    code, _, err = run_qaudit(["--disable-plugin", "datasets", "train", "--epochs", "1"])
    assert code == 2 and "no single dataset declares the role 'default'" in err
    code, _, err = run_qaudit(["--disable-plugin", "datasets", "train", "--dataset", "digits", "--epochs", "1"])
    assert code == 2 and "unknown dataset 'digits'" in err
