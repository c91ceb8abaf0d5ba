"""The paper's basic QNN: amplitude encoding, U3 + CNOT-ring layers, <Z> readout, dense head."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from qaudit.sdk import NESTEROV_TRAINING, CircuitClassifier, QauditError, apply_preprocessing, fit_pca, fit_standardize
from qaudit.sdk.engine import Gate


def u3_ring_gates(n_qubits: int, n_layers: int, prefix: str = "theta") -> tuple[list[Gate], list[str]]:
    """L layers of U3 on every qubit then CNOT(q, q+1 mod n) for q = 0..n-1, as the engine's gate list.

    U3(θ, φ, λ) is emitted as ``rz(λ)``, ``ry(θ)``, ``rz(φ)`` (equal up to a global
    phase). Symbols: ``{prefix}_{l}_{q}_{k}`` with k = 0 (θ), 1 (φ), 2 (λ); the
    returned name list is in (layer, qubit, k) order.
    """
    gates: list[Gate] = []
    names: list[str] = []
    for layer in range(n_layers):
        sym = [[f"{prefix}_{layer}_{q}_{k}" for k in range(3)] for q in range(n_qubits)]
        for s in sym:
            names += s
        gates += [Gate("rz", (q,), sym[q][2]) for q in range(n_qubits)]
        gates += [Gate("ry", (q,), sym[q][0]) for q in range(n_qubits)]
        gates += [Gate("rz", (q,), sym[q][1]) for q in range(n_qubits)]
        if n_qubits > 1:
            pairs = [(q, (q + 1) % n_qubits) for q in range(n_qubits)] if n_qubits > 2 else [(0, 1)]
            gates += [Gate("cnot", pair) for pair in pairs]
    return gates, names


def u3_ring_layers(qubits: list, n_layers: int, prefix: str = "theta") -> tuple[Any, list[str]]:
    """The ``cirq.Circuit`` of :func:`u3_ring_gates` on *qubits* (imports Cirq)."""
    from qaudit.sdk.engine import to_cirq

    gates, names = u3_ring_gates(len(qubits), n_layers, prefix)
    circuit, line = to_cirq(len(qubits), gates)
    return circuit.transform_qubits(dict(zip(line, qubits))), names


#: The constant feature appended to standardised tabular rows before L2 normalisation.
TABULAR_BIAS = 2.0


class BasicQNN(CircuitClassifier):
    """Paper basic QNN. Preprocessing (option ``scaling``):

    * ``pixel`` (images): scale pixels to [0, 1], PCA to 2**qubits features when the
      input is wider (pad when narrower), L2-normalise;
    * ``standard`` (tables): standardise every feature (mean/std of the training
      members), PCA to 2**qubits - 1 when wider, append a constant bias feature (so the
      row's norm survives), pad, L2-normalise;
    * ``auto`` (default): ``standard`` when the host says the training data is tabular
      (:attr:`data_kind`), else ``pixel``; ``fit`` records the resolved choice in the options.
    """

    name = "basic-qnn"
    roles: ClassVar[frozenset[str]] = frozenset({"default"})
    description = "Paper's basic QNN: amplitude encoding, U3 + CNOT-ring layers, <Z_j> readout, dense head"
    DEFAULTS = {
        "qubits": 8,
        "layers": 5,
        **NESTEROV_TRAINING,
        "pca": "auto",
        "scaling": "auto",  # "pixel" (images), "standard" (tables), "auto": from the training data's kind
        "head_init": "scaled",  # "normal": the paper's N(0, 1) for the head too (see CircuitClassifier.init_head)
        "noise": None,  # train/evaluate under a noise model: "paper" or "p1=..,p2=..,bitflip=.."
        "loss": "ce",  # "bce-multi": the authors' per-class binary cross-entropy (classifier.bce_multi_grad)
        "schedule": "epochs",  # "random-batch": each epoch is one step on one random batch (authors' code)
    }
    #: ``qaudit train --model basic-qnn --preset paper-code``: the training recipe of the authors' public code
    #: (github Sujun124/QMU e557acc, ``QNN/target_model_training.py`` lines 167-171 and ``QNN/Training.py``
    #: lines 45-51, 143-144, 174-182): 10 layers, every parameter N(0, 1), loss ``cross_entropy_multi``,
    #: 200 iterations of one random batch of 32, Nesterov momentum 0.9, step 0.05.
    PRESETS: ClassVar[dict[str, dict[str, Any]]] = {
        "paper-code": {"layers": 10, "loss": "bce-multi", "head_init": "normal", "schedule": "random-batch",
                       "epochs": 200, "batch_size": 32, "lr": 0.05, "momentum": 0.9, "nesterov": True},
    }

    def validate_options(self) -> None:
        super().validate_options()
        o = self.options  # qubits, layers, epochs, lr, batch_size, momentum, seed: CircuitClassifier.RANGES
        if o["head_init"] not in ("scaled", "normal"):
            raise QauditError("basic-qnn: head_init must be 'scaled' or 'normal'")
        if o["pca"] not in ("auto", "always", "never"):
            raise QauditError("basic-qnn: pca must be 'auto', 'always' or 'never'")
        if o["scaling"] not in ("auto", "pixel", "standard"):
            raise QauditError("basic-qnn: scaling must be 'auto', 'pixel' or 'standard'")
        from qaudit.sdk import LOSSES

        if o["loss"] not in LOSSES:
            raise QauditError(f"basic-qnn: loss must be one of {', '.join(sorted(LOSSES))}")
        if o["schedule"] not in ("epochs", "random-batch"):
            raise QauditError("basic-qnn: schedule must be 'epochs' or 'random-batch'")
        if o["noise"] is not None:
            from qaudit.sdk.engine import NoiseModel

            if not isinstance(o["noise"], str):
                raise QauditError("basic-qnn: noise must be a string ('paper' or p1=..,p2=..,bitflip=..)")
            NoiseModel.parse(o["noise"])

    def training_loss(self) -> Any:
        """Categorical cross-entropy (``ce``, ours) or the authors' ``bce-multi`` (option ``loss``)."""
        from qaudit.sdk import LOSSES

        return LOSSES[self.options["loss"]]

    def build_gates(self):
        self.validate_options()
        n = self.options["qubits"]
        gates, names = u3_ring_gates(n, self.options["layers"])
        return n, gates, names, [], [f"Z{q}" for q in range(n)]

    def fit_preprocessing(self, X: np.ndarray) -> list[dict[str, Any]]:
        if self.options["scaling"] == "auto":  # resolved once, so clones and retrains keep it
            self.options["scaling"] = "standard" if self.data_kind == "tabular" else "pixel"
        dim = 2 ** self.options["qubits"]
        steps: list[dict[str, Any]] = []
        standard = self.options["scaling"] == "standard"
        if standard:
            steps.append(fit_standardize(X))
        else:
            peak = float(np.max(np.abs(X))) if X.size else 0.0
            if peak > 1.0:
                steps.append({"op": "scale", "factor": 1.0 / peak})
        room = dim - 1 if standard and dim > 1 else dim  # the bias feature takes one amplitude
        width = X.shape[1]
        use_pca = self.options["pca"] == "always" or (self.options["pca"] == "auto" and width > room)
        if use_pca:
            k = min(room, width) if standard else dim
            steps.append(fit_pca(apply_preprocessing(steps, X), k, self.options["seed"]))
            width = steps[-1]["components"].shape[0]
        if standard and width < dim:
            steps.append({"op": "bias", "value": TABULAR_BIAS})
            width += 1
        if width < dim:
            steps.append({"op": "pad", "size": dim})
        elif width > dim:
            raise QauditError(f"basic-qnn: {width} features do not fit {self.options['qubits']} qubits "
                              f"(amplitude encoding takes {dim}); enable PCA")
        steps.append({"op": "l2"})
        return steps
