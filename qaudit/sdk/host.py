"""The plugin host: the only module that touches pluggy directly.

Plugins arrive through the ``qaudit`` entry-point group -- the built-ins in
``plugins/`` exactly like third-party packages. A plugin can be disabled by
name (``--disable-plugin NAME`` or ``QAUDIT_DISABLE_PLUGINS=a,b``) and a locked
down environment can allow only listed plugins (``QAUDIT_PLUGINS=a,b``). A
plugin that fails to import or register is recorded (``load_errors``) and
reported by ``qaudit plugins``; it never stops other plugins or commands.

A plugin may declare the plugin API it targets as a module attribute
``QAUDIT_API = "MAJOR"`` or ``"MAJOR.MINOR"`` (:func:`check_api`); a different major
version, or a newer minor version than :data:`qaudit.sdk.hookspecs.API_VERSION`, is
refused with a message naming both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from qaudit.sdk import hookspecs
from qaudit.sdk.errors import PluginError, QauditError
from qaudit.sdk.hookspecs import API_VERSION

ENTRY_POINT_GROUP = "qaudit"
DISABLE_ENV = "QAUDIT_DISABLE_PLUGINS"
ALLOW_ENV = "QAUDIT_PLUGINS"
#: schema tag of ``qaudit plugins --json`` (bump on incompatible changes)
PLUGINS_SCHEMA = "qaudit.plugins/1"

#: registry kind -> hook name
KINDS = {
    "model": "register_models",
    "dataset": "register_datasets",
    "backend": "register_backends",
    "attack": "register_attacks",
    "unlearning": "register_unlearning_methods",
    "reporter": "register_reporters",
    "importer": "register_importers",
    "executor": "register_executors",
}


@dataclass
class PluginInfo:
    """What ``qaudit plugins`` shows for one plugin.

    ``status`` is ``"ok"``, ``"failed"`` (``error`` holds the one-line reason) or
    ``"disabled"`` (by ``--disable-plugin``, ``$QAUDIT_DISABLE_PLUGINS`` or not in
    ``$QAUDIT_PLUGINS``; a disabled plugin is never imported).
    """

    name: str
    module: str
    version: str
    distribution: str
    registers: dict[str, list[str]] = field(default_factory=dict)
    error: str | None = None
    disabled: bool = False
    api: str | None = None

    @property
    def status(self) -> str:
        """``"disabled"``, ``"failed"`` or ``"ok"``."""
        if self.disabled:
            return "disabled"
        return "failed" if self.error else "ok"

    def to_json(self) -> dict[str, Any]:
        """One row of ``qaudit plugins --json`` (keys are part of the stable schema)."""
        return {"name": self.name, "module": self.module, "version": self.version,
                "distribution": self.distribution, "status": self.status, "api": self.api,
                "registers": {k: list(v) for k, v in sorted(self.registers.items())}, "error": self.error}


@dataclass
class Entry:
    """A registered class and the name of the plugin that registered it."""

    obj: Any
    plugin: str


def _split_env(name: str) -> set[str]:
    return {part.strip() for part in os.environ.get(name, "").split(",") if part.strip()}


def disabled_from_argv(argv: Sequence[str]) -> list[str]:
    """Plugin names given to ``--disable-plugin``/``-p`` anywhere in *argv* (also comma lists)."""
    names: list[str] = []
    for i, arg in enumerate(argv):
        if arg in ("--disable-plugin", "-p") and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--disable-plugin="):
            value = arg.split("=", 1)[1]
        else:
            continue
        names += [part.strip() for part in value.split(",") if part.strip()]
    return names


def check_api(name: str, declared: Any) -> None:
    """Raise PluginError unless a plugin declaring ``QAUDIT_API = declared`` can run here.

    Compatible means: same major version, and a minor version no newer than
    :data:`qaudit.sdk.hookspecs.API_VERSION` (a plugin written for x.2 may use hooks x.1 lacks); a bare
    major version (``"2"``) means minor version 0. No declaration is not checked.
    """
    if declared is None:
        return
    ours = [int(p) for p in API_VERSION.split(".")]
    try:
        parts = [int(p) for p in str(declared).strip().split(".")]
        if not 1 <= len(parts) <= 2 or min(parts) < 0:
            raise ValueError
    except ValueError:
        raise PluginError(f"plugin {name!r} declares QAUDIT_API = {declared!r}; expected a version "
                          f"such as {API_VERSION.split('.')[0]!r} or {API_VERSION!r}") from None
    major, minor = parts[0], parts[1] if len(parts) > 1 else 0
    if major != ours[0] or minor > ours[1]:
        raise PluginError(
            f"plugin {name!r} targets qaudit plugin API {declared}, this qaudit provides "
            f"{API_VERSION}; upgrade the plugin or qaudit, or disable it with --disable-plugin {name}"
        )


class Host:
    """A facade over pluggy's PluginManager with named registries per kind.

    ``disabled``/``allow`` name plugins to skip / the only plugins to load; with
    ``env=True`` (the CLI) ``$QAUDIT_DISABLE_PLUGINS`` and ``$QAUDIT_PLUGINS`` add
    to them, with ``env=False`` (``qaudit.sdk.testing``) the environment is ignored.
    """

    def __init__(self, disabled: Iterable[str] = (), allow: Iterable[str] | None = None, env: bool = True):
        self.pm = pluggy.PluginManager("qaudit")
        self.pm.add_hookspecs(hookspecs)
        self.env = env
        self.disabled = set(disabled) | (_split_env(DISABLE_ENV) if env else set())
        allow_env = _split_env(ALLOW_ENV) if env else set()
        self.allow = set(allow) if allow is not None else (allow_env or None)
        self.plugins: dict[str, PluginInfo] = {}
        self._registries: dict[str, dict[str, Entry]] = {}
        self._local: list[tuple[Any, str, str]] = []
        self._entry_points_loaded = False

    # -- loading ---------------------------------------------------------------
    def load_entry_points(self) -> Host:
        """Import and register every plugin advertised under the ``qaudit`` group."""
        self._entry_points_loaded = True
        for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in self.plugins:
                continue
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                version=getattr(dist, "version", "?") if dist else "?",
                distribution=getattr(dist, "name", "?") if dist else "?",
            )
            self.plugins[ep.name] = info
            if not self._wanted(ep.name):
                info.disabled = True
                continue
            try:
                module = ep.load()
                self._admit(ep.name, module, info)
            except (Exception, SystemExit) as exc:  # a broken plugin is reported, never fatal
                info.error = _one_line(exc)
        self._registries.clear()
        return self

    def register(self, plugin: Any, name: str | None = None, version: str = "local") -> PluginInfo:
        """Register an in-process plugin object (tests, scripts, ``qaudit.sdk.testing``).

        Like an entry point it is checked (API version, hook signatures) and a
        failure is recorded in ``load_errors`` instead of raised. Registering the
        same object twice (e.g. it is also installed) is a no-op.
        """
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        if self.pm.is_registered(plugin):
            return self.plugins.get(self.pm.get_name(plugin) or name) or PluginInfo(name, name, version, "?")
        self._local.append((plugin, name, version))
        info = PluginInfo(name=name, module=getattr(plugin, "__name__", repr(plugin)),
                          version=version, distribution="(in-process)")
        self.plugins[name] = info
        if not self._wanted(name):
            info.disabled = True
            return info
        try:
            self._admit(name, plugin, info)
        except Exception as exc:
            info.error = _one_line(exc)
        self._registries.clear()
        return info

    def unregister(self, name: str) -> None:
        """Forget plugin *name* (no-op if it is unknown)."""
        plugin = self.pm.get_plugin(name)
        if plugin is not None:
            self.pm.unregister(plugin)
        self.plugins.pop(name, None)
        self._local = [item for item in self._local if item[1] != name]
        self._registries.clear()

    def derive(self, disabled: Iterable[str] = (), allow: Iterable[str] | None = None) -> Host:
        """A new host with the same sources (entry points, in-process plugins) and more disabled."""
        other = Host(disabled=self.disabled | set(disabled), allow=self.allow if allow is None else allow,
                     env=False)
        if self._entry_points_loaded:
            other.load_entry_points()
        for plugin, name, version in self._local:
            other.register(plugin, name, version)
        return other

    def _admit(self, name: str, module: Any, info: PluginInfo) -> None:
        declared = getattr(module, "QAUDIT_API", None)
        info.api = None if declared is None else str(declared)
        check_api(name, declared)
        self.pm.register(module, name=name)

    def _wanted(self, name: str) -> bool:
        if name in self.disabled:
            return False
        return self.allow is None or name in self.allow

    @staticmethod
    def _check_api(name: str, module: Any) -> None:
        check_api(name, getattr(module, "QAUDIT_API", None))

    @property
    def load_errors(self) -> dict[str, str]:
        """plugin name -> one-line reason it failed to import or register."""
        for kind in KINDS:
            try:
                self.registry(kind)
            except PluginError:  # duplicate names: recorded on the plugins by registry()
                pass
        return {name: info.error for name, info in self.plugins.items() if info.error}

    @property
    def unknown_disabled(self) -> list[str]:
        """Names in the disable/allow lists that match no known plugin (likely typos)."""
        names = self.disabled | (self.allow or set())
        return sorted(n for n in names if n not in self.plugins)

    def describe(self) -> dict[str, Any]:
        """The ``qaudit plugins --json`` document (schema ``qaudit.plugins/1``)."""
        self.load_errors  # noqa: B018 - build every registry so registration failures are recorded
        return {
            "schema": PLUGINS_SCHEMA,
            "api_version": API_VERSION,
            "plugins": [info.to_json() for _, info in sorted(self.plugins.items())],
            "warnings": [f"plugin {n!r} named in the disable/allow list is not installed"
                         for n in self.unknown_disabled],
        }

    # -- registries ------------------------------------------------------------
    def registry(self, kind: str) -> dict[str, Entry]:
        """name -> Entry for one kind; built on first use by calling the register hook.

        A plugin whose hook raises is marked failed and contributes nothing to
        this kind; two plugins registering one name raise :class:`PluginError`
        naming both.
        """
        if kind in self._registries:
            return self._registries[kind]
        if kind not in KINDS:
            raise QauditError(f"unknown plugin kind {kind!r} (kinds: {', '.join(KINDS)})")
        entries: dict[str, Entry] = {}
        conflict: str | None = None
        for info in self.plugins.values():
            info.registers.pop(kind, None)
        for impl in getattr(self.pm.hook, KINDS[kind]).get_hookimpls():  # registration order
            for label, obj in self._collect(kind, impl):
                clash = self._add_entry(entries, kind, label, obj, impl.plugin_name)
                conflict = conflict or clash
        if conflict:
            for info in self.plugins.values():
                info.registers.pop(kind, None)
            raise PluginError(conflict)
        self._registries[kind] = entries
        return entries

    def _collect(self, kind: str, impl: Any) -> list[tuple[str, Any]]:
        """What one plugin's register hook registers; a failing hook marks the plugin failed."""
        collected: list[tuple[str, Any]] = []

        def register(obj: Any, name: str | None = None) -> None:
            label = name or getattr(obj, "name", None)
            if not isinstance(label, str) or not label:
                raise PluginError(f"registered {kind} {obj!r} has no name")
            collected.append((label, obj))

        try:
            impl.function(register=register)
        except (Exception, SystemExit) as exc:
            info = self.plugins.get(impl.plugin_name)
            if info is not None:
                info.error = f"{KINDS[kind]} failed: {_one_line(exc)}"
            return []
        return collected

    def _add_entry(self, entries: dict[str, Entry], kind: str, label: str, obj: Any, plugin_name: str) -> str | None:
        """Add one registration; return the conflict message when *label* is taken."""
        if label in entries:
            other = entries[label].plugin
            conflict = (f"{kind} {label!r} is registered by two plugins: {other!r} and {plugin_name!r}; "
                        "disable one with --disable-plugin")
            for who in (other, plugin_name):
                if who in self.plugins:
                    self.plugins[who].error = conflict
            return conflict
        entries[label] = Entry(obj, plugin_name)
        info = self.plugins.get(plugin_name)
        if info is not None:
            info.registers.setdefault(kind, []).append(label)
        return None

    def with_role(self, kind: str, role: str) -> list[str]:
        """Registered names of *kind* whose class declares *role* in ``roles`` (sorted).

        Roles are how plugins declare the host's defaults: attacks ``default`` /
        ``fast`` / ``verification``, backends ``default`` / ``shots``, unlearning
        methods ``default`` / ``oracle``, models and datasets ``default``, reporters ``console``,
        executors ``default`` / ``inline`` / ``scheduler``.
        """
        return sorted(name for name, entry in self.registry(kind).items()
                      if role in (getattr(entry.obj, "roles", None) or ()))

    def role(self, kind: str, role: str) -> str:
        """The one registered name of *kind* declaring *role*; a one-line error if none or several do."""
        names = self.with_role(kind, role)
        if len(names) != 1:
            found = f"several ({', '.join(names)})" if names else "none"
            raise QauditError(f"no single {kind} declares the role {role!r} ({found}): install or enable the "
                              f"plugin that provides it, or name the {kind} explicitly")
        return names[0]

    def names(self, kind: str) -> list[str]:
        """Sorted registered names of one kind."""
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
        hint = ""
        failed = sorted(n for n, i in self.plugins.items() if i.error)
        if failed:
            hint = f"; plugin(s) {', '.join(failed)} failed to load, see `qaudit plugins`"
        raise QauditError(f"unknown {kind} {name!r} (available: {known}){hint}")

    def commands(self, app: Any) -> None:
        """Let plugins add CLI subcommands; failures are recorded, not raised.

        A hook that raises contributes no commands; a command whose name is
        already taken (a built-in or another plugin's) is dropped and reported,
        so a plugin can never shadow ``train`` or ``leak``.
        """
        registered = getattr(app, "registered_commands", None)
        for impl in self.pm.hook.register_commands.get_hookimpls():
            info = self.plugins.get(impl.plugin_name)
            before = list(registered) if registered is not None else []
            try:
                impl.function(app=app)
            except (Exception, SystemExit) as exc:
                if registered is not None:
                    registered[:] = before
                if info is not None:
                    info.error = f"register_commands failed: {_one_line(exc)}"
                continue
            if registered is None:
                continue
            taken = {_command_name(c) for c in before}
            added = registered[len(before):]
            clashes = [c for c in added if _command_name(c) in taken]
            if clashes:
                registered[:] = before + [c for c in added if c not in clashes]
                if info is not None:
                    names = ", ".join(sorted({_command_name(c) for c in clashes}))
                    info.error = f"register_commands: command(s) {names} already exist; not added"
            if info is not None:
                new = [_command_name(c) for c in added if c not in clashes]
                if new:
                    info.registers["command"] = sorted(new)

    def call_load_model(self, path: str, document: Any) -> Any:
        """Ask ``load_model`` hooks for a foreign model format (first non-None wins)."""
        return self.pm.hook.load_model(path=path, document=document)


def _command_name(command: Any) -> str:
    """The CLI name of a typer ``CommandInfo`` (explicit name or derived from the function)."""
    if getattr(command, "name", None):
        return str(command.name)
    callback = getattr(command, "callback", None)
    return getattr(callback, "__name__", "?").lower().replace("_", "-")


def _one_line(exc: BaseException, limit: int = 400) -> str:
    """``Type: message`` on one line (a multi-line message is joined with ' | ')."""
    text = " | ".join(line.strip() for line in str(exc).strip().splitlines() if line.strip())
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(exc).__name__}: {text}".rstrip(": ")


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


def name_or_default(kind: str, role: str, name: str | None, flag: str) -> str:
    """*name* as given, or (None) the registered *kind* declaring *role*. An empty or blank name is a one-line
    error naming *flag*: ``--method ''`` must not quietly mean the default."""
    if name is None:
        return get_host().role(kind, role)
    if not str(name).strip():
        raise QauditError(f"{flag} is empty: name a {kind} (see `qaudit plugins`) or leave the option out for "
                          f"the default")
    return name


def set_host(host: Host | None) -> None:
    """Replace the process-wide host (used by tests and ``qaudit.sdk.testing``)."""
    global _HOST
    _HOST = host
