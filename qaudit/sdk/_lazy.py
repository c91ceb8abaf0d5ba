"""Lazy re-exports (PEP 562) for the SDK modules.

Each SDK module declares ``name -> "module"`` or ``name -> "module:attribute"`` and gets a module-level
``__getattr__`` and ``__dir__`` from :func:`exports`. A name's home module is imported on first use, so
``import qaudit.sdk`` (done by every plugin at ``qaudit --help``) imports neither numpy nor Cirq.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def exports(owner: str, names: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the module *owner* re-exporting *names* lazily.

    A resolved name is cached in *owner*'s globals, so later lookups are plain attribute reads."""

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {owner!r} has no attribute {name!r}")
        module, _, attribute = target.partition(":")
        value = getattr(importlib.import_module(module), attribute or name)
        sys.modules[owner].__dict__[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(sys.modules[owner].__dict__) | set(names))

    return __getattr__, __dir__
