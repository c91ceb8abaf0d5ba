"""Built-in QNN model kinds (registered through the ``qaudit`` entry-point group)."""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_models(register):
    from qaudit_qnn.basic import BasicQNN
    from qaudit_qnn.hqnn import HQNN
    from qaudit_qnn.user_circuit import UserCircuit

    register(BasicQNN)
    register(HQNN)
    register(UserCircuit)
