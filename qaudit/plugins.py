"""The plugin host: the only module that touches pluggy directly.

Plugins arrive through the ``qaudit`` entry-point group -- the built-ins in
``plugins/`` exactly like third-party packages. A plugin can be disabled by
name (``--disable-plugin NAME`` or ``QAUDIT_DISABLE_PLUGINS=a,b``) and a locked
down environment can allow only listed plugins (``QAUDIT_PLUGINS=a,b``). A
plugin that fails to import or register is recorded in ``load_errors`` and
reported; it never stops other plugins or commands.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from qaudit import API_VERSION, hookspecs
from qaudit.errors import PluginError, QauditError

ENTRY_POINT_GROUP = "qaudit"
DISABLE_ENV = "QAUDIT_DISABLE_PLUGINS"
ALLOW_ENV = "QAUDIT_PLUGINS"

#: registry kind -> hook name
KINDS = {
    "model": "register_models",
    "dataset": "register_datasets",
    "backend": "register_backends",
    "attack": "register_attacks",
    "unlearning": "register_unlearning_methods",
    "reporter": "register_reporters",
}


@dataclass
class PluginInfo:
    """What ``qaudit plugins`` shows for one plugin."""

    name: str
    module: str
    version: str
    distribution: str
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Entry:
    obj: Any
    plugin: str


def _split_env(name: str) -> set[str]:
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}


class Host:
    """A facade over pluggy's PluginManager with named registries per kind."""

    def __init__(self, disabled: Iterable[str] = (), allow: Iterable[str] | None = None):
        self.pm = pluggy.PluginManager("qaudit")
        self.pm.add_hookspecs(hookspecs)
        self.disabled = set(disabled) | _split_env(DISABLE_ENV)
        allow_env = _split_env(ALLOW_ENV)
        self.allow = set(allow) if allow is not None else (allow_env or None)
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: dict[str, dict[str, Entry]] = {}

    # -- loading ---------------------------------------------------------------
    def load_entry_points(self) -> Host:
        """Import and register every plugin advertised under the ``qaudit`` group."""
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in self.plugins or not self._wanted(ep.name):
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                version=getattr(dist, "version", "?") if dist else "?",
                distribution=getattr(dist, "name", "?") if dist else "?",
            )
            self.plugins[ep.name] = info
            try:
                module = ep.load()
                self._check_api(ep.name, module)
                self.pm.register(module, name=ep.name)
            except Exception as exc:  # a broken plugin is reported, never fatal
                info.error = _one_line(exc)
        return self

    def register(self, plugin: Any, name: str, version: str = "local") -> None:
        """Register an in-process plugin object (tests, scripts, ``qaudit.testing``)."""
        if not self._wanted(name):
            return
        info = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)),
                          version=version, distribution="(in-process)")
        self.plugins[name] = info
        try:
            self._check_api(name, plugin)
            self.pm.register(plugin, name=name)
        except Exception as exc:
            info.error = _one_line(exc)
        self._registries.clear()

    def _wanted(self, name: str) -> bool:
        if name in self.disabled:
            return False
        return self.allow is None or name in self.allow

    @staticmethod
    def _check_api(name: str, module: Any) -> None:
        declared = getattr(module, "QAUDIT_API", None)
        if declared is None:
            return
        if str(declared).split(".")[0] != API_VERSION.split(".")[0]:
            raise PluginError(
                f"plugin {name!r} targets qaudit plugin API {declared}, this qaudit provides "
                f"{API_VERSION}; upgrade the plugin or qaudit"
            )

    @property
    def load_errors(self) -> dict[str, str]:
        """plugin name -> one-line reason it failed to import or register."""
        self.registry("model")  # make sure registration errors are collected
        for kind in KINDS:
            self.registry(kind)
        return {name: info.error for name, info in self.plugins.items() if info.error}

    # -- registries ------------------------------------------------------------
    def registry(self, kind: str) -> dict[str, Entry]:
        """name -> Entry for one kind; built on first use by calling the register hook."""
        if kind in self._registries:
            return self._registries[kind]
        hook = getattr(self.pm.hook, KINDS[kind])
        entries: dict[str, Entry] = {}
        for impl in reversed(hook.get_hookimpls()):  # registration order
            plugin_name = impl.plugin_name
            collected: list[tuple[str, Any]] = []

            def register(obj: Any, name: str | None = None, _c: list = collected) -> None:
                label = name or getattr(obj, "name", None)
                if not isinstance(label, str) or not label:
                    raise PluginError(f"registered {kind} {obj!r} has no name")
                _c.append((label, obj))

            try:
                impl.function(register=register)
            except Exception as exc:
                info = self.plugins.get(plugin_name)
                if info is not None:
                    info.error = f"{KINDS[kind]} failed: {_one_line(exc)}"
                continue
            for label, obj in collected:
                if label in entries:
                    other = entries[label].plugin
                    raise PluginError(
                        f"{kind} {label!r} is registered by two plugins: {other!r} and "
                        f"{plugin_name!r}; disable one with --disable-plugin"
                    )
                entries[label] = Entry(obj, plugin_name)
                info = self.plugins.get(plugin_name)
                if info is not None:
                    info.registers.setdefault(kind, []).append(label)
        self._registries[kind] = entries
        return entries

    def names(self, kind: str) -> list[str]:
        return sorted(self.registry(kind))

    def get(self, kind: str, name: str) -> Any:
        """The registered class for *name*, or a one-line error listing what exists."""
        entries = self.registry(kind)
        if name in entries:
            return entries[name].obj
        if kind == "backend" and ":" in name:
            prefix = name.split(":", 1)[0]
            entry = entries.get(prefix) or entries.get(prefix + ":")
            if entry is not None and getattr(entry.obj, "takes_argument", False):
                return entry.obj
        known = ", ".join(sorted(entries)) or "none installed"
        raise QauditError(f"unknown {kind} {name!r} (available: {known})")

    def commands(self, app: Any) -> None:
        """Let plugins add CLI subcommands; failures are recorded, not raised."""
        for impl in self.pm.hook.register_commands.get_hookimpls():
            try:
                impl.function(app=app)
            except Exception as exc:
                info = self.plugins.get(impl.plugin_name)
                if info is not None:
                    info.error = f"register_commands failed: {_one_line(exc)}"

    def call_load_model(self, path: str, document: Any) -> Any:
        return self.pm.hook.load_model(path=path, document=document)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


_HOST: Host | None = None


def configure(disabled: Iterable[str] = (), allow: Iterable[str] | None = None) -> Host:
    """Create the process-wide host (the CLI calls this once per invocation)."""
    global _HOST
    _HOST = Host(disabled=disabled, allow=allow).load_entry_points()
    return _HOST


def get_host() -> Host:
    """The process-wide host, loading entry points on first use."""
    global _HOST
    if _HOST is None:
        _HOST = configure()
    return _HOST


def set_host(host: Host | None) -> None:
    """Replace the process-wide host (used by tests and ``qaudit.testing``)."""
    global _HOST
    _HOST = host
