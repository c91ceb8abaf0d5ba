"""The testing sub-API: qaudit's conformance kit and test helpers, for a plugin's own test suite.

``check_model``, ``check_backend``, ``check_attack``, ``check_unlearning_method`` and ``check_reporter``
run a plugin's class through what the host will call; ``TinyModel``, ``sample_report``,
``synthetic_outputs`` and the CLI runner give small inputs. The pytest fixtures (``qaudit_host``,
``qaudit_register``, ``tiny_model``, ``cli_runner``, ...) come with the ``pytest11`` entry point of
:mod:`qaudit.testing` and need no import. Covered by :data:`qaudit.sdk.API_VERSION` like the rest of
:mod:`qaudit.sdk`: the names here are exactly ``qaudit.testing.__all__``.

Names are re-exported lazily (PEP 562), by name, from :mod:`qaudit.testing`.
"""

import importlib as _importlib
import sys as _sys
from typing import Any as _Any

_KIT = "qaudit.testing"


def _kit_names() -> list[str]:
    kit = _importlib.import_module(_KIT)
    return sorted(getattr(kit, "__all__", ()))


def __getattr__(name: str) -> _Any:
    if name == "__all__":
        value: _Any = _kit_names()
    elif name in _kit_names():
        value = getattr(_importlib.import_module(_KIT), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _sys.modules[__name__].__dict__[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_kit_names()))
