"""Built-in execution backends."""

from __future__ import annotations

from qaudit import hookimpl

QAUDIT_API = "1"


@hookimpl
def register_backends(register):
    from qaudit_backends.exact import ExactBackend

    register(ExactBackend)
