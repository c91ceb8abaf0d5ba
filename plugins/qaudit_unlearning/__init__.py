"""Built-in unlearning methods (ga, ssd, rga, sisa, retrain, finetune) and the ``sisa`` model kind.

Registered through the ``qaudit`` entry-point group exactly like a third-party
plugin. Heavy imports happen inside the registered classes' methods.
"""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_unlearning_methods(register):
    from qaudit_unlearning.methods import (
        Finetune,
        GradientAscent,
        RelativeGradientAscent,
        Retrain,
        SelectiveSynapticDampening,
        SisaUnlearning,
    )

    for cls in (GradientAscent, SelectiveSynapticDampening, RelativeGradientAscent, SisaUnlearning, Retrain,
                Finetune):
        register(cls)


@hookimpl
def register_models(register):
    from qaudit_unlearning.sisa import SisaEnsemble

    register(SisaEnsemble)
