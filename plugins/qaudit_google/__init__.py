"""Google Quantum AI backends: offline virtual processors (``google:PROCESSOR``) and real
hardware through ``cirq_google.Engine`` (``google-engine:PROCESSOR``)."""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_backends(register):
    from qaudit_google.backends import GoogleEngineBackend, GoogleVirtualBackend

    register(GoogleVirtualBackend)
    register(GoogleEngineBackend)
