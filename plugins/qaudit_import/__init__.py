"""Built-in importers: PennyLane (QNodes and PyTorch modules around them) and Qiskit (QPY circuits).

Registered through the ``qaudit`` entry-point group like any third-party importer. The frameworks are
optional extras (``pip install "qaudit[pennylane]"``, ``"qaudit[qiskit]"``) imported only inside
``load``; this module imports nothing heavy, so ``qaudit --help`` stays fast.
"""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2.1"


@hookimpl
def register_importers(register):
    from qaudit_import.from_pennylane import PennyLaneImporter
    from qaudit_import.from_qiskit import QiskitImporter

    register(PennyLaneImporter)
    register(QiskitImporter)
