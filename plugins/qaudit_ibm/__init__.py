"""IBM Quantum backends through Qiskit Runtime: ``ibm:DEVICE`` (hardware, the saved account) and
``ibm-fake:FakeDEVICE`` (Runtime's local testing mode on a fake device). Optional extra ``qaudit[ibm]``;
``qiskit-ibm-runtime`` and ``qiskit-aer`` are imported only when one of these backends runs
(docs/hardware.md)."""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


def require_runtime() -> None:
    """One-line error when the ``ibm`` extra is not installed."""
    from qaudit.sdk import QauditError

    try:
        import qiskit_aer  # noqa: F401
        import qiskit_ibm_runtime  # noqa: F401
    except ImportError:
        raise QauditError('the IBM backends need qiskit-ibm-runtime and qiskit-aer: pip install "qaudit[ibm]"') \
            from None


@hookimpl
def register_backends(register):
    from qaudit_ibm.backends import IBMBackend, IBMFakeBackend

    register(IBMFakeBackend)
    register(IBMBackend)
