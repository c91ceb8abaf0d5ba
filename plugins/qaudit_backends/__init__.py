"""Built-in execution backends."""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_backends(register):
    from qaudit_backends.cirq_sim import CirqBackend, DensityMatrixBackend, NoisyBackend
    from qaudit_backends.exact import ExactBackend
    from qaudit_backends.qsim_backend import QsimBackend
    from qaudit_backends.sampled import SampledBackend

    for backend in (ExactBackend, SampledBackend, CirqBackend, QsimBackend, DensityMatrixBackend, NoisyBackend):
        register(backend)
