"""Isolated plugin hosts for tests: installed entry points plus the plugins under test, environment ignored."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from qaudit.sdk import host as plugins


def make_host(extra: Sequence[Any] | Mapping[str, Any] = (), disabled: Sequence[str] = (),
              allow: Sequence[str] | None = None) -> plugins.Host:
    """An isolated host: installed entry points plus *extra* plugin modules.

    The ``QAUDIT_DISABLE_PLUGINS``/``QAUDIT_PLUGINS`` environment variables are
    ignored, so tests do not depend on the developer's shell.
    """
    host = plugins.Host(disabled=disabled, allow=allow, env=False).load_entry_points()
    items = extra.items() if isinstance(extra, Mapping) else ((None, m) for m in extra)
    for name, module in items:
        _register_or_fail(host, module, name)
    return host


def _register_or_fail(host: plugins.Host, module: Any, name: str | None = None) -> plugins.PluginInfo:
    info = host.register(module, name=name)
    errors = host.load_errors
    if info.name in errors:
        raise AssertionError(f"plugin {info.name!r} failed to load: {errors[info.name]}")
    return info


@contextmanager
def using_host(host: plugins.Host) -> Iterator[plugins.Host]:
    """Make *host* the process-wide host inside the ``with`` block."""
    previous = plugins._HOST
    plugins.set_host(host)
    try:
        yield host
    finally:
        plugins.set_host(previous)
