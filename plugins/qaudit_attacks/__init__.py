"""Built-in membership-inference attacks (registered through the ``qaudit`` entry-point group).

* ``gray-box`` -- the paper's attack (13 output features, MLP 64-64).
* ``loss``, ``confidence``, ``entropy`` -- threshold attacks (Yeom et al. 2018; Song & Mittal 2021).
* ``shadow`` -- shadow QNNs on disjoint population data + an attack classifier (Shokri et al. 2017).
* ``lira``, ``lira-offline`` -- likelihood-ratio attack with reference QNNs (Carlini et al. 2022),
  shot-aware: finite-shot noise of the target's readout is added to the Gaussians.
* ``rmia`` -- relative membership inference with reference QNNs and population z-samples
  (Zarifzadeh et al. 2024).
* ``counts-lr`` -- a likelihood-ratio test on the raw bit-string counts of a finite-shot run.
* ``quantile`` -- quantile regression on non-member scores (Bertran et al. 2023): no reference
  models, FPR = alpha by construction; ``class_level`` mode for forgetting a whole class.
"""

from __future__ import annotations

from qaudit.sdk import hookimpl

QAUDIT_API = "2"


@hookimpl
def register_attacks(register):
    from qaudit_attacks.graybox import GrayBoxAttack
    from qaudit_attacks.quantile import QuantileRegressionAttack
    from qaudit_attacks.reference import CountsLRAttack, LiRAAttack, LiRAOfflineAttack, RMIAAttack, ShadowAttack
    from qaudit_attacks.threshold import ConfidenceAttack, EntropyAttack, LossAttack

    for cls in (GrayBoxAttack, LossAttack, ConfidenceAttack, EntropyAttack, ShadowAttack, LiRAAttack,
                LiRAOfflineAttack, RMIAAttack, CountsLRAttack, QuantileRegressionAttack):
        register(cls)
